/**
 * The async twin of examples/legacy.ts's `POST /upload`, for the shim
 * benchmark (bench/run.ts): hashes the body as `receive` yields it and
 * answers `{"bytes": N, "sha256": "…"}`.
 */
import { Effect } from "effect"
import { createHash } from "node:crypto"
import { type EgiScope, type Receive, type Send, unsupportedScope } from "../src/index.ts"

export default Effect.fnUntraced(function*(scope: EgiScope, receive: Receive, send: Send) {
  if (scope.type !== "http") return yield* unsupportedScope(scope)
  const hash = createHash("sha256")
  let bytes = 0
  while (true) {
    const event = yield* receive
    if (event.type !== "http.request") return
    hash.update(event.body)
    bytes += event.body.length
    if (!event.moreBody) break
  }
  yield* send({ type: "http.response.start", status: 200, headers: [["content-type", "application/json"]] })
  yield* send({ type: "http.response.body", body: new TextEncoder().encode(JSON.stringify({ bytes, sha256: hash.digest("hex") }) + "\n") })
})
