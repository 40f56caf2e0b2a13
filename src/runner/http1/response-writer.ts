/**
 * One HTTP/1.1 response as the bytes to write, without I/O (RFC 9112 §6,
 * §7, §9): the fifth piece of the runner's own HTTP/1.1 codec. The exchange
 * hands it the app's head, body chunks and trailers; it frames them and
 * decides whether the connection may carry another request after this one.
 *
 * Never more body than the head declared (a response that overran its
 * `content-length` would be read by the client as the start of the next
 * one), none where the status or method allows none.
 *
 * @since 0.7.0
 */
import * as Data from "effect/Data"
import type { Headers } from "../../protocol/headers.ts"
import { asksToClose, chunkHeader, CRLF, lastChunk, type ResponseFraming, responseFraming, responseHead } from "./response-head.ts"

/**
 * A response the writer cannot frame: body past the declared
 * `content-length`, a body end short of it, or a call out of order. The
 * runner's protocol core (spec.md §5, RUN-10) refuses these before they
 * reach the wire; this is the last guard, and the connection closes.
 *
 * @since 0.7.0
 * @category errors
 */
export class FramingError extends Data.TaggedError("FramingError")<{ readonly detail: string }> {}

/** What to write next, in order: head strings (latin1) and body bytes. */
export type WireParts = Array<string | Uint8Array>

const NONE: WireParts = []

/**
 * One response to a `method` request over `httpVersion` on a connection
 * that would persist (`keepAlive`, the request's and the server's say),
 * announcing `keepAliveS` seconds of idle time.
 *
 * @since 0.7.0
 * @category codec
 */
export class ResponseWriter {
  private framing: ResponseFraming | undefined = undefined
  private left = 0
  private ended = false
  private keepAlive: boolean
  private readonly method: string
  private readonly httpVersion: "1.0" | "1.1"
  private readonly keepAliveS: number

  constructor(method: string, httpVersion: "1.0" | "1.1", keepAlive: boolean, keepAliveS: number) {
    this.method = method
    this.httpVersion = httpVersion
    this.keepAlive = keepAlive
    this.keepAliveS = keepAliveS
  }

  /** After this response the connection may carry another request. Final once the head is out. */
  get persists(): boolean {
    return this.keepAlive
  }

  /** The head went out. */
  get started(): boolean {
    return this.framing !== undefined
  }

  /** The response is whole. */
  get done(): boolean {
    return this.ended
  }

  /** This response must be the connection's last (a drain, a body left unread); no effect once the head is out. */
  closeAfter(): void {
    if (this.framing === undefined) this.keepAlive = false
  }

  /** A 1xx interim response (103 Early Hints) before the head: its status line and fields. */
  interim(status: number, headers: Headers): WireParts | FramingError {
    if (this.framing !== undefined || status < 100 || status > 199) return new FramingError({ detail: `interim ${status} after the head or not 1xx` })
    // HTTP/1.0 clients do not know interim responses (RFC 9110 §15.2).
    if (this.httpVersion === "1.0") return NONE
    return [responseHead(status, headers, { kind: "none", length: -1 }, false, 0, "")]
  }

  /**
   * The head for `status` and the app's `headers`, `length` bytes of body
   * when known (else -1: chunked, or close-delimited over HTTP/1.0), with
   * `date` unless the app sent one.
   */
  head(status: number, headers: Headers, length: number, date: string): WireParts | FramingError {
    if (this.framing !== undefined || status < 200) return new FramingError({ detail: "a second head, or a final status below 200" })
    const framing = responseFraming(status, this.method, this.httpVersion, length)
    if (framing.kind === "close" || asksToClose(headers)) this.keepAlive = false
    this.framing = framing
    this.left = framing.kind === "length" ? framing.length : 0
    return [responseHead(status, headers, framing, this.keepAlive, this.keepAliveS, date)]
  }

  /** Body bytes: as they are, or as a chunk; nothing where the response has no body. */
  data(bytes: Uint8Array): WireParts | FramingError {
    const framing = this.framing
    if (framing === undefined || this.ended) return new FramingError({ detail: "body before the head or after the end" })
    if (bytes.length === 0) return NONE
    switch (framing.kind) {
      case "none":
        return NONE
      case "length":
        if (bytes.length > this.left) return new FramingError({ detail: `${bytes.length} bytes of body with ${this.left} left of the content-length` })
        this.left -= bytes.length
        return [bytes]
      case "chunked":
        return [chunkHeader(bytes.length), bytes, CRLF]
      case "close":
        return [bytes]
    }
  }

  /** The end: the last chunk and `trailers` (chunked only), or nothing; a length body must be whole by now. */
  end(trailers: Headers): WireParts | FramingError {
    const framing = this.framing
    if (framing === undefined || this.ended) return new FramingError({ detail: "end before the head or twice" })
    if (framing.kind === "length" && this.left > 0) return new FramingError({ detail: `the body ended ${this.left} bytes short of its content-length` })
    this.ended = true
    return framing.kind === "chunked" ? [lastChunk(trailers)] : NONE
  }
}
