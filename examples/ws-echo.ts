/**
 * A WebSocket echo at any path: accepts (with the client's first
 * subprotocol, if any) and sends every text or binary message back as it
 * came. Plain HTTP requests get a short page.
 *
 *     npx egi serve examples/ws-echo.ts
 *     # ws://127.0.0.1:8000/ over HTTP/1.1 Upgrade, or over HTTP/2 (RFC 8441 extended CONNECT)
 */
import { Effect } from "effect"
import { type EgiScope, type Receive, type Send, unsupportedScope } from "../src/index.ts"

export default Effect.fnUntraced(function*(scope: EgiScope, receive: Receive, send: Send) {
  if (scope.type === "http") {
    yield* send({ type: "http.response.start", status: 200, headers: [["content-type", "text/plain"]] })
    return yield* send({ type: "http.response.body", body: new TextEncoder().encode("WebSocket echo: connect with ws://\n") })
  }
  if (scope.type !== "websocket") return yield* unsupportedScope(scope)
  while (true) {
    const event = yield* receive
    switch (event.type) {
      case "websocket.connect": {
        const subprotocol = scope.subprotocols[0]
        yield* send(subprotocol === undefined ? { type: "websocket.accept" } : { type: "websocket.accept", subprotocol })
        break
      }
      case "websocket.receive":
        yield* send(event.bytes !== undefined ? { type: "websocket.send", bytes: event.bytes } : { type: "websocket.send", text: event.text ?? "" })
        break
      case "websocket.disconnect":
        return
    }
  }
})
