/**
 * The half of an exchange below its send side: the state both directions
 * keep (held by the protocol core, `ResponseSide` and `RequestSide`), the
 * wire operations each protocol implements, and the receive side — the
 * request body pulled from a Node readable as the app asks for it (the read
 * credit, spec.md HTTP-11), the events of table 2, the length and size
 * limits, the sticky disconnect and what it says (HTTP-8, HTTP-30), the
 * stalled-body sweep. `Exchange` (exchange.ts) adds the send side.
 *
 * Hot path: no Effect.gen, no per-event closures.
 */
import type { Effect, Tracer } from "effect"
import { RemoteProtocolError } from "../protocol/errors.ts"
import type { HttpDisconnect, HttpRequest, HttpRequestTrailers, InboundEvent } from "../protocol/events.ts"
import { ErrorCode } from "../protocol/fields.ts"
import type { Headers } from "../protocol/headers.ts"
import { RequestSide } from "../protocol/http-request.ts"
import { ResponseSide } from "../protocol/http-response.ts"
import type { HttpScope } from "../protocol/scope.ts"
import type { RequestState, ResponseState } from "../protocol/state.ts"
import { Inbox, type InboxSource } from "./inbox.ts"
import { performance } from "node:perf_hooks"

const EMPTY = new Uint8Array(0)

/** Why a stream ended early, for the access log and the disconnect event. */
export type EndReason = "peer" | "malformed" | "too-large" | "timeout" | "shutdown" | "app-reset" | "app-failed" | "app-incomplete" | "file-error"

/**
 * How the peer's side ended a stream (spec.md §4.4): its RST_STREAM or
 * GOAWAY, with the RFC 9113 §7 code it sent, or the connection closed or
 * failed under the stream (no code: any code there would be the server's).
 */
export type PeerEnd =
  | { readonly end: "reset" | "goaway"; readonly errorCode: number }
  | { readonly end: "connection" }

/** A connection that closed or failed under the stream. */
export const CONNECTION_LOST: PeerEnd = { end: "connection" }

/** A stream closed under an incomplete response with no code of its own: the peer's RST_STREAM NO_ERROR. */
const RESET_NO_ERROR: PeerEnd = { end: "reset", errorCode: ErrorCode.NO_ERROR }

/**
 * Where an exchange reads its request body from: node:http's
 * IncomingMessage, a node:http2 stream, or the runner's own HTTP/1.1
 * connection — what of a Node readable the exchange uses.
 */
export interface BodySource {
  read(): Buffer | null
  readonly readableEnded: boolean
  on(event: "readable" | "end", listener: () => void): unknown
  off(event: "readable" | "end", listener: () => void): unknown
}

/**
 * What tells an exchange that its response side can take more (`drain`)
 * or is over — finished or gone (`close`): node's response or stream, or
 * the runner's own HTTP/1.1 exchange.
 */
export interface ResponseSink {
  on(event: "drain" | "close", listener: () => void): unknown
  off(event: "drain" | "close", listener: () => void): unknown
}

/**
 * An exchange's state, wire and receive side. Subclasses implement the
 * `wire*` methods (per protocol) and the send side.
 */
export abstract class ExchangeBase implements InboxSource<InboundEvent> {
  readonly scope: HttpScope
  readonly receive: Effect.Effect<InboundEvent>
  readonly startedAt: number

  /** The send side's rules and state (spec.md §4.5–§4.7), shared with `validate` and the in-memory client. */
  readonly core: ResponseSide
  /** The receive side's order and length rule (spec.md §4.3, §4.7 table 2), shared with `validate`. */
  readonly requestSide: RequestSide
  /** Status put on the wire; 0 while nothing was sent. */
  status = 0
  /** Response body bytes handed to the wire. */
  bytesOut = 0
  /** Set when the stream ended abnormally. */
  endReason: EndReason | undefined = undefined
  /** Its server span while its app runs traced (spec.md §8.10): what the streams it pushes link to. */
  span: Tracer.AnySpan | undefined = undefined
  /** Its place among the running apps (running.ts), −1 while its app does not run. */
  runningSlot = -1
  /** The stream whose push promise this stream answers (HTTP/2 server push), if any. */
  promisedBy: ExchangeBase | undefined = undefined

  protected readonly readable: BodySource
  /** Declared request Content-Length in bytes, or -1. */
  readonly contentLength: number
  /** The request body limit in bytes (RUN-8). */
  protected readonly maxBodySize: number
  /** The supervisor started the app (false for a request rejected up front). */
  admitted = false
  /** The request has no body at all (END_STREAM on HEADERS, or no length and no chunking). */
  protected readonly noBody: boolean
  /** The runner sent a complete response of its own (500, 400, 413). */
  protected answered = false
  /** The app asked for the request body at least once (node:http discards a body nobody touched by itself). */
  protected bodyTouched = false
  private armed = false
  /** The one listener of this exchange on its readable and sink (`onSourceEvent`), made when first needed. */
  private listener: (() => void) | undefined = undefined
  /** The sink's `close` is listened to (by a waiting receiver or `watchPeer`). */
  private closeWatched = false
  /** The peer ended its side in the middle of the body (`bodyCutShort`): the body ends where the source's buffer does. */
  private bodyCut = false
  /** The app's fiber, interrupted when the peer goes away while it is not waiting in `receive` (HTTP-15). */
  private peerWatcher: { interruptUnsafe(): unknown } | undefined = undefined
  /** Receivers waiting for the next event; `poll` says what is ready (the read credit, HTTP-11). */
  private readonly inbox: Inbox<InboundEvent>
  private disconnectEvent: HttpDisconnect | undefined = undefined
  /** Stall sweep: bytesIn at the last sweep and since when (ms), -1 when not waiting. */
  private stallBytes = 0
  private stallSince = -1
  /** Rate sweep (RUN-32): ms the app waited in the current window, bytesIn at its start, the last sweep (ms, -1: none). */
  private rateWaited = 0
  private rateBytes = 0
  private rateTick = -1

  constructor(scope: HttpScope, readable: BodySource, contentLength: number, noBody: boolean, maxBodySize: number) {
    this.scope = scope
    this.core = new ResponseSide(scope)
    this.requestSide = new RequestSide(contentLength)
    this.readable = readable
    this.contentLength = contentLength
    this.noBody = noBody
    this.maxBodySize = maxBodySize
    this.startedAt = performance.now()
    // Concurrent receivers are served in the order they asked; the exchange
    // is the inbox's source (`poll`), armed on the first wait (`onWait`).
    this.inbox = new Inbox(this)
    this.receive = this.inbox.take
  }

  // -------------------------------------------------------------------------
  // wire operations (per protocol)
  // -------------------------------------------------------------------------

  /**
   * Puts the response head on the wire; `endStream` when no body follows;
   * `contentLength` ≥ 0 adds a content-length field the app did not send.
   */
  protected abstract wireStart(status: number, headers: Headers, endStream: boolean, contentLength: number): void
  /** Writes a body chunk; false when the stream's buffer is full. */
  protected abstract wireWrite(chunk: Uint8Array): boolean
  /** Bytes written but not yet handed to the peer (node's writable buffer). */
  protected abstract wireQueued(): number
  /** Ends the response body, with a last chunk. */
  protected abstract wireEnd(chunk: Uint8Array): void
  /** The stream or its connection is closed (for whatever reason). */
  protected abstract wireClosed(): boolean
  /**
   * The stream can no longer carry the response: it closed before the app
   * completed it (the peer reset it or went away). Node ends the writable
   * side itself when a stream closes, so only our own state says whether the
   * response was complete.
   */
  wireGone(): boolean {
    return !this.responseComplete() && this.wireClosed()
  }

  /** Receive-side state (spec.md §4.7 table 2), held by the request side. */
  get request(): RequestState {
    return this.requestSide.state
  }

  /** Request body bytes delivered to the app. */
  get bytesIn(): number {
    return this.requestSide.received
  }

  /** Send-side state (spec.md §4.7 table 1), held by the core. */
  get response(): ResponseState {
    return this.core.state
  }
  set response(state: ResponseState) {
    this.core.state = state
  }

  /** The stream ended before the response did: the runner ended it, or the peer went away. */
  ended(): boolean {
    return this.endReason !== undefined || this.wireGone()
  }

  /** The response is complete: the app sent its last body, or the runner answered for it. */
  responseComplete(): boolean {
    return this.response === "done" || this.response === "reset" || this.answered
  }

  /** Resets the stream with an RFC 9113 code (HTTP/1.1: closes the connection). */
  abstract wireReset(code: number): void
  /** Ends the response with trailer fields (only when `trailersOnWire`). */
  protected abstract wireTrailers(headers: Headers): void
  /**
   * Promises a GET of `path` (RFC 9113 §8.4) and runs the app on it; yields
   * the promised stream ID, or undefined when push is impossible now.
   */
  protected abstract wirePush(path: string, headers: Headers): Effect.Effect<number | undefined>
  /** Sends a 103 Early Hints response with these `link` values (RFC 8297). */
  protected abstract wireEarlyHint(links: ReadonlyArray<string>): void
  /** Drains the connection (HTTP/2 GOAWAY; HTTP/1.1 close after this response). */
  protected abstract wireGoaway(): void
  /**
   * The app is done and left part of the request body unread (HTTP-35):
   * tell the client to stop sending it, after the complete response —
   * HTTP/2 RST_STREAM NO_ERROR (RFC 9113 §8.1), HTTP/1.1 close the
   * connection after the response (the rest of the body was never read).
   */
  protected abstract wireAbandonBody(): void

  /**
   * Called when the app's fiber ended: a request body that is still
   * arriving, and that the app will never read, is cut off after the
   * complete response (HTTP-35). Nothing to do when the body ended (all of
   * it arrived, read or not) or the stream is already over.
   */
  abandonUnreadBody(): void {
    if (!this.bodyStillArriving() || !this.responseComplete() || this.wireClosed()) return
    this.wireAbandonBody()
  }

  /** The request body has not ended yet: the app has not read to its end, and it has not all arrived. */
  protected bodyStillArriving(): boolean {
    return this.request === "receiving" && !this.noBody && !this.readable.readableEnded && !this.bodyCut
  }

  /**
   * The last body goes out while the request body is still arriving: a
   * protocol whose head can still say that the connection may close after
   * this response says so now (HTTP/1.1 `connection: close`); HTTP/2 needs
   * nothing.
   */
  protected wireMayAbandonBody(): void {}
  /**
   * The request body that ended was framed completely (HTTP/1.1: the last
   * chunk arrived; a body the client cut short with its FIN was ended by the
   * runner, spec.md §4.3). HTTP/2 frames every body completely.
   */
  protected bodyComplete(): boolean {
    return true
  }
  /** The request's trailer fields once its body ended (empty when none). */
  protected abstract requestTrailers(): Headers
  /**
   * How the peer's side ended the stream once it closed, if it did: its
   * RST_STREAM or its GOAWAY (with their codes), or the connection closing
   * or failing under it (spec.md §4.4). `undefined` while the stream is open
   * and when the runner ended it.
   */
  protected abstract peerEnd(): PeerEnd | undefined
  /** Puts a head that is still buffered on the wire (HTTP/1.1 holds it for the first body bytes). */
  protected wireFlush(): void {}
  /** The emitter of `drain` and `close` for the response side. */
  protected abstract get sink(): ResponseSink
  /** The response is complete on the wire. */
  protected abstract wireFinished(): boolean

  /** Reports a request the runner refuses (malformed, too large, too slow) to the server, which answers it. */
  protected abstract onRemoteError(error: RemoteProtocolError): void

  // -------------------------------------------------------------------------
  // receive
  // -------------------------------------------------------------------------

  /** A receiver is waiting in `receive`. */
  private waiting(): boolean {
    return this.inbox.waiting
  }

  private wake(): void {
    this.inbox.wake()
  }

  /**
   * A receiver starts waiting (the inbox's `onWait`): the exchange starts
   * listening to its stream's close and, while a request body is still
   * arriving, to that body. A receiver that waits after the body (for the
   * disconnect: a long poll, an event stream) waits for the close alone —
   * two listeners fewer to add and remove, each ~1,100 instructions on a
   * node:http2 stream.
   */
  onWait(): void {
    if (!this.armed && this.bodyStillArriving()) {
      this.armed = true
      const listener = this.listenerOf()
      this.readable.on("readable", listener)
      this.readable.on("end", listener)
    }
    this.watchClose()
  }

  /**
   * The exchange's one listener, for the body's `readable` and `end` and the
   * sink's `close`: one per stream, whatever it listens to, made when first
   * needed. `onSourceEvent` bound to the exchange: not a function literal
   * assigned to a property, which V8 would pretenure (see Exchange's
   * `deferSend`), and 48 bytes where a closure with its context is 96 (a
   * held stream's memory is mostly what it keeps, issue 19).
   */
  private listenerOf(): () => void {
    return (this.listener ??= this.onSourceEvent.bind(this))
  }

  /**
   * The app's fiber ended: the exchange stops listening to its body and its
   * stream (a receiver that waits after all arms them again). node:http2
   * keeps a closed stream a while after the response — long enough for
   * scavenges to find it, and to promote it to the old generation — and
   * every object the stream's listeners reach went with it: the exchange,
   * the scope, the request. Measured (h2c hello that waits once, one
   * request at a time): promoted 1,730 → 620 bytes per request, what raw
   * node:http2 itself promotes.
   */
  unwatch(): void {
    if (this.armed) {
      const listener = this.listener!
      this.readable.off("readable", listener)
      this.readable.off("end", listener)
      this.armed = false
    }
    if (this.closeWatched) {
      this.stopHearingClose()
      this.closeWatched = false
    }
    this.peerWatcher = undefined
  }

  private watchClose(): void {
    if (this.closeWatched) return
    this.closeWatched = true
    this.hearClose()
  }

  /**
   * Has `sinkClosed` called when the sink closes: a `close` listener on the
   * sink, unless the protocol hears its streams close another way (HTTP/2).
   */
  protected hearClose(): void {
    this.sink.on("close", this.listenerOf())
  }

  /** Stops what `hearClose` started. */
  protected stopHearingClose(): void {
    this.sink.off("close", this.listenerOf())
  }

  /** The sink closed (the stream is over, or its connection gone): what `hearClose` has called. */
  sinkClosed(): void {
    this.onSourceEvent()
  }

  /**
   * Something happened on the body or the stream: waiting receivers get
   * what is ready; and once the stream closed under an app that is not
   * waiting in `receive`, that app's fiber (`watchPeer`) is interrupted —
   * a waiting one learns it from `http.disconnect` instead (HTTP-15).
   */
  private onSourceEvent(): void {
    this.wake()
    const fiber = this.peerWatcher
    if (fiber === undefined || !this.wireGone() || this.request === "disconnected" || this.waiting()) return
    this.peerWatcher = undefined
    this.endReason ??= "peer"
    fiber.interruptUnsafe()
  }

  private event(body: Uint8Array, moreBody: boolean): HttpRequest {
    return { type: "http.request", connectionId: this.scope.connectionId, streamId: this.scope.streamId, body, moreBody }
  }

  /** The next inbound event if one is ready (spec.md §4.7 table 2); the inbox's source. */
  poll(): InboundEvent | undefined {
    switch (this.request) {
      case "disconnected":
        return this.disconnectEvent
      case "trailers": {
        if (this.response === "reset") return this.disconnect(undefined)
        this.requestSide.deliver("trailers")
        const event: HttpRequestTrailers = {
          type: "http.request.trailers",
          connectionId: this.scope.connectionId,
          streamId: this.scope.streamId,
          headers: this.requestTrailers()
        }
        return event
      }
      case "complete":
        if (this.response === "reset") return this.disconnect(undefined)
        // node:http2 may emit a stream's 'close' before its 'finish': a
        // closed wire ends the exchange as much as a finished response.
        if (this.wireGone()) return this.disconnect("peer")
        return this.wireClosed() || this.wireFinished() ? this.disconnect(undefined) : undefined
      case "receiving": {
        // The app reset its own stream: nothing more will arrive.
        if (this.response === "reset") return this.disconnect(undefined)
        const side = this.requestSide
        if (this.noBody) {
          side.deliver("last")
          return this.event(EMPTY, false)
        }
        this.bodyTouched = true
        const chunk: Buffer | null = this.readable.read()
        if (chunk !== null) {
          if (side.chunk(chunk.length) === "overrun") {
            return this.malformed("ContentLengthMismatch", `body exceeds content-length ${this.contentLength}`)
          }
          if (this.bytesIn > this.maxBodySize) {
            return this.remote(
              new RemoteProtocolError({
                reason: "BodyTooLarge",
                status: 413,
                code: ErrorCode.CANCEL,
                detail: `body exceeds ${this.maxBodySize} bytes`
              }),
              "too-large"
            )
          }
          side.deliver("more")
          return this.event(chunk, true)
        }
        // 'end' may have fired before any receiver armed the listeners.
        if (this.readable.readableEnded || this.bodyCut) {
          // 'end' can precede the close of a reset stream: only a stream that
          // is not reset and whose length matches has a complete body.
          if (this.peerEnd() !== undefined) return this.disconnect("peer")
          if (side.end() !== "ok") {
            // A body cut short by a connection that is gone is a lost connection, not a malformed request.
            if (this.wireGone()) return this.disconnect("peer")
            return this.malformed("ContentLengthMismatch", `body of ${this.bytesIn} bytes, content-length ${this.contentLength}`)
          }
          if (!this.bodyComplete()) return this.malformed("IncompleteBody", `body ended after ${this.bytesIn} bytes, before its last chunk`)
          if (this.requestTrailers().length > 0) {
            side.deliver("lastThenTrailers")
            return { ...this.event(EMPTY, false), trailers: true }
          }
          side.deliver("last")
          return this.event(EMPTY, false)
        }
        if (this.wireGone()) return this.disconnect("peer")
        return undefined
      }
    }
  }

  /**
   * The peer ended its side before the body was whole (an HTTP/1.1 FIN in
   * the middle of it): the body ends where what arrived ends. A receiver
   * waiting now reads on to that end and finds the request malformed; an
   * app running and not reading is told now, as one whose peer reset the
   * stream would be (HTTP-7, HTTP-15) — `http.disconnect` with `end:
   * "malformed"` for its next receive, 400 or a closed connection for the
   * client, and its fiber interrupted. Else it would run on unobserved
   * while the connection waits for its response. An app whose response is
   * complete is left to finish (the response stands, HTTP-35).
   */
  protected bodyCutShort(): void {
    this.bodyCut = true
    // A receiver waiting now reads to the cut, whatever else holds (its response may be complete, its app's main fiber ended).
    if (this.waiting()) return this.wake()
    const fiber = this.peerWatcher
    if (fiber === undefined || this.request !== "receiving" || this.responseComplete()) return
    this.malformed(
      this.contentLength >= 0 ? "ContentLengthMismatch" : "IncompleteBody",
      this.contentLength >= 0
        ? `the client ended its side before the body was whole (content-length ${this.contentLength})`
        : "the client ended its side before the body's last chunk"
    )
    this.peerWatcher = undefined
    fiber.interruptUnsafe()
  }

  private malformed(reason: "ContentLengthMismatch" | "IncompleteBody", detail: string): HttpDisconnect {
    return this.remote(
      new RemoteProtocolError({ reason, status: 400, code: ErrorCode.PROTOCOL_ERROR, detail }),
      "malformed"
    )
  }

  private remote(error: RemoteProtocolError, why: EndReason): HttpDisconnect {
    const event = this.disconnect(why)
    this.onRemoteError(error)
    return event
  }

  /**
   * Moves to `disconnected` (sticky, rule HTTP-8) and returns the event;
   * `why` names an early end (none when the exchange simply finished). The
   * event's `end` and `errorCode` follow spec.md §4.4 (HTTP-30): a code only
   * when the peer sent one.
   */
  private disconnect(why: EndReason | undefined): HttpDisconnect {
    if (this.disconnectEvent !== undefined) return this.disconnectEvent
    this.requestSide.deliver("disconnect")
    if (why !== undefined) this.endReason ??= why
    const reason = this.endReason
    const { connectionId, streamId } = this.scope
    if (reason === "peer") {
      const peer = this.peerEnd() ?? RESET_NO_ERROR
      this.disconnectEvent = peer.end === "connection"
        ? { type: "http.disconnect", connectionId, streamId, end: "connection" }
        : { type: "http.disconnect", connectionId, streamId, end: peer.end, errorCode: peer.errorCode }
    } else {
      // The app's own failure or early return (logged as such) is, to a receive still waiting, its stream reset by the app's side.
      const end = reason === "app-failed" || reason === "app-incomplete" ? "app-reset" : reason ?? "complete"
      this.disconnectEvent = { type: "http.disconnect", connectionId, streamId, end }
    }
    return this.disconnectEvent
  }

  /**
   * Ends the exchange for a request the runner refuses after its head was
   * admitted — HTTP/2 request trailers over the header-list limit (RUN-26):
   * a pending or the next `receive` gets `http.disconnect` with `why`, and
   * the server answers `error` (its status, or a reset) and logs it.
   */
  protected refuseRequest(error: RemoteProtocolError, why: EndReason): void {
    if (this.disconnectEvent !== undefined) return
    this.remote(error, why)
    this.wake()
  }

  /**
   * Called by the supervisor's periodic sweep (spec.md §8.3): a request body
   * that the app is waiting for and that has not grown for `timeoutMs` ends
   * the exchange with 408 (or a reset when the response has started).
   */
  checkStall(now: number, timeoutMs: number): void {
    if (this.request !== "receiving" || !this.waiting()) {
      this.stallSince = -1
      return
    }
    if (this.stallSince < 0 || this.bytesIn !== this.stallBytes) {
      this.stallBytes = this.bytesIn
      this.stallSince = now
      return
    }
    if (now - this.stallSince < timeoutMs) return
    this.remote(
      new RemoteProtocolError({
        reason: "BodyTimeout",
        status: 408,
        code: ErrorCode.CANCEL,
        detail: `no request body for ${timeoutMs} ms`
      }),
      "timeout"
    )
    this.wake()
  }

  /**
   * Called by the supervisor's periodic sweep (spec.md §8.3, rule RUN-32):
   * while the app waits for a request body and has not started its
   * response, the time it waits is added up; once that reaches `windowMs`,
   * the body must have brought `bytesPerSecond` over it, else the exchange
   * ends as a stalled one does (408, or a reset; `http.disconnect`
   * `timeout`), and a new window starts. Time the app is not waiting does
   * not count against the client, which flow control holds back then.
   */
  checkRate(now: number, bytesPerSecond: number, windowMs: number): void {
    const last = this.rateTick
    this.rateTick = now
    if (this.request !== "receiving" || this.status !== 0) {
      this.rateWaited = 0
      this.rateBytes = this.bytesIn
      return
    }
    if (last < 0 || !this.waiting()) return
    this.rateWaited += now - last
    if (this.rateWaited < windowMs) return
    const got = this.bytesIn - this.rateBytes
    if (got * 1000 >= bytesPerSecond * this.rateWaited) {
      this.rateWaited = 0
      this.rateBytes = this.bytesIn
      return
    }
    this.remote(
      new RemoteProtocolError({
        reason: "BodyTimeout",
        status: 408,
        code: ErrorCode.CANCEL,
        detail: `request body at ${Math.floor((got * 1000) / this.rateWaited)} bytes/s over ${this.rateWaited} ms, under the minimum ${bytesPerSecond} bytes/s`
      }),
      "timeout"
    )
    this.wake()
  }

  /**
   * Interrupts `fiber` (the app's) once when the peer closes or resets the
   * stream before the app learnt it from `receive` (HTTP-15). A pending
   * `receive` is answered with `http.disconnect` instead.
   */
  watchPeer(fiber: { interruptUnsafe(): unknown }): void {
    this.peerWatcher = fiber
    this.watchClose()
  }
}
