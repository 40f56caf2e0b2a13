/**
 * One request/response exchange on one stream: the `receive`/`send` pair the
 * runner hands an app, over a Node readable (request body) and a wire
 * (response). HTTP/2 and HTTP/1.1 subclass it with their wire operations.
 * This file is the send side — every event the app sends is checked by the
 * protocol core first (`ResponseSide`, the checks `validate` makes), then
 * put on the wire with backpressure (HTTP-10) — and the runner's own
 * responses; `ExchangeBase` holds the state and the receive side, and
 * `file-send.ts` the file bodies (spec.md §4, §7, §8.2).
 *
 * Hot path: no Effect.gen, no per-event closures beyond the Effect that
 * `send` must return.
 */
import * as Effect from "effect/Effect"
import { LocalProtocolError, type RemoteProtocolError, type SendError, StreamClosedError } from "../protocol/errors.ts"
import type {
  HttpResponseEarlyHint,
  HttpResponsePathsend,
  HttpResponsePush,
  HttpResponseReset,
  HttpResponseTrailers,
  HttpResponseZerocopysend,
  OutboundEvent
} from "../protocol/events.ts"
import { ErrorCode } from "../protocol/fields.ts"
import type { Headers } from "../protocol/headers.ts"
import { preloadLink } from "../protocol/preload.ts"
import type { HttpScope } from "../protocol/scope.ts"
import { type BodySource, ExchangeBase } from "./exchange-base.ts"
import { openFile } from "./file-open.ts"
import { planFile } from "../protocol/file-plan.ts"
import { type FileSink, pumpFile } from "./file-send.ts"

export { CONNECTION_LOST, type EndReason, type PeerEnd } from "./exchange-base.ts"

const EMPTY = new Uint8Array(0)
/** A head with no fields, shared (never mutated). */
const NO_FIELDS: Headers = []

/** What the exchange needs from its server. */
export interface ExchangeHost {
  readonly maxBodySize: number
  /** `send` of a body chunk waits while more than this many bytes are queued (HTTP-10). */
  readonly writeBufferSize: number
  /** Bytes of header list (RFC 9113 §6.5.2) HTTP/2 request trailers may carry (RUN-26). */
  readonly maxHeaderListSize: number
  readonly onRemoteError: (ex: Exchange, error: RemoteProtocolError) => void
}

const reasonPhrase = (status: number): string =>
  status === 500 ? "Internal Server Error" : status === 413 ? "Content Too Large" : status === 408 ? "Request Timeout" : status === 431 ? "Request Header Fields Too Large" : status === 503 ? "Service Unavailable" : "Bad Request"

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
/**
 * An exchange: the base's state and receive side, with the send side and
 * the runner's own responses. Subclasses implement the `wire*` methods.
 */
export abstract class Exchange extends ExchangeBase {
  readonly send: (event: OutboundEvent) => Effect.Effect<void, SendError>
  protected readonly host: ExchangeHost
  /** Status and fields of a start not yet on the wire (HTTP/1.1 holds it for the first body bytes). */
  protected pendingStatus = 0
  protected pendingHeaders: Headers = NO_FIELDS
  /** `link` values from pushes that could not be promised, added to the head (spec.md §7.1). */
  private pendingLinks: Array<string> | undefined = undefined
  /** Field names the app asked never to index, for the head and then the trailers (spec.md §7.8). */
  protected neverIndex: ReadonlyArray<string> | undefined = undefined
  /** Announced trailers go on the wire (the client sent `te: trailers`, the framing allows them). */
  protected trailersOnWire = false

  constructor(scope: HttpScope, host: ExchangeHost, readable: BodySource, contentLength: number, noBody: boolean) {
    super(scope, readable, contentLength, noBody, host.maxBodySize)
    this.host = host
    this.send = this.deferSend.bind(this)
  }

  /**
   * `send`: the event goes through `onSend` when the returned Effect runs,
   * not when `send` is called. The exchange's `send` is this method bound to
   * it — not a function literal assigned to the property: V8's parser marks
   * such a literal for the old generation (it expects a method), where it
   * outlived its request until the next full GC and kept its context — the
   * exchange, the request, the response — alive through every scavenge
   * (HTTP/1.1 hello, first 30,000 requests: 1,100 bytes promoted per
   * request, 36 since; test/cli/promotion.test.ts). And bound, it is 48
   * bytes where a closure with its context is 96, which a held stream keeps.
   */
  private deferSend(event: OutboundEvent): Effect.Effect<void, SendError> {
    return Effect.suspend(() => this.onSend(event))
  }

  protected onRemoteError(error: RemoteProtocolError): void {
    this.host.onRemoteError(this, error)
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
        this.pendingHeaders = event.headers ?? NO_FIELDS
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
          // The whole response goes out while the request body is still arriving: say now that the connection may close (HTTP-35).
          if (!more && this.bodyStillArriving()) this.wireMayAbandonBody()
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
    this.pendingHeaders = NO_FIELDS
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
      // Could not promise: a preload link on a head not yet on the wire.
      if (promised === undefined && this.status === 0 && !this.answered) (this.pendingLinks ??= []).push(preloadLink(path, event.as, event.linkParams))
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
      return pumpFile(this.fileSink(), file, file.base + plan.offset, file.base + plan.offset + plan.length).pipe(
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
            this.pendingHeaders = NO_FIELDS
          }
        })
      )
    )
  }

  /**
   * The wire as a file body's pump sees it (file-send.ts): writes under the
   * stream's bound (HTTP-10), the end, the wait for a drain, and a reset
   * after a failure mid-file (the client must not take a short body for a
   * whole one).
   */
  private fileSink(): FileSink {
    return {
      write: (chunk) => {
        this.bytesOut += chunk.length
        return this.wireWrite(chunk) || this.wireQueued() <= this.host.writeBufferSize
      },
      end: (chunk) => {
        this.bytesOut += chunk.length
        this.wireEnd(chunk)
      },
      drained: () => this.waitDrain(),
      gone: () => this.wireGone(),
      closedError: () => this.closedError(),
      reset: () => {
        this.response = "reset"
        this.endReason ??= "file-error"
        this.wireReset(ErrorCode.INTERNAL_ERROR)
      }
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
