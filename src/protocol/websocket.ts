/**
 * The send side of a `websocket` scope without I/O (spec.md §11.3–§11.5):
 * every rule an event the app sends must keep — table 4's order (via
 * `State.nextWebSocketState`), the correlator (CORE-3), a subprotocol the
 * client offered (WS-1), one of bytes/text (WS-4), a sendable close code and
 * reason (WS-10), a denial status and fields (WS-3, HTTP-5/6). The Node
 * runner's WebSocket session and `validate(app)` both ask it, so they cannot
 * disagree. `check(event)` moves nothing; `accept(event)` moves the state.
 *
 * @since 0.4.0
 */
import { LocalProtocolError } from "./errors.ts"
import type { OutboundEvent, WebsocketSend } from "./events.ts"
import { checkFields } from "./fields.ts"
import { checkCorrelator, type WebSocketScope } from "./scope.ts"
import { nextWebSocketState, type WebSocketInput, type WebSocketState } from "./state.ts"

const utf8 = new TextEncoder()

/** The largest close reason, bytes: a close frame's payload is at most 125 bytes, 2 of them the code (RFC 6455 §5.5). */
const MAX_REASON = 123

/**
 * Close codes an app may send (RFC 6455 §7.4): 1000–1003, 1007–1014 and
 * the 3000–4999 range of registered and private codes.
 *
 * @since 0.4.0
 * @category checks
 */
export const sendableCloseCode = (code: unknown): boolean =>
  Number.isInteger(code) &&
  (((code as number) >= 1000 && (code as number) <= 1003) || ((code as number) >= 1007 && (code as number) <= 1014) ||
    ((code as number) >= 3000 && (code as number) <= 4999))

/**
 * Table 4's input for an outbound event of a `websocket` scope, or
 * `undefined` for a type that is not one (CORE-6).
 *
 * @since 0.4.0
 * @category models
 */
export const websocketInputOf = (event: OutboundEvent): WebSocketInput | undefined => {
  switch (event.type) {
    case "websocket.accept":
    case "websocket.send":
    case "websocket.close":
    case "websocket.http.response.start":
      return event.type
    case "websocket.http.response.body":
      return event.moreBody === true ? "websocket.http.response.body" : "websocket.http.response.body.last"
    default:
      return undefined
  }
}

/**
 * The send-side state of one `websocket` scope, and the checks of what the
 * app sends on it.
 *
 * @since 0.4.0
 * @category models
 */
export class WebSocketSide {
  /** Table 4's state (spec.md §11.5). */
  state: WebSocketState = "connecting"
  private readonly scope: WebSocketScope

  constructor(scope: WebSocketScope) {
    this.scope = scope
  }

  /** The error `event` is in the current state — the first rule it breaks — or `undefined`. Moves nothing. */
  check(event: OutboundEvent): LocalProtocolError | undefined {
    const foreign = checkCorrelator(event, this.scope)
    if (foreign !== undefined) return foreign
    // A message while open, the event of nearly every call: table 4 keeps the state, so only WS-4 is left to check.
    if (event.type === "websocket.send" && this.state === "open") return this.checkMessage(event)
    const input = websocketInputOf(event)
    if (input === undefined) {
      return new LocalProtocolError({ rule: "CORE-6", detail: `event type ${String((event as { type: unknown }).type)} is not valid in a websocket scope` })
    }
    switch (event.type) {
      case "websocket.accept": {
        const sub = event.subprotocol
        if (sub !== undefined && !this.scope.subprotocols.includes(sub)) {
          return new LocalProtocolError({ rule: "WS-1", detail: `subprotocol ${JSON.stringify(sub)} was not offered by the client` })
        }
        const bad = checkFields(event.headers, "accept header")
        if (bad !== undefined) return bad
        break
      }
      case "websocket.send": {
        const bad = this.checkMessage(event)
        if (bad !== undefined) return bad
        break
      }
      case "websocket.close": {
        const code = event.code ?? 1000
        const reason = event.reason ?? ""
        if (this.state === "open" && (!sendableCloseCode(code) || typeof reason !== "string" || utf8.encode(reason).length > MAX_REASON)) {
          return new LocalProtocolError({ rule: "WS-10", detail: `close code ${code} or a reason over ${MAX_REASON} bytes cannot be sent` })
        }
        break
      }
      case "websocket.http.response.start": {
        const status = event.status
        if (!Number.isInteger(status) || status < 200 || status > 599) {
          return new LocalProtocolError({ rule: "WS-3", detail: `denial status ${status} is not an integer in 200–599` })
        }
        const bad = checkFields(event.headers, "denial header")
        if (bad !== undefined) return bad
        break
      }
      default:
        break
    }
    const next = nextWebSocketState(this.state, input)
    return typeof next === "string" ? undefined : next
  }

  /** A message carries exactly one of bytes and text (WS-4). */
  private checkMessage(event: WebsocketSend): LocalProtocolError | undefined {
    return (event.bytes === undefined) === (event.text === undefined)
      ? new LocalProtocolError({ rule: "WS-4", detail: "websocket.send needs exactly one of bytes and text" })
      : undefined
  }

  /** Moves the state for `event`, which `check` accepted. A message moves nothing: table 4 allows one only while open, and keeps it open. */
  accept(event: OutboundEvent): void {
    if (event.type === "websocket.send") return
    const input = websocketInputOf(event)
    if (input === undefined) return
    const next = nextWebSocketState(this.state, input)
    if (typeof next === "string") this.state = next
  }
}
