/**
 * One request/response exchange on one stream: the `receive`/`send` pair the
 * runner hands an app, over a Node readable (request body) and a wire
 * (response). HTTP/2 and HTTP/1.1 subclass it with their wire operations;
 * everything about event order, Content-Length policing, read credit and
 * backpressure is here, once (spec.md §4, §8.2).
 *
 * Hot path: no Effect.gen, no per-event closures beyond the Effect that
 * `send` must return.
 */
import { Effect } from "effect"
import type { Readable } from "node:stream"
import { FileSendError, LocalProtocolError, RemoteProtocolError, type SendError, StreamClosedError } from "../protocol/errors.ts"
import type {
  HttpDisconnect,
  HttpRequest,
  HttpRequestTrailers,
  HttpResponseEarlyHint,
  HttpResponsePathsend,
  HttpResponsePush,
  HttpResponseReset,
  HttpResponseTrailers,
  HttpResponseZerocopysend,
  InboundEvent,
  OutboundEvent
} from "../protocol/events.ts"
import { ErrorCode } from "../protocol/fields.ts"
import type { Headers } from "../protocol/headers.ts"
import { RequestSide } from "../protocol/http-request.ts"
import { ResponseSide } from "../protocol/http-response.ts"
import { preloadLink } from "../protocol/preload.ts"
import type { HttpScope } from "../protocol/scope.ts"
import type { RequestState, ResponseState } from "../protocol/state.ts"
import { planFile } from "./file-plan.ts"
import { Inbox } from "./inbox.ts"
import { openFile, type OpenedFile } from "./file-open.ts"
import { readAt } from "./file-read.ts"

const EMPTY = new Uint8Array(0)

/** Bytes of a file body read at a time (spec.md §7.9): node's own stream chunk. */
const FILE_CHUNK = 64 * 1024

/** Why a stream ended early, for the access log and the disconnect event. */
export type EndReason = "peer" | "malformed" | "too-large" | "timeout" | "shutdown" | "app-reset" | "file-error"

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

/** What the exchange needs from its server. */
export interface ExchangeHost {
  readonly maxBodySize: number
  /** `send` of a body chunk waits while more than this many bytes are queued (HTTP-10). */
  readonly writeBufferSize: number
  readonly onRemoteError: (ex: Exchange, error: RemoteProtocolError) => void
}

const reasonPhrase = (status: number): string =>
  status === 500 ? "Internal Server Error" : status === 413 ? "Content Too Large" : status === 408 ? "Request Timeout" : "Bad Request"

/** The request's `te` field lists `trailers` (RFC 9110 §10.1.4). */
const acceptsTrailers = (headers: Headers): boolean => {
  for (let i = 0; i < headers.length; i++) {
    const h = headers[i]!
    if (h[0] === "te" && /(^|,)\s*trailers\s*(;|,|$)/i.test(h[1])) return true
  }
  return false
}

/**
 * The shared half of an exchange. Subclasses implement the `wire*` methods.
 */
export abstract class Exchange {
  readonly scope: HttpScope
  readonly receive: Effect.Effect<InboundEvent>
  readonly send: (event: OutboundEvent) => Effect.Effect<void, SendError>
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

  protected readonly host: ExchangeHost
  protected readonly readable: Readable
  /** Declared request Content-Length in bytes, or -1. */
  readonly contentLength: number
  /** The supervisor started the app (false for a request rejected up front). */
  admitted = false
  /** The request has no body at all (END_STREAM on HEADERS, or no length and no chunking). */
  protected readonly noBody: boolean
  private pendingStatus = 0
  private pendingHeaders: Headers = []
  /** `link` values from pushes that could not be promised, added to the head (spec.md §7.1). */
  private pendingLinks: Array<string> | undefined = undefined
  /** Field names the app asked never to index, for the head and then the trailers (spec.md §7.8). */
  protected neverIndex: ReadonlyArray<string> | undefined = undefined
  /** Announced trailers go on the wire (the client sent `te: trailers`, the framing allows them). */
  protected trailersOnWire = false
  /** The app asked to close the connection after this response (HTTP/1.1 `http.goaway`). */
  protected closeConnection = false
  /** Stream IDs this stream promised (spec.md §7.10). */
  readonly pushed: Array<number> = []
  private eof = false
  private armed = false
  /** Receivers waiting for the next event; `poll` says what is ready (the read credit, HTTP-11). */
  private readonly inbox: Inbox<InboundEvent>
  private disconnectEvent: HttpDisconnect | undefined = undefined
  /** The runner sent a complete response of its own (500, 400, 413). */
  private answered = false
  /** Stall sweep: bytesIn at the last sweep and since when (ms), -1 when not waiting. */
  private stallBytes = 0
  private stallSince = -1

  constructor(scope: HttpScope, host: ExchangeHost, readable: Readable, contentLength: number, noBody: boolean) {
    this.scope = scope
    this.core = new ResponseSide(scope)
    this.requestSide = new RequestSide(contentLength)
    this.host = host
    this.readable = readable
    this.contentLength = contentLength
    this.noBody = noBody
    this.startedAt = performance.now()
    // Concurrent receivers are served in the order they asked; the source is armed on the first wait.
    this.inbox = new Inbox(() => this.poll(), () => {
      if (!this.armed) this.arm()
    })
    this.receive = this.inbox.take
    this.send = (event) => Effect.suspend(() => this.onSend(event))
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
  protected abstract get sink(): NodeJS.EventEmitter
  /** The response is complete on the wire. */
  protected abstract wireFinished(): boolean

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

  private arm(): void {
    this.armed = true
    const wake = (): void => this.wake()
    const r = this.readable
    r.on("readable", wake)
    r.on("end", () => {
      this.eof = true
      this.wake()
    })
    this.sink.on("close", wake)
  }

  private event(body: Uint8Array, moreBody: boolean): HttpRequest {
    return { type: "http.request", connectionId: this.scope.connectionId, streamId: this.scope.streamId, body, moreBody }
  }

  /** The next inbound event if one is ready (spec.md §4.7 table 2). */
  private poll(): InboundEvent | undefined {
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
        const chunk: Buffer | null = this.readable.read()
        if (chunk !== null) {
          if (side.chunk(chunk.length) === "overrun") {
            return this.malformed("ContentLengthMismatch", `body exceeds content-length ${this.contentLength}`)
          }
          if (this.bytesIn > this.host.maxBodySize) {
            return this.remote(
              new RemoteProtocolError({
                reason: "BodyTooLarge",
                status: 413,
                code: ErrorCode.CANCEL,
                detail: `body exceeds ${this.host.maxBodySize} bytes`
              }),
              "too-large"
            )
          }
          side.deliver("more")
          return this.event(chunk, true)
        }
        // 'end' may have fired before any receiver armed the listeners.
        if (this.eof || this.readable.readableEnded) {
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

  private malformed(reason: "ContentLengthMismatch" | "IncompleteBody", detail: string): HttpDisconnect {
    return this.remote(
      new RemoteProtocolError({ reason, status: 400, code: ErrorCode.PROTOCOL_ERROR, detail }),
      "malformed"
    )
  }

  private remote(error: RemoteProtocolError, why: EndReason): HttpDisconnect {
    const event = this.disconnect(why)
    this.host.onRemoteError(this, error)
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
      this.disconnectEvent = { type: "http.disconnect", connectionId, streamId, end: reason ?? "complete" }
    }
    return this.disconnectEvent
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
   * Calls `onGone` once when the peer closes or resets the stream before the
   * app learnt it from `receive` (HTTP-15). A pending `receive` is answered
   * with `http.disconnect` instead.
   */
  watchPeer(onGone: () => void): void {
    const sink = this.sink
    const onClose = (): void => {
      sink.off("close", onClose)
      // A waiting receiver is answered by arm()'s own close listener.
      if (!this.wireGone() || this.request === "disconnected" || this.waiting()) return
      this.endReason ??= "peer"
      onGone()
    }
    sink.on("close", onClose)
  }

  // -------------------------------------------------------------------------
  // send
  // -------------------------------------------------------------------------

  private closedError(): StreamClosedError {
    const peer = this.peerEnd()
    return peer === undefined || peer.end === "connection"
      ? new StreamClosedError({ connectionId: this.scope.connectionId, streamId: this.scope.streamId })
      : new StreamClosedError({ connectionId: this.scope.connectionId, streamId: this.scope.streamId, errorCode: peer.errorCode })
  }

  /**
   * `send`: the core checks every rule first (the same checks `validate`
   * makes); then a stream that is over fails with StreamClosedError
   * (HTTP-9); then the wire.
   */
  private onSend(event: OutboundEvent): Effect.Effect<void, SendError> {
    const core = this.core
    const bad = core.check(event)
    if (bad !== undefined) return Effect.fail(bad)
    switch (event.type) {
      case "http.response.start": {
        // The runner ended the stream (malformed, too large) or the peer went
        // away: the app learns it as a closed stream (HTTP-9).
        if (this.ended()) return Effect.fail(this.closedError())
        core.accept(event)
        if (event.neverIndex !== undefined) this.neverIndex = event.neverIndex
        this.pendingStatus = event.status
        this.pendingHeaders = event.headers ?? []
        if (event.trailers === true) {
          this.trailersOnWire = !core.bodyless && this.trailerFraming(core.declared) && acceptsTrailers(this.scope.headers)
        }
        return Effect.void
      }
      case "http.response.body": {
        if (this.ended()) return Effect.fail(this.closedError())
        core.accept(event)
        const more = event.moreBody === true
        const body = event.body ?? EMPTY
        const bodyless = core.bodyless
        // Trailers on the wire keep the stream open after the last body.
        const ends = !more && !this.trailersOnWire
        if (this.pendingStatus !== 0) {
          const contentLength = !more && !bodyless && core.declared < 0 && !this.trailersOnWire ? body.length : -1
          const endStream = bodyless ? !this.trailersOnWire : ends && body.length === 0
          const failed = this.flushHead(endStream, contentLength)
          if (failed !== undefined) return Effect.fail(failed)
          if (endStream || bodyless) return Effect.void
        } else if (bodyless) {
          return Effect.void
        }
        this.bytesOut += body.length
        if (ends) {
          this.wireEnd(body)
          return Effect.void
        }
        // Waiting costs a fiber suspension: wait only when the queue is over
        // the stream's bound, not each time node's 64 KiB high-water mark is
        // crossed.
        if (body.length === 0) {
          // An empty chunk that is not the last puts the head on the wire now (HTTP-28).
          this.wireFlush()
          return Effect.void
        }
        if (this.wireWrite(body) || this.wireQueued() <= this.host.writeBufferSize) return Effect.void
        return this.waitDrain()
      }
      case "http.response.trailers":
        return this.sendTrailers(event)
      case "http.response.push":
        return this.sendPush(event)
      case "http.response.early_hint":
        return this.sendEarlyHint(event)
      case "http.response.reset":
        return this.sendReset(event)
      case "http.goaway":
        this.wireGoaway()
        return Effect.void
      case "http.response.pathsend":
      case "http.response.zerocopysend":
        return this.sendFile(event)
      default:
        // The core refused every other type (CORE-6).
        return Effect.void
    }
  }

  /** The protocol can frame trailers after a body of this declared length (HTTP/1.1 needs chunked). */
  protected abstract trailerFraming(declared: number): boolean

  /**
   * Puts the pending head on the wire, with the `link` fields of pushes that
   * could not be promised. Undefined on success, else the error (node refused
   * the head).
   */
  private flushHead(endStream: boolean, contentLength: number): LocalProtocolError | undefined {
    const status = this.pendingStatus
    const headers = this.takeHead()
    this.status = status
    try {
      this.wireStart(status, headers, endStream, contentLength)
      return undefined
    } catch (cause) {
      this.status = 0
      return new LocalProtocolError({ rule: "HTTP-6", detail: `response head rejected: ${String(cause)}` })
    }
  }

  /** The pending head's fields with the links of pushes that could not be promised; clears the pending head. */
  private takeHead(): Headers {
    let headers = this.pendingHeaders
    if (this.pendingLinks !== undefined) {
      headers = [...headers, ...this.pendingLinks.map((l): readonly [string, string] => ["link", l])]
      this.pendingLinks = undefined
    }
    this.pendingStatus = 0
    this.pendingHeaders = []
    return headers
  }

  private sendTrailers(event: HttpResponseTrailers): Effect.Effect<void, SendError> {
    if (this.ended()) return Effect.fail(this.closedError())
    this.core.accept(event)
    if (!this.trailersOnWire) return Effect.void
    if (event.neverIndex !== undefined) this.neverIndex = event.neverIndex
    this.wireTrailers(event.headers)
    return Effect.void
  }

  private sendPush(event: HttpResponsePush): Effect.Effect<void, SendError> {
    if (this.ended()) return Effect.fail(this.closedError())
    this.core.accept(event)
    const path = event.path
    return Effect.map(this.wirePush(path, event.headers ?? []), (promised) => {
      if (promised !== undefined) this.pushed.push(promised)
      // Could not promise: a preload link on a head not yet on the wire.
      else if (this.status === 0 && !this.answered) (this.pendingLinks ??= []).push(preloadLink(path, event.as, event.linkParams))
    })
  }

  private sendEarlyHint(event: HttpResponseEarlyHint): Effect.Effect<void, SendError> {
    if (this.ended()) return Effect.fail(this.closedError())
    this.core.accept(event)
    if (event.links.length > 0) this.wireEarlyHint(event.links)
    return Effect.void
  }

  private sendReset(event: HttpResponseReset): Effect.Effect<void, SendError> {
    const wasComplete = this.responseComplete()
    this.core.accept(event)
    this.pendingStatus = 0
    this.endReason ??= "app-reset"
    if (!wasComplete || !this.wireClosed()) this.wireReset(event.errorCode)
    return Effect.void
  }

  private sendFile(event: HttpResponsePathsend | HttpResponseZerocopysend): Effect.Effect<void, SendError> {
    if (this.ended()) return Effect.fail(this.closedError())
    // While the file opens, the state says a body is under way: nothing else may be sent.
    const before = this.response
    this.response = "body"
    return Effect.flatMap(openFile(event), (file) => {
      if (this.ended()) {
        file.close()
        return Effect.fail(this.closedError())
      }
      const status = this.pendingStatus
      const plan = planFile(this.scope, status, this.takeHead(), file.stat)
      this.status = plan.status
      // Trailers after a file body are accepted and not sent (spec.md §7.9).
      this.trailersOnWire = false
      if (plan.length === 0) {
        file.close()
        this.response = before
        this.core.accept(event)
        this.wireStart(plan.status, plan.headers, true, -1)
        return Effect.void
      }
      this.wireStart(plan.status, plan.headers, false, -1)
      // send completes once the last byte is read, never while a read is under way (HTTP-29).
      return this.pumpFile(file, file.base + plan.offset, file.base + plan.offset + plan.length).pipe(
        Effect.ensuring(Effect.sync(file.close)),
        Effect.tap(() =>
          Effect.sync(() => {
            this.response = before
            this.core.accept(event)
          })
        )
      )
    }).pipe(
      Effect.tapError((error: SendError) =>
        Effect.sync(() => {
          // Nothing went on the wire: the app may send another response (spec.md §7.9).
          if (error._tag === "FileSendError" && this.response === "body") {
            this.response = before === "head" ? "start" : before
            this.pendingStatus = 0
            this.pendingHeaders = []
          }
        })
      )
    )
  }

  /**
   * Sends bytes `position` to `end` of an open file as the body whose head
   * is on the wire: read a chunk, write it, wait while the stream's queue is
   * over its bound (HTTP-10), until the last chunk ends the stream. Only one
   * read is under way at a time, and the Effect completes only when none is
   * (HTTP-29). A file that ends early or cannot be read resets the stream and
   * fails with `FileSendError`; a stream that closed fails with
   * `StreamClosedError`.
   */
  private pumpFile(file: OpenedFile, start: number, end: number): Effect.Effect<void, SendError> {
    const name = file.name
    const step = (at: number): Effect.Effect<void, SendError> =>
      Effect.flatMap(
        Effect.catch(readAt(file.fd, name, at, Math.min(FILE_CHUNK, end - at)), (error) => this.failFile(error)),
        (chunk): Effect.Effect<void, SendError> => {
          if (this.wireGone()) return Effect.fail(this.closedError())
          if (chunk.length === 0) {
            const detail = `the file ended after ${at - start} of ${end - start} bytes: it shrank while being sent`
            return this.failFile(new FileSendError({ file: name, code: "EOF", detail }))
          }
          const next = at + chunk.length
          this.bytesOut += chunk.length
          if (next >= end) {
            this.wireEnd(chunk)
            return Effect.void
          }
          if (this.wireWrite(chunk) || this.wireQueued() <= this.host.writeBufferSize) return step(next)
          return Effect.flatMap(this.waitDrain(), () => step(next))
        }
      )
    return step(start)
  }

  /**
   * A file body that cannot be completed after its head went out: the
   * stream is reset (the client must not take a short body for a whole one)
   * and `send` fails with `error`, or with `StreamClosedError` when the
   * stream had closed anyway.
   */
  private failFile(error: FileSendError): Effect.Effect<never, SendError> {
    if (this.wireGone()) return Effect.fail(this.closedError())
    this.response = "reset"
    this.endReason ??= "file-error"
    this.wireReset(ErrorCode.INTERNAL_ERROR)
    return Effect.fail(error)
  }

  private waitDrain(): Effect.Effect<void, StreamClosedError> {
    return Effect.callback<void, StreamClosedError>((resume) => {
      const sink = this.sink
      const done = (): void => {
        sink.off("drain", done)
        sink.off("close", done)
        resume(this.wireGone() ? Effect.fail(this.closedError()) : Effect.void)
      }
      sink.on("drain", done)
      sink.on("close", done)
      return Effect.sync(() => {
        sink.off("drain", done)
        sink.off("close", done)
      })
    })
  }

  // -------------------------------------------------------------------------
  // runner side
  // -------------------------------------------------------------------------

  /** Nothing of the response is on the wire yet: a full error response can still be sent. */
  protected canRespond(): boolean {
    return this.status === 0 && !this.wireGone()
  }

  /**
   * Rejects a request the runner will not serve (malformed, too large):
   * `status` if no response byte was sent, else a reset with `code`.
   */
  abstract reject(status: number, code: number): void

  /** Sends a complete plain-text error response (500, 400, 413) if still possible. */
  respondError(status: number, extra: Headers = []): boolean {
    if (!this.canRespond()) return false
    const body = new TextEncoder().encode(`${reasonPhrase(status)}\n`)
    this.pendingStatus = 0
    this.answered = true
    this.status = status
    if (this.scope.method === "HEAD") {
      this.wireStart(status, [["content-type", "text/plain; charset=utf-8"], ...extra], true, -1)
      return true
    }
    this.bytesOut += body.length
    this.wireStart(status, [["content-type", "text/plain; charset=utf-8"], ...extra], false, body.length)
    this.wireEnd(body)
    return true
  }
}
