/**
 * Trailers both ways (spec.md §7.3) and never-indexed fields (§7.8).
 *
 * GET: a body, then an `x-checksum` trailer holding the body's SHA-256 hex.
 * POST: echoes the request body, then the request's trailers as response
 * trailers. Both set a `set-cookie`, which HTTP/2 sends as an HPACK literal
 * never indexed (RFC 7541 §7.1.3) by default.
 * Trailers are sent when the client asked for them with `te: trailers`.
 *
 *     npx egi serve examples/trailers.ts
 *     curl -s --raw -H 'te: trailers' http://127.0.0.1:8000/     # chunked trailer section
 *     nghttp -v -H 'te: trailers' http://127.0.0.1:8000/         # trailing HEADERS, END_STREAM
 */
import { Effect } from "effect"
import { createHash } from "node:crypto"
import { type EgiScope, type Headers, type Receive, type Send, unsupportedScope } from "../src/index.ts"

const body = new TextEncoder().encode("a body whose checksum follows it\n")
const checksum = createHash("sha256").update(body).digest("hex")
const cookie = ["set-cookie", "session=s3cr3t; HttpOnly; SameSite=Strict"] as const

export default Effect.fnUntraced(function*(scope: EgiScope, receive: Receive, send: Send) {
  if (scope.type !== "http") return yield* unsupportedScope(scope)
  const trailers = scope.extensions["http.response.trailers"] !== undefined
  if (scope.method !== "POST") {
    yield* send({ type: "http.response.start", status: 200, headers: [["content-type", "text/plain"], cookie], trailers })
    yield* send({ type: "http.response.body", body })
    if (trailers) yield* send({ type: "http.response.trailers", headers: [["x-checksum", checksum]] })
    return
  }
  yield* send({ type: "http.response.start", status: 200, headers: [["content-type", "application/octet-stream"], cookie], trailers })
  let received: Headers.Headers = []
  while (true) {
    const event = yield* receive
    if (event.type === "http.disconnect") return
    if (event.type === "http.request.trailers") {
      received = event.headers
      break
    }
    if (event.type !== "http.request") continue
    yield* send({ type: "http.response.body", body: event.body, moreBody: true })
    if (!event.moreBody && event.trailers !== true) break
  }
  yield* send({ type: "http.response.body" })
  if (trailers) yield* send({ type: "http.response.trailers", headers: received })
})
