/**
 * One WebSocket as the app sees it (spec.md §11): the `receive` and `send`
 * of a `websocket` scope over a handshake and, once accepted, a `ws`
 * WebSocket — whichever transport (HTTP/1.1 Upgrade, RFC 8441) made them.
 */
import { Effect, Exit } from "effect"
import { STATUS_CODES } from "node:http"
import type { WebSocket } from "ws"
import type { Receive, Send } from "../protocol/app.ts"
import { LocalProtocolError, type SendError, StreamClosedError } from "../protocol/errors.ts"
import type { InboundEvent, OutboundEvent, WebsocketDisconnect } from "../protocol/events.ts"
import type { Headers } from "../protocol/headers.ts"
import { checkCorrelator, type WebSocketScope } from "../protocol/scope.ts"
import { nextWebSocketState, type WebSocketInput, type WebSocketState } from "../protocol/state.ts"
import { checkFields } from "../protocol/fields.ts"
import type { RunnerOptions } from "../runner/options.ts"
import { Inbox } from "../runner/inbox.ts"

/**
 * The transport's half of the opening handshake: `accept` completes it
 * (101 on HTTP/1.1, 200 on HTTP/2) and resolves with the open WebSocket, or
 * rejects when the client is gone; `deny` and `denyBody` answer with an
 * ordinary HTTP response instead; `onGone` reports a client that left
 * before any answer.
 */
export interface Handshake {
  accept(subprotocol: string | undefined, headers: Headers): Promise<WebSocket>
  deny(status: number, headers: Headers): void
  denyBody(body: Uint8Array, last: boolean): void
  onGone(listener: () => void): void
}

/** Session limits. */
export interface SessionLimits {
  /** Bytes queued on the socket above which `websocket.send` waits (rule WS-6). */
  readonly sendBuffer: number
  /** Messages waiting for `receive` above which the socket stops being read. */
  readonly receiveQueue: number
  /** ms between the server's pings; 0 = none (rule WS-13). */
  readonly pingInterval: number
  /** ms a pong may take after a ping before the connection is dropped. */
  readonly pingTimeout: number
}

/** A session's limits from the runner's options. */
export const sessionLimits = (opts: RunnerOptions): SessionLimits => ({
  sendBuffer: opts.writeBufferSize,
  receiveQueue: 16,
  pingInterval: opts.wsPingInterval,
  pingTimeout: opts.wsPingTimeout
})

const EMPTY = new Uint8Array(0)
const utf8 = new TextEncoder()

/** Close codes an app may send (RFC 6455 §7.4: 1000–1003, 1007–1014, 3000–4999). */
const sendableCode = (code: number): boolean =>
  Number.isInteger(code) && ((code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999))

/** One WebSocket's events and state. */
export class WebSocketSession {
  readonly scope: WebSocketScope
  readonly receive: Receive
  readonly send: Send
  state: WebSocketState = "connecting"
  /** The status of the handshake's answer (101/200, a denial's, 403), for the access log. */
  status = 0
  private readonly handshake: Handshake
  private readonly limits: SessionLimits
  private socket: WebSocket | undefined = undefined
  private readonly inbox: Array<InboundEvent>
  /** Receivers waiting for the next event (queued messages, then the sticky disconnect). */
  private readonly waiting: Inbox<InboundEvent>
  private disconnect: WebsocketDisconnect | undefined = undefined
  private paused = false

  constructor(scope: WebSocketScope, handshake: Handshake, limits: SessionLimits) {
    this.scope = scope
    this.handshake = handshake
    this.limits = limits
    this.inbox = [{ type: "websocket.connect", connectionId: scope.connectionId, streamId: scope.streamId }]
    handshake.onGone(() => {
      if (this.state === "connecting" || this.state === "denying") this.closed(1006, "")
    })
    this.waiting = new Inbox(() => this.take())
    this.receive = this.waiting.take
    this.send = (event) => Effect.suspend(() => this.onSend(event))
  }

  /** The next event: queued messages first, then the sticky disconnect (rule WS-5). */
  private take(): InboundEvent | undefined {
    const next = this.inbox.shift()
    if (this.paused && this.inbox.length < this.limits.receiveQueue / 2) {
      this.paused = false
      this.socket?.resume()
    }
    return next ?? this.disconnect
  }

  private push(event: InboundEvent): void {
    this.inbox.push(event)
    this.waiting.wake()
    if (!this.paused && this.inbox.length >= this.limits.receiveQueue) {
      // A slow app stops the reading of the socket (TCP, or the HTTP/2 stream window, pushes back).
      this.paused = true
      this.socket?.pause()
    }
  }

  /** The WebSocket is closed (either side) or the client left: the app gets `websocket.disconnect` once, then again and again. */
  private closed(code: number, reason: string): void {
    if (this.disconnect !== undefined) return
    this.state = "closed"
    this.disconnect = { type: "websocket.disconnect", connectionId: this.scope.connectionId, streamId: this.scope.streamId, code, reason }
    this.waiting.wake()
  }

  private closedError(): StreamClosedError {
    return new StreamClosedError({ connectionId: this.scope.connectionId, streamId: this.scope.streamId })
  }

  private advance(input: WebSocketInput): LocalProtocolError | undefined {
    const next = nextWebSocketState(this.state, input)
    if (typeof next !== "string") return next
    this.state = next
    return undefined
  }

  private onSend(event: OutboundEvent): Effect.Effect<void, SendError> {
    const foreign = checkCorrelator(event, this.scope)
    if (foreign !== undefined) return Effect.fail(foreign)
    if (this.disconnect !== undefined && this.state !== "denying") return Effect.fail(this.closedError())
    switch (event.type) {
      case "websocket.accept": {
        const sub = event.subprotocol
        if (sub !== undefined && !this.scope.subprotocols.includes(sub)) {
          return Effect.fail(new LocalProtocolError({ rule: "WS-1", detail: `subprotocol ${JSON.stringify(sub)} was not offered by the client` }))
        }
        const headers = event.headers ?? []
        const bad = checkFields(headers, "accept header")
        if (bad !== undefined) return Effect.fail(bad)
        const failed = this.advance("websocket.accept")
        if (failed !== undefined) return Effect.fail(failed)
        return Effect.callback<void, StreamClosedError>((resume) => {
          this.handshake.accept(sub, headers).then(
            (socket) => {
              this.status = this.scope.httpVersion === "2" ? 200 : 101
              this.attach(socket)
              resume(Effect.void)
            },
            () => {
              this.closed(1006, "")
              resume(Effect.fail(this.closedError()))
            }
          )
        })
      }
      case "websocket.send": {
        const { bytes, text } = event
        if ((bytes === undefined) === (text === undefined)) {
          return Effect.fail(new LocalProtocolError({ rule: "WS-4", detail: "websocket.send needs exactly one of bytes and text" }))
        }
        const failed = this.advance("websocket.send")
        if (failed !== undefined) return Effect.fail(failed)
        return this.write(bytes ?? text!, bytes !== undefined)
      }
      case "websocket.close": {
        const code = event.code ?? 1000
        const reason = event.reason ?? ""
        if (this.state === "open" && (!sendableCode(code) || utf8.encode(reason).length > 123)) {
          return Effect.fail(new LocalProtocolError({ rule: "WS-10", detail: `close code ${code} or a reason over 123 bytes cannot be sent` }))
        }
        const was = this.state
        const failed = this.advance("websocket.close")
        if (failed !== undefined) return Effect.fail(failed)
        if (was === "connecting") this.refuse(403)
        else this.socket!.close(code, reason)
        return Effect.void
      }
      case "websocket.http.response.start": {
        const status = event.status
        if (!Number.isInteger(status) || status < 200 || status > 599) {
          return Effect.fail(new LocalProtocolError({ rule: "WS-3", detail: `denial status ${status} is not an integer in 200–599` }))
        }
        const headers = event.headers ?? []
        const bad = checkFields(headers, "denial header")
        if (bad !== undefined) return Effect.fail(bad)
        const failed = this.advance("websocket.http.response.start")
        if (failed !== undefined) return Effect.fail(failed)
        this.status = status
        this.handshake.deny(status, headers)
        return Effect.void
      }
      case "websocket.http.response.body": {
        const last = event.moreBody !== true
        const failed = this.advance(last ? "websocket.http.response.body.last" : "websocket.http.response.body")
        if (failed !== undefined) return Effect.fail(failed)
        this.handshake.denyBody(event.body ?? EMPTY, last)
        return Effect.void
      }
      default:
        return Effect.fail(
          new LocalProtocolError({ rule: "CORE-6", detail: `event type ${String((event as { type: unknown }).type)} is not valid in a websocket scope` })
        )
    }
  }

  /** Sends one message; waits while the socket's queue is over the bound (rule WS-6). */
  private write(data: Uint8Array | string, binary: boolean): Effect.Effect<void, StreamClosedError> {
    const socket = this.socket!
    return Effect.callback<void, StreamClosedError>((resume) => {
      let done = false
      socket.send(data, { binary }, (error) => {
        // Flushed to the transport (or failed): a send that waited goes on.
        if (done) return
        done = true
        resume(error === undefined || error === null ? Effect.void : Effect.fail(this.closedError()))
      })
      if (socket.bufferedAmount <= this.limits.sendBuffer) {
        done = true
        resume(Effect.void)
      }
    })
  }

  private attach(socket: WebSocket): void {
    this.socket = socket
    socket.on("message", (data: Buffer, isBinary: boolean) => {
      const { connectionId, streamId } = this.scope
      this.push(
        isBinary
          ? { type: "websocket.receive", connectionId, streamId, bytes: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) }
          : { type: "websocket.receive", connectionId, streamId, text: data.toString("utf8") }
      )
    })
    socket.on("close", (code: number, reason: Buffer) => {
      this.stopPings()
      this.closed(code, reason.toString("utf8"))
    })
    this.startPings(socket)
    socket.on("error", () => {
      // 'close' follows with the code (1002, 1007, 1009, …).
    })
  }

  private pings: ReturnType<typeof setInterval> | undefined = undefined
  private pongWait: ReturnType<typeof setTimeout> | undefined = undefined

  /** Pings every `pingInterval` ms; a pong later than `pingTimeout` drops the connection (1006, rule WS-13). */
  private startPings(socket: WebSocket): void {
    const { pingInterval, pingTimeout } = this.limits
    if (pingInterval <= 0) return
    socket.on("pong", () => {
      if (this.pongWait !== undefined) clearTimeout(this.pongWait)
      this.pongWait = undefined
    })
    this.pings = setInterval(() => {
      if (this.pongWait !== undefined || socket.readyState !== socket.OPEN) return
      socket.ping()
      this.pongWait = setTimeout(() => socket.terminate(), pingTimeout)
      this.pongWait.unref()
    }, pingInterval)
    this.pings.unref()
  }

  private stopPings(): void {
    if (this.pings !== undefined) clearInterval(this.pings)
    if (this.pongWait !== undefined) clearTimeout(this.pongWait)
    this.pings = this.pongWait = undefined
  }

  /** Answers the handshake with a plain-text `status` response (refusal, failure, shutdown). */
  private refuse(status: number): void {
    this.status = status
    this.handshake.deny(status, [["content-type", "text/plain"]])
    this.handshake.denyBody(utf8.encode(`${STATUS_CODES[status] ?? "Denied"}\n`), true)
  }

  /** Graceful shutdown (rule WS-14): close 1001 when open, 503 when the handshake is still unanswered. */
  goingAway(): void {
    if (this.state === "open" && this.socket !== undefined) {
      this.state = "closed"
      this.socket.close(1001, "server shutting down")
    } else if (this.state === "connecting") {
      this.state = "closed"
      this.refuse(503)
    }
  }

  /**
   * The app's fiber ended: a handshake still unanswered is refused (403, or
   * 500 when the app failed; rule WS-8); a denial still open is ended; an
   * open WebSocket is closed (1000, or 1011 when the app failed).
   */
  finish(exit: Exit.Exit<void, unknown>): void {
    const failed = Exit.isFailure(exit)
    if (this.state === "connecting" && this.disconnect === undefined) {
      this.state = "closed"
      this.refuse(failed ? 500 : 403)
    } else if (this.state === "denying") {
      this.state = "closed"
      this.handshake.denyBody(EMPTY, true)
    } else if (this.socket !== undefined && this.socket.readyState === this.socket.OPEN) {
      this.socket.close(failed ? 1011 : 1000)
    }
  }
}
