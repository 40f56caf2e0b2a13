/**
 * Streams the request body back as the response body, chunk by chunk as it
 * arrives (never the whole body in memory), with the request's content-type.
 *
 *     npx egi serve examples/echo.ts
 *     curl --http2-prior-knowledge -T file http://127.0.0.1:8000/
 */
import { Effect } from "effect"
import { type EgiScope, Headers, type Receive, type Send, unsupportedScope } from "../src/index.ts"

export default Effect.fnUntraced(function*(scope: EgiScope, receive: Receive, send: Send) {
  if (scope.type !== "http") return yield* unsupportedScope(scope)
  const contentType = Headers.get(scope.headers, "content-type")
  yield* send({
    type: "http.response.start",
    status: 200,
    headers: contentType === undefined ? [] : [["content-type", contentType]]
  })
  while (true) {
    const event = yield* receive
    if (event.type !== "http.request") return // the client went away
    yield* send({ type: "http.response.body", body: event.body, moreBody: event.moreBody })
    if (!event.moreBody) return
  }
})
