/**
 * Full duplex on one stream (spec.md rule HTTP-28): answers at once with a
 * 200 head, then echoes each request chunk the moment it arrives, while the
 * request is still coming — a client may wait for the echo of one chunk
 * before it sends the next, as a bidirectional (gRPC-style) stream does.
 *
 *     npx egi serve examples/duplex.ts
 *     # over HTTP/2; e.g. with node:http2: write "1", read "1", write "2", …
 */
import { Effect } from "effect"
import { type EgiScope, type Receive, type Send, unsupportedScope } from "../src/index.ts"

export default Effect.fnUntraced(function*(scope: EgiScope, receive: Receive, send: Send) {
  if (scope.type !== "http") return yield* unsupportedScope(scope)
  // The head goes out before any of the request body is read.
  yield* send({ type: "http.response.start", status: 200, headers: [["content-type", "application/octet-stream"]] })
  yield* send({ type: "http.response.body", body: new Uint8Array(0), moreBody: true })
  while (true) {
    const event = yield* receive
    if (event.type !== "http.request") return // the client went away
    yield* send({ type: "http.response.body", body: event.body, moreBody: event.moreBody })
    if (!event.moreBody) return
  }
})
