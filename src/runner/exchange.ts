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
import { LocalProtocolError, RemoteProtocolError, type SendError, StreamClosedError } from "../protocol/errors.ts"
import type { HttpDisconnect, HttpRequest, InboundEvent, OutboundEvent } from "../protocol/events.ts"
import { type Headers, isFieldName, isFieldValue, singleValue } from "../protocol/headers.ts"
import { checkCorrelator, type HttpScope } from "../protocol/scope.ts"
import { nextResponseState, type RequestState, type ResponseState } from "../protocol/state.ts"

const EMPTY = new Uint8Array(0)

/** RFC 9113 §7 error codes the runner sends. */
export const ErrorCode = {
  NO_ERROR: 0,
  PROTOCOL_ERROR: 1,
  INTERNAL_ERROR: 2,
  CANCEL: 8
} as const

/** Why a stream ended early, for the access log and the disconnect event. */
export type EndReason = "peer" | "malformed" | "too-large" | "timeout" | "shutdown"

/** What the exchange needs from its server. */
export interface ExchangeHost {
  readonly maxBodySize: number
  /** `send` of a body chunk waits while more than this many bytes are queued (HTTP-10). */
  readonly writeBufferSize: number
  readonly onRemoteError: (ex: Exchange, error: RemoteProtocolError) => void
}

type Resume<A, E = never> = (effect: Effect.Effect<A, E>) => void

const reasonPhrase = (status: number): string =>
  status === 500 ? "Internal Server Error" : status === 413 ? "Content Too Large" : status === 408 ? "Request Timeout" : "Bad Request"

/** A final status whose response carries no content (RFC 9110 §6.4.1). */
const noContent = (status: number): boolean => status === 204 || status === 304

const DECIMAL = /^\d{1,15}$/

/**
 * Checks the app's response header list in one pass (HTTP-5, HTTP-6,
 * HTTP-16, HTTP-17) and returns the declared content-length (-1 if none),
 * or the error naming the rule broken.
 */
const checkHeaders = (headers: Headers): number | LocalProtocolError => {
  let declared = -1
  let seen: Set<string> | undefined
  let firstSingle: string | undefined
  for (let i = 0; i < headers.length; i++) {
    const h = headers[i]
    if (!Array.isArray(h) || h.length !== 2) {
      return new LocalProtocolError({ rule: "HTTP-5", detail: `header ${i} is not a [name, value] pair` })
    }
    if (!isFieldName(h[0])) {
      return new LocalProtocolError({ rule: "HTTP-5", detail: `header name ${JSON.stringify(h[0])} is not a lower-case token` })
    }
    if (!isFieldValue(h[1])) {
      return new LocalProtocolError({ rule: "HTTP-6", detail: `value of ${h[0]} is not an RFC 9110 field value` })
    }
    const name = h[0]
    if (!singleValue.has(name)) continue
    // Most responses carry one single-value field at most: no Set for those.
    if (firstSingle === undefined) firstSingle = name
    else {
      seen ??= new Set([firstSingle])
      if (seen.has(name)) return new LocalProtocolError({ rule: "HTTP-16", detail: `${name} sent twice` })
      seen.add(name)
    }
    if (name === "content-length") {
      if (!DECIMAL.test(h[1])) return new LocalProtocolError({ rule: "HTTP-17", detail: "content-length is not a decimal integer" })
      declared = Number(h[1])
    }
  }
  return declared
}

/**
 * The shared half of an exchange. Subclasses implement the `wire*` methods.
 */
export abstract class Exchange {
  readonly scope: HttpScope
  readonly receive: Effect.Effect<InboundEvent>
  readonly send: (event: OutboundEvent) => Effect.Effect<void, SendError>
  readonly startedAt: number

  /** Send-side state (spec.md §4.7 table 1). */
  response: ResponseState = "start"
  /** Receive-side state (spec.md §4.7 table 2). */
  request: RequestState = "receiving"
  /** Status put on the wire; 0 while nothing was sent. */
  status = 0
  /** Response body bytes handed to the wire. */
  bytesOut = 0
  /** Request body bytes delivered to the app. */
  bytesIn = 0
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
  /** The content-length the app declared, or -1. */
  private declared = -1
  /** The response carries no body (HEAD, 204, 304): body events are accepted and dropped. */
  private bodyless = false
  private eof = false
  private armed = false
  private waiters: Array<Resume<InboundEvent>> | undefined = undefined
  private disconnectEvent: HttpDisconnect | undefined = undefined
  /** The runner sent a complete response of its own (500, 400, 413). */
  private answered = false
  /** Stall sweep: bytesIn at the last sweep and since when (ms), -1 when not waiting. */
  private stallBytes = 0
  private stallSince = -1

  constructor(scope: HttpScope, host: ExchangeHost, readable: Readable, contentLength: number, noBody: boolean) {
    this.scope = scope
    this.host = host
    this.readable = readable
    this.contentLength = contentLength
    this.noBody = noBody
    this.startedAt = performance.now()
    this.receive = Effect.callback<InboundEvent>((resume) => this.onReceive(resume))
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

  /** The stream ended before the response did: the runner ended it, or the peer went away. */
  ended(): boolean {
    return this.endReason !== undefined || this.wireGone()
  }

  /** The response is complete: the app sent its last body, or the runner answered for it. */
  responseComplete(): boolean {
    return this.response === "done" || this.answered
  }

  /** Resets the stream with an RFC 9113 code (HTTP/1.1: closes the connection). */
  abstract wireReset(code: number): void
  /** The peer's RST_STREAM code once the stream closed, if any. */
  protected abstract peerErrorCode(): number | undefined
  /** The emitter of `drain` and `close` for the response side. */
  protected abstract get sink(): NodeJS.EventEmitter
  /** The response is complete on the wire. */
  protected abstract wireFinished(): boolean

  // -------------------------------------------------------------------------
  // receive
  // -------------------------------------------------------------------------

  private onReceive(resume: Resume<InboundEvent>): Effect.Effect<void> | void {
    const waiters = this.waiters
    if (waiters === undefined || waiters.length === 0) {
      const event = this.poll()
      if (event !== undefined) return resume(Effect.succeed(event))
    }
    // Concurrent receivers are served in the order they asked.
    ;(this.waiters ??= []).push(resume)
    if (!this.armed) this.arm()
    return Effect.sync(() => {
      const list = this.waiters!
      const i = list.indexOf(resume)
      if (i >= 0) list.splice(i, 1)
    })
  }

  /** Hands ready events to waiting receivers, oldest first. */
  private wake(): void {
    const waiters = this.waiters
    if (waiters === undefined) return
    while (waiters.length > 0) {
      const event = this.poll()
      if (event === undefined) return
      waiters.shift()!(Effect.succeed(event))
    }
  }

  /** A receiver is waiting in `receive`. */
  private waiting(): boolean {
    return this.waiters !== undefined && this.waiters.length > 0
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
      case "complete":
        // node:http2 may emit a stream's 'close' before its 'finish': a
        // closed wire ends the exchange as much as a finished response.
        if (this.wireGone()) return this.disconnect(this.peerErrorCode(), "peer")
        return this.wireClosed() || this.wireFinished() ? this.disconnect(undefined, undefined) : undefined
      case "receiving": {
        if (this.noBody) {
          this.request = "complete"
          return this.event(EMPTY, false)
        }
        const chunk: Buffer | null = this.readable.read()
        if (chunk !== null) {
          this.bytesIn += chunk.length
          if (this.contentLength >= 0 && this.bytesIn > this.contentLength) {
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
          return this.event(chunk, true)
        }
        if (this.eof) {
          // 'end' can precede the close of a reset stream: only a stream that
          // is not reset and whose length matches has a complete body.
          const code = this.peerErrorCode()
          if (code !== undefined) return this.disconnect(code, "peer")
          if (this.contentLength >= 0 && this.bytesIn !== this.contentLength) {
            return this.malformed("ContentLengthMismatch", `body of ${this.bytesIn} bytes, content-length ${this.contentLength}`)
          }
          this.request = "complete"
          return this.event(EMPTY, false)
        }
        if (this.wireGone()) return this.disconnect(this.peerErrorCode(), "peer")
        return undefined
      }
    }
  }

  private malformed(reason: "ContentLengthMismatch", detail: string): HttpDisconnect {
    return this.remote(
      new RemoteProtocolError({ reason, status: 400, code: ErrorCode.PROTOCOL_ERROR, detail }),
      "malformed"
    )
  }

  private remote(error: RemoteProtocolError, why: EndReason): HttpDisconnect {
    const event = this.disconnect(undefined, why)
    this.host.onRemoteError(this, error)
    return event
  }

  /**
   * Moves to `disconnected` (sticky, rule HTTP-8) and returns the event;
   * `why` names an early end (none when the exchange simply finished).
   */
  private disconnect(errorCode: number | undefined, why: EndReason | undefined): HttpDisconnect {
    if (this.disconnectEvent !== undefined) return this.disconnectEvent
    this.request = "disconnected"
    if (why !== undefined) this.endReason ??= why
    const base = { type: "http.disconnect", connectionId: this.scope.connectionId, streamId: this.scope.streamId } as const
    this.disconnectEvent = errorCode === undefined ? base : { ...base, errorCode }
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
    const code = this.peerErrorCode()
    return code === undefined
      ? new StreamClosedError({ connectionId: this.scope.connectionId, streamId: this.scope.streamId })
      : new StreamClosedError({ connectionId: this.scope.connectionId, streamId: this.scope.streamId, errorCode: code })
  }

  private onSend(event: OutboundEvent): Effect.Effect<void, SendError> {
    const foreign = checkCorrelator(event, this.scope)
    if (foreign !== undefined) return Effect.fail(foreign)
    switch (event.type) {
      case "http.response.start": {
        const next = nextResponseState(this.response, "start")
        if (typeof next !== "string") return Effect.fail(next)
        // The runner ended the stream (malformed, too large) or the peer went
        // away: the app learns it as a closed stream (HTTP-9).
        if (this.ended()) return Effect.fail(this.closedError())
        const status = event.status
        if (!Number.isInteger(status) || status < 200 || status > 599) {
          return Effect.fail(new LocalProtocolError({ rule: "HTTP-4", detail: `status ${status} is not an integer in 200–599` }))
        }
        const headers = event.headers ?? []
        const declared = checkHeaders(headers)
        if (typeof declared !== "number") return Effect.fail(declared)
        this.response = next
        this.pendingStatus = status
        this.pendingHeaders = headers
        this.declared = declared
        this.bodyless = noContent(status) || this.scope.method === "HEAD"
        return Effect.void
      }
      case "http.response.body": {
        const more = event.moreBody === true
        const next = nextResponseState(this.response, more ? "more" : "last")
        if (typeof next !== "string") return Effect.fail(next)
        if (this.ended()) return Effect.fail(this.closedError())
        const body = event.body ?? EMPTY
        const bodyless = this.bodyless
        if (this.declared >= 0 && !bodyless) {
          const total = this.bytesOut + body.length
          if (total > this.declared || (!more && total !== this.declared)) {
            return Effect.fail(
              new LocalProtocolError({ rule: "HTTP-17", detail: `body of ${more ? "at least " : ""}${total} bytes, content-length ${this.declared}` })
            )
          }
        }
        this.response = next
        if (this.pendingStatus !== 0) {
          const status = this.pendingStatus
          const headers = this.pendingHeaders
          const contentLength = !more && !bodyless && this.declared < 0 ? body.length : -1
          this.pendingStatus = 0
          this.pendingHeaders = []
          this.status = status
          const endStream = bodyless || (!more && body.length === 0)
          try {
            this.wireStart(status, headers, endStream, contentLength)
          } catch (cause) {
            this.status = 0
            return Effect.fail(new LocalProtocolError({ rule: "HTTP-6", detail: `response head rejected: ${String(cause)}` }))
          }
          if (endStream) return Effect.void
        } else if (bodyless) {
          return Effect.void
        }
        this.bytesOut += body.length
        if (!more) {
          this.wireEnd(body)
          return Effect.void
        }
        // Waiting costs a fiber suspension: wait only when the queue is over
        // the stream's bound, not each time node's 64 KiB high-water mark is
        // crossed.
        if (body.length === 0 || this.wireWrite(body) || this.wireQueued() <= this.host.writeBufferSize) return Effect.void
        return this.waitDrain()
      }
      default:
        return Effect.fail(
          new LocalProtocolError({ rule: "CORE-6", detail: `event type ${String((event as { type: unknown }).type)} is not valid in an http scope` })
        )
    }
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
