/**
 * Typed errors of the EGI protocol model (spec.md §5 "Error handling").
 *
 * Following h11's split, a *local* protocol error is the application's misuse
 * of `send` (it broke a rule of spec.md, named by its rule ID), a *remote*
 * protocol error is the peer's violation (it carries the HTTP status or the
 * RFC 9113 §7 error code the runner answers with), and a closed stream is
 * neither: the peer went away and the app learns it when it next sends.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"

/**
 * The application broke a rule of spec.md while sending: an event out of order
 * (state table, spec.md §4.5), a malformed event, a header that is not a
 * ByteString. `rule` is the stable rule ID from spec.md (e.g. `"HTTP-4"`).
 *
 * The runner answers it as an app failure: 500 when the response has not
 * started, else RST_STREAM INTERNAL_ERROR (spec.md §5, rule RUN-3).
 *
 * @since 0.1.0
 * @category errors
 */
export class LocalProtocolError extends Data.TaggedError("LocalProtocolError")<{
  readonly rule: string
  readonly detail: string
}> {
  override get message(): string {
    return `${this.rule}: ${this.detail}`
  }
}

/**
 * The peer sent something spec.md or the RFCs forbid (a malformed request,
 * RFC 9113 §8.1.1), or more or slower than the runner's limits allow (a body
 * over the size limit, a body that stalls). `status` is the HTTP
 * status the runner answers with when it still can; `code` the RFC 9113 §7
 * error code of the RST_STREAM it sends otherwise (1 = PROTOCOL_ERROR).
 * `reason`:
 *
 * - `ContentLengthMismatch`: the body is longer or shorter than its
 *   Content-Length (RFC 9113 §8.1.1, RFC 9112 §6.3): 400;
 * - `IncompleteBody`: the peer ended the body early (an HTTP/1.1 chunked
 *   body cut short by the client's FIN): 400;
 * - `BodyTooLarge`: over `RunnerOptions.maxBodySize` bytes (rule RUN-8):
 *   413;
 * - `BodyTimeout`: the body stalled for `RunnerOptions.idleTimeout` ms
 *   while the app waited for it (spec.md §8.3): 408;
 * - `HeaderListTooLarge`: an HTTP/2 request's header list is over
 *   `RunnerOptions.maxHeaderListSize` bytes, counted as RFC 9113 §6.5.2
 *   counts it (rule RUN-26): 431, else RST_STREAM ENHANCE_YOUR_CALM (11).
 *
 * The app does not see this error (spec.md §8.9): it gets `http.disconnect`
 * with `end` `malformed`, `too-large` or `timeout` (§4.4), and its `send`
 * then fails with `StreamClosedError`.
 *
 * @since 0.1.0
 * @category errors
 */
export class RemoteProtocolError extends Data.TaggedError("RemoteProtocolError")<{
  readonly reason: "ContentLengthMismatch" | "IncompleteBody" | "BodyTooLarge" | "BodyTimeout" | "HeaderListTooLarge"
  readonly status: number
  readonly code: number
  readonly detail: string
}> {
  override get message(): string {
    return `${this.reason}: ${this.detail}`
  }
}

/**
 * `send` was called on a stream the peer has already closed or reset
 * (spec.md §4.6, rule HTTP-9). `connectionId`/`streamId` are the stream's
 * correlator (spec.md §3.2); `errorCode` is the RFC 9113 §7 code of the
 * peer's RST_STREAM when there was one (HTTP/2), else absent (the connection
 * closed). Not an app failure: the runner logs nothing for it.
 *
 * @since 0.1.0
 * @category errors
 */
export class StreamClosedError extends Data.TaggedError("StreamClosedError")<{
  readonly connectionId: number
  readonly streamId: number
  readonly errorCode?: number
}> {
  override get message(): string {
    return `stream ${this.connectionId}/${this.streamId} is closed` +
      (this.errorCode === undefined ? "" : ` (error code ${this.errorCode})`)
  }
}

/**
 * The app was called with a scope type it does not handle (`scopeType`,
 * e.g. `"lifespan"`). Apps fail with it (spec.md §3.3, rule CORE-4) so that
 * a runner can tell, for instance, that lifespan is not supported; see
 * `unsupportedScope`.
 *
 * @since 0.1.0
 * @category errors
 */
export class UnsupportedScopeError extends Data.TaggedError("UnsupportedScopeError")<{
  readonly scopeType: string
}> {
  override get message(): string {
    return `scope type ${JSON.stringify(this.scopeType)} is not supported by this app`
  }
}

/**
 * A file body (`http.response.pathsend`, `http.response.zerocopysend`,
 * spec.md §7.9) could not be opened or read: `code` is the system error code
 * (`ENOENT`, `EACCES`, `EISDIR`, `EBADF`…), or `EOF` when the file ended
 * before its planned length; `file` the path or descriptor. When opening
 * failed nothing was put on the wire: the app may still send another
 * response (a 404, say); unhandled, it becomes a 500 like any failure (rule
 * RUN-2). When reading failed mid-send the stream was already reset
 * (HTTP-29) and the response is over.
 *
 * @since 0.2.0
 * @category errors
 */
export class FileSendError extends Data.TaggedError("FileSendError")<{
  readonly file: string | number
  readonly code: string
  readonly detail: string
}> {
  override get message(): string {
    return `cannot send file ${String(this.file)}: ${this.code}: ${this.detail}`
  }
}

/**
 * What `send` can fail with (spec.md §4.6): `LocalProtocolError` (the app
 * broke a rule), `StreamClosedError` (the peer went away, HTTP-9),
 * `FileSendError` (a file body, §7.9).
 *
 * @since 0.1.0
 * @category errors
 */
export type SendError = LocalProtocolError | StreamClosedError | FileSendError
