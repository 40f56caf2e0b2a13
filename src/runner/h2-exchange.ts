/**
 * The HTTP/2 wire of an exchange: one node:http2 server stream (RFC 9113 §8).
 */
import * as Effect from "effect/Effect"
import * as http2 from "node:http2"
import type { ServerHttp2Session, ServerHttp2Stream } from "node:http2"
import { addAbortSignal } from "node:stream"
import { defaultNeverIndexed } from "../protocol/extensions.ts"
import { connectionSpecific, fromRaw, type Headers } from "../protocol/headers.ts"
import type { HttpScope } from "../protocol/scope.ts"
import type { ConnectionInfo } from "./connection.ts"
import { ErrorCode } from "../protocol/fields.ts"
import { CONNECTION_LOST, Exchange, type ExchangeHost, type PeerEnd } from "./exchange.ts"
import { ConnectionView, recordPush } from "./extensions.ts"
import { checkHeaderList } from "./header-list.ts"
import { responseDate } from "./http-date.ts"

type NodeHeaders = Record<string, string | Array<string> | number> & { [http2.sensitiveHeaders]?: Array<string> }

/** What `toNodeHeaderList` does with a field name besides passing it on: one Map lookup for every question. */
const DROP = 1
const NEVER_INDEXED = 2
const DATE = 3
const fieldHandling: ReadonlyMap<string, number> = new Map([
  ...[...connectionSpecific].map((name) => [name, DROP] as const),
  ...defaultNeverIndexed.map((name) => [name, NEVER_INDEXED] as const),
  ["date", DATE] as const
])

type NodeHeaderList = Array<string> & { [http2.sensitiveHeaders]?: Array<string> }

/**
 * A head or trailer section as node:http2's flat list `[name, value, …]`:
 * `:status` first (when given), connection-specific fields dropped (RUN-6),
 * a repeated field repeated, each name never to be indexed (spec.md §7.8)
 * listed once under `http2.sensitiveHeaders`, and `date` last when one is
 * given and the fields have none (a response head, spec.md §8.2). The
 * runner's one reading of those rules; `toNodeHeaders` makes node's header
 * object from it.
 */
export const toNodeHeaderList = (
  status: number | undefined,
  headers: Headers,
  contentLength: number,
  neverIndex: ReadonlyArray<string> | undefined,
  date?: string
): NodeHeaderList => {
  // Sized once, for every field (issue 19): node keeps a response's list
  // for the stream's `sentHeaders` as long as the stream lives, and a list
  // grown by `push` has 17 or more slots (a held stream's hello head: 192
  // bytes where 6 fit in 64). So the `date` is the runner's, not node's:
  // node pushes its own onto a list without one. Setting a list's length
  // is a call into V8's runtime (~600 instructions, measured:
  // bench/in-process.ts --only h2 --instructions), left to the rare list
  // that shrinks: a field dropped, or the app's own `date`.
  const size = (status === undefined ? 0 : 2) + (contentLength >= 0 ? 2 : 0) + 2 * headers.length + (date === undefined ? 0 : 2)
  const out = new Array<string>(size) as NodeHeaderList
  let n = 0
  if (status !== undefined) {
    out[n++] = ":status"
    out[n++] = String(status)
  }
  if (contentLength >= 0) {
    out[n++] = "content-length"
    out[n++] = String(contentLength)
  }
  let sensitive: Array<string> | undefined
  let dated = false
  for (let i = 0; i < headers.length; i++) {
    const [name, value] = headers[i]!
    const handling = fieldHandling.get(name)
    if (handling === DROP) continue
    out[n++] = name
    out[n++] = value
    if (handling === DATE) dated = true
    if (handling === NEVER_INDEXED || (neverIndex !== undefined && neverIndex.includes(name))) {
      if (sensitive === undefined) sensitive = [name]
      else if (!sensitive.includes(name)) sensitive.push(name)
    }
  }
  if (date !== undefined && !dated) {
    out[n++] = "date"
    out[n++] = date
  }
  if (n !== size) out.length = n
  if (sensitive !== undefined) out[http2.sensitiveHeaders] = sensitive
  return out
}

/**
 * Node's header object (`sendTrailers`, `pushStream`, `respond` before Node
 * 24.7 and 22.20): `toNodeHeaderList`'s fields, a repeated one as an array.
 * Without a prototype: a field named `constructor` or `__proto__` is a field
 * like any other.
 */
export const toNodeHeaders = (
  status: number | undefined,
  headers: Headers,
  contentLength: number,
  neverIndex: ReadonlyArray<string> | undefined,
  date?: string
): NodeHeaders => {
  const list = toNodeHeaderList(status, headers, contentLength, neverIndex, date)
  const out = Object.create(null) as NodeHeaders
  for (let i = 0; i < list.length; i += 2) {
    const name = list[i]!
    const value = list[i + 1]!
    const prev = out[name]
    if (prev === undefined) out[name] = value
    else if (Array.isArray(prev)) prev.push(value)
    else out[name] = [prev as string, value]
  }
  const sensitive = list[http2.sensitiveHeaders]
  if (sensitive !== undefined) out[http2.sensitiveHeaders] = sensitive
  return out
}

const [nodeMajor = 0, nodeMinor = 0] = process.versions.node.split(".").map(Number)
/**
 * `respond()` takes a flat list from Node 24.7 and 22.20 on
 * (nodejs/node#59455) and hands it on as it is; a header object it first
 * copies into a dictionary-mode object of its own, whose keys it then lists.
 */
export const respondTakesList = nodeMajor > 24 || (nodeMajor === 24 && nodeMinor >= 7) || (nodeMajor === 22 && nodeMinor >= 20)

/** The form of a response head the running Node's `respond()` takes best, chosen once. */
const responseFields = respondTakesList ? toNodeHeaderList : toNodeHeaders

/**
 * Whether `stream` may push now (its `http.response.push` extension's
 * `promise` at the start, and each push, spec.md §7.1): node's `pushAllowed`
 * with the session the runner already holds, where node reads it through
 * the stream's getter twice — the stream open (a client's RST_STREAM may
 * have arrived with its HEADERS), the session neither closing nor
 * destroyed, and the client's last SETTINGS_ENABLE_PUSH 1 (RFC 9113
 * §6.5.2; node keeps the settings until new ones arrive, without calling
 * into JavaScript for each: a `remoteSettings` listener would, on every
 * SETTINGS frame a client sends).
 */
export const pushAllowed = (stream: http2.ServerHttp2Stream, session: http2.ServerHttp2Session): boolean =>
  !stream.destroyed && !stream.closed && !session.closed && !session.destroyed && session.remoteSettings.enablePush === true

const endStreamOptions = { endStream: true } as const
const openOptions = { endStream: false } as const
const trailersOptions = { endStream: false, waitForTrailers: true } as const
const NONE: Headers = []

/**
 * Runs the app on a stream this server promised: `parent` pushed `path`
 * with the request `fields` (spec.md §7.1).
 */
export type Pusher = (parent: H2Exchange, stream: ServerHttp2Stream, path: string, fields: Headers) => void

/** The exchange that hears its stream close (`hearClose`), told by the runner's one close listener per stream. */
const kHearing = Symbol("egi.hearing")
type Heard = ServerHttp2Stream & { [kHearing]?: H2Exchange | undefined }

/**
 * `stream` closed: its exchange hears of it, if it listens. Called by the
 * runner's one `close` listener on each stream (h2-server.ts's
 * `streamClosed`), which an exchange joins with a property write where a
 * listener of its own would cost an `on` and an `off` (~1,100 instructions
 * each on a node:http2 stream).
 */
export const closeHeard = (stream: ServerHttp2Stream): void => {
  ;(stream as Heard)[kHearing]?.sinkClosed()
}

/**
 * An exchange over a node:http2 server stream.
 */
export class H2Exchange extends Exchange {
  readonly stream: ServerHttp2Stream
  /** The stream's session, kept: node detaches it from a closed stream. */
  private readonly session: ServerHttp2Session
  private readonly connection: ConnectionInfo
  private resetByRunner = false
  private readonly pusher: Pusher
  private trailers: Headers = NONE

  /**
   * `session` and `connection`: the stream's, as the runner found them when
   * the stream arrived (read once there: node's `session` is a getter).
   */
  constructor(
    scope: HttpScope,
    host: ExchangeHost,
    stream: ServerHttp2Stream,
    session: ServerHttp2Session,
    connection: ConnectionInfo,
    contentLength: number,
    endStream: boolean,
    pusher: Pusher
  ) {
    super(scope, host, stream, contentLength, endStream)
    this.stream = stream
    this.session = session
    this.connection = connection
    this.pusher = pusher
    // Trailers arrive before the body's end: keep them for receive (spec.md §7.3),
    // unless they are over the header-list limit, which node:http2 holds only after the SETTINGS ACK (RUN-26).
    if (!endStream) {
      stream.once("trailers", (_headers: unknown, _flags: unknown, raw: Array<string>) => {
        const tooLarge = checkHeaderList(raw, host.maxHeaderListSize)
        if (tooLarge !== undefined) return this.refuseRequest(tooLarge, "too-large")
        this.trailers = fromRaw(raw, true)
      })
    }
  }

  protected wireStart(status: number, headers: Headers, endStream: boolean, contentLength: number): void {
    this.stream.respond(
      responseFields(status, headers, contentLength, this.neverIndex, responseDate.now()),
      endStream ? endStreamOptions : this.trailersOnWire ? trailersOptions : openOptions
    )
  }

  protected wireTrailers(headers: Headers): void {
    const s = this.stream
    const fields = toNodeHeaders(undefined, headers, -1, this.neverIndex)
    s.once("wantTrailers", () => {
      if (!s.destroyed) s.sendTrailers(fields)
    })
    s.end()
  }

  protected trailerFraming(): boolean {
    return true
  }

  protected wirePush(path: string, headers: Headers): Effect.Effect<number | undefined> {
    const s = this.stream
    if (!pushAllowed(s, this.session)) return Effect.succeed(undefined)
    const request = toNodeHeaders(undefined, headers, -1, undefined)
    request[":method"] = "GET"
    request[":path"] = path
    request[":scheme"] = this.scope.scheme
    if (this.scope.authority !== null) request[":authority"] = this.scope.authority
    return Effect.callback<number | undefined>((resume) => {
      try {
        s.pushStream(request, (err, pushed) => {
          // Out of streams, push disabled meanwhile, the stream closed: degrade (spec.md §7.1).
          if (err !== null) return resume(Effect.succeed(undefined))
          const id = pushed.id ?? 0
          const view = this.scope.extensions["http.connection"]
          if (view instanceof ConnectionView) recordPush(view, id)
          this.pusher(this, pushed, path, headers)
          resume(Effect.succeed(id))
        })
      } catch {
        resume(Effect.succeed(undefined))
      }
    })
  }

  protected wireEarlyHint(links: ReadonlyArray<string>): void {
    this.stream.additionalHeaders({ ":status": 103, link: links.length === 1 ? links[0]! : links.slice() })
  }

  protected wireGoaway(): void {
    const session = this.stream.session
    if (session !== undefined && !session.closed && !session.destroyed) session.close()
  }

  protected requestTrailers(): Headers {
    return this.trailers
  }

  protected wireWrite(chunk: Uint8Array): boolean {
    return this.stream.write(chunk)
  }

  protected wireQueued(): number {
    return this.stream.writableLength
  }

  protected wireEnd(chunk: Uint8Array): void {
    if (chunk.length === 0) this.stream.end()
    else this.stream.end(chunk)
  }

  protected wireClosed(): boolean {
    const s = this.stream
    return s.destroyed || s.closed
  }

  protected wireFinished(): boolean {
    return this.stream.writableFinished
  }

  reject(status: number, code: number): void {
    // A complete response stays complete: the client only has to stop sending (RST_STREAM NO_ERROR, RFC 9113 §8.1).
    if (!this.respondError(status)) return this.responseComplete() ? this.wireAbandonBody() : this.wireReset(code)
    this.wireAbandonBody()
  }

  protected wireAbandonBody(): void {
    // RFC 9113 §8.1: a complete response may be followed by RST_STREAM
    // NO_ERROR, which tells the client to stop sending the request body.
    const stream = this.stream
    const close = (): void => {
      if (!stream.destroyed) stream.close(ErrorCode.NO_ERROR)
    }
    if (stream.writableFinished) close()
    else stream.once("finish", close)
  }

  wireReset(code: number): void {
    const s = this.stream
    if (s.destroyed) return
    this.resetByRunner = true
    // close(code) on a stream whose writable side is still open first ends it
    // (DATA with END_STREAM) and the RST_STREAM never follows: the client would
    // see a complete, truncated response. Destroying sends RST_STREAM alone:
    // CANCEL for an abort, INTERNAL_ERROR for an error.
    if (s.writableEnded) s.close(code)
    else if (code === ErrorCode.CANCEL) {
      const abort = new AbortController()
      addAbortSignal(abort.signal, s)
      abort.abort()
    } else if (code === ErrorCode.INTERNAL_ERROR) s.destroy(new Error(`stream reset by the runner (code ${code})`))
    // Any other code (an app's http.response.reset): close(code) submits the
    // RST_STREAM at once, before the end of the writable side is processed.
    else s.close(code)
  }

  protected peerEnd(): PeerEnd | undefined {
    const s = this.stream
    // The runner's own reset is not the peer's.
    if (this.resetByRunner || !(s.closed || s.destroyed)) return undefined
    // A destroyed session copies its own codes onto its streams (CANCEL for
    // a lost socket, INTERNAL_ERROR for an nghttp2 connection error, the
    // GOAWAY's code for the peer's GOAWAY): only the last is the peer's.
    if (this.session.destroyed) {
      const code = this.connection.peerGoawayCode
      return code !== undefined && code !== ErrorCode.NO_ERROR ? { end: "goaway", errorCode: code } : CONNECTION_LOST
    }
    // A normal close leaves rstCode 0: only a reset has a code to report.
    return s.rstCode !== undefined && s.rstCode !== 0 ? { end: "reset", errorCode: s.rstCode } : undefined
  }

  protected get sink(): NodeJS.EventEmitter {
    return this.stream
  }

  /** The stream itself points to its exchange: no listener, no bound function (48 bytes a held stream would keep). */
  protected override hearClose(): void {
    ;(this.stream as Heard)[kHearing] = this
  }

  protected override stopHearingClose(): void {
    ;(this.stream as Heard)[kHearing] = undefined
  }
}
