/**
 * A per-stream upload rate limit of 1 MiB/s, from the pull model alone
 * (spec.md §7.6, rule HTTP-11): the app takes the next body chunk only when
 * its budget allows, and the runner reads no more from the client than the
 * app took plus one window and a bounded buffer — so the client's upload is
 * held to the limit, on HTTP/2 (flow control) and HTTP/1.1 (TCP) alike.
 * Answers `{"bytes": N, "seconds": S, "bytesPerSecond": R}`.
 *
 *     npx egi serve examples/upload-limit.ts
 *     head -c 5000000 /dev/zero | curl -s --http2-prior-knowledge -T - http://127.0.0.1:8000/
 *
 * `?rate=N` sets another limit in bytes per second.
 */
import { Effect } from "effect"
import { type EgiScope, type Receive, type Send, unsupportedScope } from "../src/index.ts"

/** The default limit: 1 MiB/s. */
export const RATE = 1024 * 1024

export default Effect.fnUntraced(function*(scope: EgiScope, receive: Receive, send: Send) {
  if (scope.type !== "http") return yield* unsupportedScope(scope)
  const asked = Number(new URLSearchParams(scope.queryString).get("rate"))
  const rate = Number.isFinite(asked) && asked > 0 ? asked : RATE
  const started = performance.now()
  let bytes = 0
  while (true) {
    // Take the next chunk only when the bytes so far are within budget.
    const due = started + (bytes / rate) * 1000 - performance.now()
    if (due > 0) yield* Effect.sleep(due)
    const event = yield* receive
    if (event.type === "http.disconnect") return
    if (event.type !== "http.request") continue
    bytes += event.body.length
    if (!event.moreBody) break
  }
  const seconds = (performance.now() - started) / 1000
  yield* send({ type: "http.response.start", status: 200, headers: [["content-type", "application/json"]] })
  yield* send({
    type: "http.response.body",
    body: new TextEncoder().encode(`${JSON.stringify({ bytes, seconds, bytesPerSecond: Math.round(bytes / seconds) })}\n`)
  })
})
