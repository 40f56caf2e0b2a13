/**
 * The app of the per-stream memory benchmark (bench/streams.ts): answers the
 * head and a first body chunk at once, then holds the stream open until the
 * client goes away (`receive` yields `http.disconnect`), as a long poll or
 * an event stream does.
 *
 *     egi serve bench/hold-app.ts --h2c
 */
import { Effect } from "effect"
import { type EgiScope, type Receive, type Send, unsupportedScope } from "../src/index.ts"

const first = new TextEncoder().encode("held\n")

export default Effect.fnUntraced(function*(scope: EgiScope, receive: Receive, send: Send) {
  if (scope.type !== "http") return yield* unsupportedScope(scope)
  yield* send({ type: "http.response.start", status: 200, headers: [["content-type", "text/plain"]] })
  yield* send({ type: "http.response.body", body: first, moreBody: true })
  // The request has no body: its one event, then the disconnect when the client resets the stream.
  while ((yield* receive).type !== "http.disconnect") {}
})
