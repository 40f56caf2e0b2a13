// A consumer's own app, typed against the shipped declarations and served
// from its .ts source by `egi serve app.ts` (Node strips its types).
import { Effect } from "effect"
import { type EgiScope, type Receive, type Send, unsupportedScope } from "egi"

const encoder = new TextEncoder()

export default Effect.fnUntraced(function*(scope: EgiScope, receive: Receive, send: Send) {
  if (scope.type === "websocket") {
    // Echoes each text message prefixed (the WebSocket machinery loads from dist/ at this first handshake).
    while (true) {
      const event = yield* receive
      if (event.type === "websocket.connect") yield* send({ type: "websocket.accept" })
      else if (event.type === "websocket.receive") yield* send({ type: "websocket.send", text: `consumer ${event.text ?? ""}` })
      else return
    }
  }
  if (scope.type !== "http") return yield* unsupportedScope(scope)
  let size = 0
  while (true) {
    const event = yield* receive
    if (event.type !== "http.request") return
    size += event.body.length
    if (!event.moreBody) break
  }
  yield* send({ type: "http.response.start", status: 200, headers: [["content-type", "text/plain"]] })
  yield* send({ type: "http.response.body", body: encoder.encode(`consumer ${scope.httpVersion} ${size}`) })
})

/** Never called: proves the declarations are in force (were they `any`, the directive itself would be the error). */
export const typesResolve = (send: Send) =>
  // @ts-expect-error status is a number in the shipped declarations
  send({ type: "http.response.start", status: "200" })
