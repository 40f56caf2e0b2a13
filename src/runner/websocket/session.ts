/**
 * One WebSocket as the app sees it (spec.md §11): the `receive` and `send`
 * of a `websocket` scope over a handshake and, once accepted, a `ws`
 * WebSocket — whichever transport (HTTP/1.1 Upgrade, RFC 8441) made them.
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { STATUS_CODES } from "node:http"
import type { Writable } from "node:stream"
import type { WebSocket } from "ws"
import type { Receive, Send } from "../../protocol/app.ts"
import { type SendError, StreamClosedError } from "../../protocol/errors.ts"
import type { InboundEvent, OutboundEvent, WebsocketDisconnect } from "../../protocol/events.ts"
import type { Headers } from "../../protocol/headers.ts"
import { checkCorrelator, type WebSocketScope } from "../../protocol/scope.ts"
import type { WebSocketState } from "../../protocol/state.ts"
import { WebSocketSide } from "../../protocol/websocket.ts"
import type { RunnerOptions } from "../options.ts"
import { Fifo } from "../fifo.ts"
import { Inbox, type InboxSource } from "../inbox.ts"
import { corkForTurn } from "../turn-cork.ts"

/**
 * The transport's half of the opening handshake: `accept` completes it
 * (101 on HTTP/1.1, 200 on HTTP/2) and resolves with the open WebSocket, or
 * rejects when the client is gone; `deny` and `denyBody` answer with an
 * ordinary HTTP response instead; `onGone` reports a client that left
 * before any answer.
 */
export interface Handshake {
  /**
   * The connection's socket under the WebSocket on HTTP/1.1, which the
   * session corks for the turn before each message (turn-cork.ts); none on
   * HTTP/2, whose session batches its frames per turn itself.
   */
  readonly transport?: Writable
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
  /** Bytes of messages waiting for `receive` above which the socket stops being read (rule WS-20). */
  readonly receiveQueueBytes: number
  /** ms between the server's pings; 0 = none (rule WS-13). */
  readonly pingInterval: number
  /** ms a pong may take after a ping before the connection is dropped. */
  readonly pingTimeout: number
}

/** A session's limits from the runner's options. */
export const sessionLimits = (opts: RunnerOptions): SessionLimits => ({
  sendBuffer: opts.writeBufferSize,
  receiveQueue: 16,
  receiveQueueBytes: opts.wsMaxQueuedBytes,
  pingInterval: opts.wsPingInterval,
  pingTimeout: opts.wsPingTimeout
})

const EMPTY = new Uint8Array(0)
const utf8 = new TextEncoder()

/** The close codes of `ws`'s documented error codes (its `err.code`), for a `ws` whose errors no longer carry the code itself. */
const closeCodeOfWsError: Readonly<Record<string, number>> = {
  WS_ERR_UNSUPPORTED_MESSAGE_LENGTH: 1009,
  WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH: 1009,
  WS_ERR_INVALID_UTF8: 1007,
  WS_ERR_TOO_MANY_BUFFERED_PARTS: 1008,
  WS_ERR_UNEXPECTED_RSV_1: 1002,
  WS_ERR_UNEXPECTED_RSV_2_3: 1002,
  WS_ERR_INVALID_OPCODE: 1002,
  WS_ERR_EXPECTED_FIN: 1002,
  WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH: 1002,
  WS_ERR_EXPECTED_MASK: 1002,
  WS_ERR_UNEXPECTED_MASK: 1002,
  WS_ERR_INVALID_CLOSE_CODE: 1002
}

/**
 * The close code `ws` sent on a frame it refused (rules WS-11, WS-12,
 * WS-17), from its `error` event: `ws` hangs the code it passes to
 * `close()` on the error under its own `Symbol('status-code')` (receiver,
 * permessage-deflate); failing that, the code that goes with the error's
 * documented `err.code`. `undefined` for any other error (a write that
 * failed), which sends no close frame.
 */
export const sentCloseCode = (error: unknown): number | undefined => {
  if (typeof error !== "object" || error === null) return undefined
  for (const key of Object.getOwnPropertySymbols(error)) {
    const code = (error as Record<symbol, unknown>)[key]
    if (key.description === "status-code" && typeof code === "number" && Number.isInteger(code)) return code
  }
  const name = (error as { code?: unknown }).code
  return typeof name === "string" ? closeCodeOfWsError[name] : undefined
}

/** One WebSocket's events and state; the source of its own inbox (`poll`), as an exchange is. */
export class WebSocketSession implements InboxSource<InboundEvent> {
  /** Its place among the running apps (running.ts), −1 while its app does not run. */
  runningSlot = -1
  readonly scope: WebSocketScope
  readonly receive: Receive
  readonly send: Send
  /** The send side's rules and table-4 state (spec.md §11.3–§11.5), shared with `validate`. */
  readonly side: WebSocketSide
  /** The status of the handshake's answer (101/200, a denial's, 403), for the access log. */
  status = 0
  /** When the supervisor took its handshake (`performance.now()`, ms), for the access log's duration. */
  startedAt = 0
  private readonly handshake: Handshake
  private readonly limits: SessionLimits
  private socket: WebSocket | undefined = undefined
  private readonly inbox = new Fifo<InboundEvent>()
  /** The payload bytes of each event in `inbox` (a text message's UTF-8 length as it arrived; 0 for `websocket.connect`). */
  private readonly inboxBytes = new Fifo<number>()
  /** Their sum, counted against `receiveQueueBytes` (rule WS-20). */
  private queuedBytes = 0
  /** Receivers waiting for the next event (queued messages, then the sticky disconnect). */
  private readonly waiting: Inbox<InboundEvent>
  private disconnect: WebsocketDisconnect | undefined = undefined
  private paused = false
  /** The handshake was answered with an HTTP response (a refusal, a denial): there is no WebSocket, and a `send` meets table 4 (WS-7), not StreamClosedError. */
  private answeredWithHttp = false
  /** The code of the close frame `ws` sent on a frame it refused; the connection's end then reports 1006, as `ws` reads nothing after it. */
  private refusedFrame: number | undefined = undefined

  constructor(scope: WebSocketScope, handshake: Handshake, limits: SessionLimits) {
    this.scope = scope
    this.side = new WebSocketSide(scope)
    this.handshake = handshake
    this.limits = limits
    this.inbox.push({ type: "websocket.connect", connectionId: scope.connectionId, streamId: scope.streamId })
    this.inboxBytes.push(0)
    handshake.onGone(() => {
      if (this.state === "connecting" || this.state === "denying") this.closed(1006, "")
    })
    this.waiting = new Inbox(this)
    this.receive = this.waiting.take
    this.send = this.deferSend.bind(this)
  }

  /** `send`, bound to the session: not a function literal assigned to a property, which V8 pretenures (see the runner's Exchange `deferSend`). */
  private deferSend(event: OutboundEvent): Effect.Effect<void, SendError> {
    return Effect.suspend(() => this.onSend(event))
  }

  /** The next event (the inbox's `poll`): queued messages first, then the sticky disconnect (rule WS-5). */
  poll(): InboundEvent | undefined {
    const next = this.inbox.shift()
    this.queuedBytes -= this.inboxBytes.shift() ?? 0
    if (this.paused && this.inbox.size < this.limits.receiveQueue / 2 && this.queuedBytes <= this.limits.receiveQueueBytes / 2) {
      this.paused = false
      this.socket?.resume()
    }
    return next ?? this.disconnect
  }

  private push(event: InboundEvent, bytes: number): void {
    // The app waits and nothing is queued before it: straight to the app, not through the queue (issue 19).
    if (this.inbox.size === 0 && this.waiting.offer(event)) return
    this.inbox.push(event)
    this.inboxBytes.push(bytes)
    this.queuedBytes += bytes
    this.waiting.wake()
    if (!this.paused && (this.inbox.size >= this.limits.receiveQueue || this.queuedBytes > this.limits.receiveQueueBytes)) {
      // A slow app stops the reading of the socket (TCP, or the HTTP/2 stream window, pushes back; WS-20); nothing is dropped.
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

  /** Table 4's state (spec.md §11.5), held by the side. */
  get state(): WebSocketState {
    return this.side.state
  }
  set state(state: WebSocketState) {
    this.side.state = state
  }

  /**
   * `send`: a WebSocket the peer closed fails with StreamClosedError (as a
   * stream does, HTTP-9) — not one the app answered with a refusal or a
   * denial, which table 4 refuses (WS-7); then every rule, checked by the
   * side (the checks `validate` makes); then the socket.
   */
  private onSend(event: OutboundEvent): Effect.Effect<void, SendError> {
    if (this.disconnect !== undefined && !this.answeredWithHttp && checkCorrelator(event, this.scope) === undefined) {
      return Effect.fail(this.closedError())
    }
    const bad = this.side.check(event)
    if (bad !== undefined) return Effect.fail(bad)
    const was = this.state
    this.side.accept(event)
    switch (event.type) {
      case "websocket.accept": {
        const sub = event.subprotocol
        return Effect.callback<void, StreamClosedError>((resume) => {
          this.handshake.accept(sub, event.headers ?? []).then(
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
      case "websocket.send":
        return this.write(event.bytes ?? event.text!, event.bytes !== undefined)
      case "websocket.close":
        if (was === "connecting") this.refuse(403)
        else this.socket!.close(event.code ?? 1000, event.reason ?? "")
        return Effect.void
      case "websocket.http.response.start":
        this.status = event.status
        this.handshake.deny(event.status, event.headers ?? [])
        return Effect.void
      case "websocket.http.response.body":
        this.handshake.denyBody(event.body ?? EMPTY, event.moreBody !== true)
        if (event.moreBody !== true) this.answered()
        return Effect.void
      default:
        return Effect.void
    }
  }

  /**
   * Sends one message; waits while the socket's queue is over the bound
   * (rule WS-6). A message that leaves the queue within the bound however
   * it goes (queued bytes before it plus its own length, an upper bound of
   * its UTF-8 length for text) is sent without a callback and `send`
   * completes at once: a write callback costs `ws` and the socket a tick of
   * bookkeeping per message, and a completed Effect costs no suspension
   * (measured: bench/ws.ts, issue 19).
   */
  private write(data: Uint8Array | string, binary: boolean): Effect.Effect<void, StreamClosedError> {
    const socket = this.socket!
    // While the server is busy, the messages of one turn go out at its end with every other connection's (spec.md §8.7).
    if (this.handshake.transport !== undefined) corkForTurn(this.handshake.transport)
    const most = typeof data === "string" ? data.length * 3 : data.byteLength
    if (socket.bufferedAmount + most <= this.limits.sendBuffer) {
      socket.send(data, { binary })
      return Effect.void
    }
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
      const event: InboundEvent = isBinary
        ? { type: "websocket.receive", connectionId, streamId, bytes: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) }
        : { type: "websocket.receive", connectionId, streamId, text: data.toString() }
      this.push(event, data.byteLength)
    })
    socket.on("close", (code: number, reason: Buffer) => {
      this.stopPings()
      // After a frame it refused `ws` reads nothing more, so no close frame of the client's ever arrives: the app gets the code the server closed with (§11.2).
      if (code === 1006 && this.refusedFrame !== undefined) this.closed(this.refusedFrame, "")
      else this.closed(code, reason.toString("utf8"))
    })
    this.startPings(socket)
    socket.on("error", (error: unknown) => {
      // A frame `ws` refused (1002, 1007, 1009, …): it has sent its close frame with that code and stops reading; 'close' follows.
      // Only while open: after the app's (or the runner's) close the server's close frame carried that close's code.
      if (this.state === "open") this.refusedFrame ??= sentCloseCode(error)
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
    this.answered()
  }

  /**
   * The refusal or denial is complete (its last byte handed to the
   * transport): there never was a WebSocket, so `receive` yields
   * `websocket.disconnect` 1006 from now on (rules WS-18, WS-5).
   */
  private answered(): void {
    this.answeredWithHttp = true
    this.closed(1006, "")
  }

  /** Refused before the app is called (admission control, rule RUN-22): 503 with `retry-after` (seconds). */
  refuseOverloaded(retryAfter: string): void {
    this.state = "closed"
    this.status = 503
    this.handshake.deny(503, [["content-type", "text/plain"], ["retry-after", retryAfter]])
    this.handshake.denyBody(utf8.encode(`${STATUS_CODES[503]}\n`), true)
    this.answered()
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
