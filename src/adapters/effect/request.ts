/**
 * Effect's `HttpServerRequest` over an EGI stream (spec.md §12.1): the
 * request head comes from the scope, the body from `receive`, one event per
 * pull, so the body is never held whole unless the handler asks for all of
 * it (`arrayBuffer`, `text`, `json`, `urlParamsBody`, `multipart`).
 *
 * @since 0.5.0
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Inspectable from "effect/Inspectable"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import type { Scope } from "effect"
import type * as Arr from "effect/Array"
import type * as FileSystem from "effect/FileSystem"
import * as Cookies from "effect/http/Cookies"
import * as Headers from "effect/http/Headers"
import * as HttpIncomingMessage from "effect/http/HttpIncomingMessage"
import { ClientAbort, HttpServerError, RequestParseError } from "effect/http/HttpServerError"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as Multipart from "effect/http/Multipart"
import * as UrlParams from "effect/http/UrlParams"
import type * as Path from "effect/Path"
import type * as Pull from "effect/Pull"
import type * as Schema from "effect/Schema"
import type * as Socket from "effect/socket/Socket"
import type { Receive, Send } from "../../protocol/app.ts"
import type { HttpDisconnect, HttpRequest } from "../../protocol/events.ts"
import type { Headers as EgiHeaders } from "../../protocol/headers.ts"
import { type HttpScope, targetOf, type WebSocketScope } from "../../protocol/scope.ts"

/**
 * One EGI stream as the Effect adapter drives it, shared by every view of
 * its request (`modify` keeps it) and found from any of them by
 * `exchangeOf(request)`:
 *
 * - `scope`, `receive`, `send`: the stream's (spec.md §3.3);
 * - body side: `done` (the last `http.request` arrived), `trailers` (the request's trailer fields,
 *   spec.md §7.3, once the body was read to its end), `disconnect` (the
 *   `http.disconnect` that ended the body early, if one did); `receive` is
 *   pulled once per body pull and never ahead of the handler (rule HTTP-11
 *   keeps the upload's backpressure);
 * - response side: `phase` — `"start"` until `http.response.start` was
 *   accepted, `"head"` while the body goes out, `"complete"` once the last
 *   body (or file) was accepted, `"upgraded"` after a WebSocket upgrade,
 *   `"reset"` after the handler reset the stream; the response is sent
 *   only from `"start"`. `responseTrailers`, when set and the scope lists
 *   `http.response.trailers`, is evaluated after the last body and sent as
 *   `http.response.trailers` (the start then says `trailers: true`);
 *   `neverIndex` is added to the start (spec.md §7.8).
 *
 * @since 0.5.0
 * @category models
 */
export interface ExchangeState {
  readonly scope: HttpScope | WebSocketScope
  readonly receive: Receive
  readonly send: Send
  done: boolean
  trailers: EgiHeaders | undefined
  disconnect: HttpDisconnect | undefined
  /** The whole body, read once (`arrayBuffer`), shared by every view. */
  bytes: Effect.Effect<ArrayBuffer, HttpServerError> | undefined
  phase: "start" | "head" | "complete" | "upgraded" | "reset"
  responseTrailers: Effect.Effect<EgiHeaders> | undefined
  neverIndex: ReadonlyArray<string> | undefined
}

/**
 * A fresh `ExchangeState` for one stream. A `websocket` scope's request
 * has no body: `done` from the start.
 *
 * @since 0.5.0
 * @category constructors
 */
export const makeExchange = (scope: HttpScope | WebSocketScope, receive: Receive, send: Send): ExchangeState => ({
  scope,
  receive,
  send,
  done: scope.type === "websocket",
  trailers: undefined,
  disconnect: undefined,
  bytes: undefined,
  phase: "start",
  responseTrailers: undefined,
  neverIndex: undefined
})

/**
 * The `ExchangeState` of `request` when the adapter made it (or it is a
 * `modify` view of one: views are `EgiServerRequest`s over the same state),
 * or `undefined` for a request from elsewhere (another server).
 *
 * The state is carried by the request rather than looked up by its
 * `source` in a `WeakMap`: registering every stream's scope as a weak key
 * cost ~8 % of the adapter's CPU per request, most of it in the garbage
 * collector's ephemeron tables (profiled under h2load, HTTP/1.1 hello).
 *
 * @since 0.5.0
 * @category accessors
 */
export const exchangeOf = (request: HttpServerRequest.HttpServerRequest): ExchangeState | undefined =>
  request instanceof EgiServerRequest ? request.body : undefined

/**
 * What `request.upgrade` does on a stream that can be upgraded: given the
 * request and the extra response headers of `upgradeWith`, the WebSocket.
 * The WebSocket adapter supplies one for `websocket` scopes; without one,
 * `upgrade` fails with `RequestParseError` (spec.md §12.1).
 *
 * @since 0.5.0
 * @category models
 */
export type UpgradeProvider = (
  request: HttpServerRequest.HttpServerRequest,
  options: { readonly headers?: Headers.Input | undefined }
) => Effect.Effect<Socket.Socket, HttpServerError>

/**
 * The fields a request view overrides (`modify`): all optional.
 */
interface Overrides {
  readonly url?: string | undefined
  readonly headers?: Headers.Headers | undefined
  readonly remoteAddress?: Option.Option<string> | undefined
  readonly peerAddress?: Option.Option<string> | undefined
  readonly protocol?: "http" | "https" | undefined
}

const textDecoder = new TextDecoder()
const formDecoder = new TextDecoder("utf-8", { ignoreBOM: true })

/**
 * Effect's request head from the scope's fields, which are kept in order
 * with duplicates (spec.md §3.4): `Headers.fromInput` would keep only the
 * last of a repeated name, so they are folded here, joined with `", "`
 * (RFC 9110 §5.3) and `cookie` with `"; "` (RFC 6265 §5.4); `host` is
 * `scope.authority` when no `host` field came (HTTP/2 carries it as
 * `:authority`). On a `websocket` scope, `upgrade: websocket` and
 * `connection: upgrade` are presented when absent: an HTTP/2 extended
 * CONNECT (RFC 8441) carries neither, and a route that checks them must
 * see the same request over HTTP/1.1 and HTTP/2.
 *
 * @since 0.5.0
 * @category constructors
 */
export const foldHeaders = (scope: HttpScope | WebSocketScope): Headers.Headers => {
  const record: Record<string, string> = Object.create(null)
  const fields = scope.headers
  for (let i = 0; i < fields.length; i++) {
    const [name, value] = fields[i]!
    const prior = record[name]
    record[name] = prior === undefined ? value : `${prior}${name === "cookie" ? "; " : ", "}${value}`
  }
  if (record.host === undefined && scope.authority !== null) record.host = scope.authority
  if (scope.type === "websocket") {
    record.upgrade ??= "websocket"
    record.connection ??= "upgrade"
  }
  return Headers.fromRecordUnsafe(record)
}

/** `rawPath` below `rootPath` (spec.md §4.1: `rawPath` includes it), then the query. */
const urlOf = (scope: HttpScope | WebSocketScope): string => {
  const root = scope.rootPath
  let path = scope.rawPath
  if (root !== "" && path.startsWith(root) && (path.length === root.length || path[root.length] === "/")) {
    path = path.slice(root.length)
    if (path === "") path = "/"
  }
  return targetOf({ rawPath: path, queryString: scope.queryString })
}

/**
 * Effect's `HttpServerRequest` over one EGI stream (spec.md §12.1).
 *
 * - `source` is the scope object itself (plain data, rule CORE-8), the same
 *   for every `modify` view, so it keys per-stream state.
 * - `method` is the scope's, upper-cased; `"GET"` for a `websocket` scope.
 * - `url` is `rawPath` (below `rootPath`) and `?queryString`, as received
 *   (ByteStrings); `originalUrl` is `scheme://authority` + `rawPath` and the
 *   query.
 * - `headers` are the scope's fields folded into Effect's record
 *   (`foldHeaders`; a `websocket` scope's with `upgrade` and `connection`).
 * - `remoteAddress` is `scope.client`'s host.
 * - `stream` pulls `receive` once per pull (`ExchangeState`); it fails with
 *   `HttpServerError` (`RequestParseError`, reason `BodyTooLarge` or
 *   `Parse`) when the runner refused the body, and with an interruption
 *   annotated `ClientAbort` when the client went away.
 * - `arrayBuffer` (and `text`, `json`, `urlParamsBody`) reads the body whole
 *   once, within `HttpIncomingMessage.MaxBodySize` when that is set
 *   (`content-length` checked first, then the bytes counted: 413).
 * - `multipartStream`/`multipart` run effect's own multipart parser over
 *   `stream`.
 * - `upgrade` uses the `UpgradeProvider` given, else fails with
 *   `RequestParseError` ("not an upgradeable request").
 *
 * @since 0.5.0
 * @category models
 */
export class EgiServerRequest extends Inspectable.Class implements HttpServerRequest.HttpServerRequest {
  readonly [HttpServerRequest.TypeId]: typeof HttpServerRequest.TypeId
  readonly [HttpIncomingMessage.TypeId]: typeof HttpIncomingMessage.TypeId
  readonly source: HttpScope | WebSocketScope
  readonly body: ExchangeState
  readonly url: string
  readonly protocol: "http" | "https" | undefined
  private readonly upgrader: UpgradeProvider | undefined
  private readonly overrides: Overrides
  private headersCache: Headers.Headers | undefined
  private cookiesCache: Record<string, string> | undefined

  constructor(body: ExchangeState, upgrade?: UpgradeProvider, overrides: Overrides = {}) {
    super()
    this[HttpServerRequest.TypeId] = HttpServerRequest.TypeId
    this[HttpIncomingMessage.TypeId] = HttpIncomingMessage.TypeId
    this.source = body.scope
    this.body = body
    this.upgrader = upgrade
    this.overrides = overrides
    this.url = overrides.url ?? urlOf(body.scope)
    this.protocol = overrides.protocol
    this.headersCache = overrides.headers
  }

  toJSON(): unknown {
    return HttpIncomingMessage.inspect(this, {
      _id: "HttpServerRequest",
      method: this.method,
      url: UrlParams.redactUrl(this.originalUrl)
    })
  }

  modify(options: Overrides): HttpServerRequest.HttpServerRequest {
    const o = this.overrides
    return new EgiServerRequest(this.body, this.upgrader, {
      url: options.url ?? this.url,
      headers: options.headers ?? o.headers,
      remoteAddress: "remoteAddress" in options ? options.remoteAddress : o.remoteAddress,
      peerAddress: options.peerAddress ?? o.peerAddress,
      protocol: options.protocol ?? o.protocol
    })
  }

  get method(): string {
    return this.source.type === "websocket" ? "GET" : this.source.method.toUpperCase()
  }

  get originalUrl(): string {
    const s = this.source
    const target = targetOf(s)
    if (s.authority === null) return target
    const scheme = s.scheme === "ws" ? "http" : s.scheme === "wss" ? "https" : s.scheme
    return `${scheme}://${s.authority}${target}`
  }

  get headers(): Headers.Headers {
    return this.headersCache ??= foldHeaders(this.source)
  }

  get cookies(): Record<string, string> {
    return this.cookiesCache ??= Cookies.parseHeader(this.headers.cookie ?? "")
  }

  get remoteAddress(): Option.Option<string> {
    return this.overrides.remoteAddress ?? Option.fromNullishOr(this.source.client?.[0])
  }

  get peerAddress(): Option.Option<string> {
    return this.overrides.peerAddress ?? this.remoteAddress
  }

  /** A `RequestParseError` about this request, wrapped as effect's HTTP server error. */
  parseError(reason: "Parse" | "BodyTooLarge", description: string, cause?: unknown): HttpServerError {
    return new HttpServerError({
      reason: new RequestParseError(
        cause === undefined ? { request: this, reason, description } : { request: this, reason, description, cause }
      )
    })
  }

  get stream(): Stream.Stream<Uint8Array, HttpServerError> {
    return Stream.fromPull(Effect.succeed(pullBody(this)))
  }

  get arrayBuffer(): Effect.Effect<ArrayBuffer, HttpServerError> {
    return this.body.bytes ??= Effect.runSync(Effect.cached(readWhole(this)))
  }

  get text(): Effect.Effect<string, HttpServerError> {
    return Effect.map(this.arrayBuffer, (bytes) => textDecoder.decode(bytes))
  }

  get json(): Effect.Effect<Schema.Json, HttpServerError> {
    return Effect.flatMap(this.text, (text) =>
      Effect.try({
        try: () => (text === "" ? null : JSON.parse(text)) as Schema.Json,
        catch: (cause) => this.parseError("Parse", "the body is not JSON", cause)
      }))
  }

  get urlParamsBody(): Effect.Effect<UrlParams.UrlParams, HttpServerError> {
    return Effect.flatMap(this.arrayBuffer, (bytes) =>
      Effect.try({
        // A leading "?" is form data; URLSearchParams would drop it as a query prefix.
        try: () => UrlParams.fromInput(new URLSearchParams(formDecoder.decode(bytes).replace(/^\?/, "%3F"))),
        catch: (cause) => this.parseError("Parse", "the body is not form data", cause)
      }))
  }

  private multipartCache:
    | Effect.Effect<Multipart.Persisted, Multipart.MultipartError, Scope.Scope | FileSystem.FileSystem | Path.Path>
    | undefined
  get multipart(): Effect.Effect<Multipart.Persisted, Multipart.MultipartError, Scope.Scope | FileSystem.FileSystem | Path.Path> {
    return this.multipartCache ??= Effect.runSync(Effect.cached(Multipart.toPersisted(this.multipartStream)))
  }

  get multipartStream(): Stream.Stream<Multipart.Part, Multipart.MultipartError> {
    return Stream.pipeThroughChannel(
      Stream.mapError(this.stream, (cause) => Multipart.MultipartError.fromReason("InternalError", cause)),
      Multipart.makeChannel(this.headers)
    )
  }

  get upgrade(): Effect.Effect<Socket.Socket, HttpServerError> {
    return this.upgradeWith({})
  }

  upgradeWith(options: { readonly headers?: Headers.Input | undefined }): Effect.Effect<Socket.Socket, HttpServerError> {
    if (this.upgrader !== undefined) return this.upgrader(this, options)
    return Effect.fail(
      new HttpServerError({
        reason: new RequestParseError({
          request: this,
          description: "not an upgradeable request: EGI upgrades only a websocket scope (an HTTP/1.1 Upgrade: websocket or an HTTP/2 extended CONNECT)"
        })
      })
    )
  }
}

/** The interruption a client's disconnect ends the handler with: `ClientAbort`, as Node's server (499 in effect's log). */
export const clientAbort: Cause.Cause<never> = Cause.annotate(Cause.interrupt(), ClientAbort.annotation)

/** The body's end for a disconnect: client gone → `ClientAbort`, refused by the runner → `RequestParseError`. */
const disconnectCause = (request: EgiServerRequest, event: HttpDisconnect): Cause.Cause<HttpServerError> => {
  switch (event.end) {
    case "too-large":
      return Cause.fail(request.parseError("BodyTooLarge", "the request body is over the server's maxBodySize"))
    case "malformed":
      return Cause.fail(request.parseError("Parse", "the request body is malformed (its length does not match its content-length)"))
    case "timeout":
      return Cause.fail(request.parseError("Parse", "the request body stalled"))
    default:
      return clientAbort
  }
}

type BodyPull = Pull.Pull<Arr.NonEmptyReadonlyArray<Uint8Array>, HttpServerError>

/**
 * One body pull: `receive` until a non-empty chunk, the end (`Cause.done`),
 * or a disconnect. After the last chunk the trailers, when announced, are
 * read at once into `ExchangeState.trailers`.
 */
const pullBody = (request: EgiServerRequest): BodyPull => {
  const state = request.body
  const onEvent = (event: HttpRequest | { readonly type: string }): BodyPull => {
    if (event.type === "http.request") {
      const ev = event as HttpRequest
      if (!ev.moreBody) {
        state.done = true
        const chunk = ev.body
        const rest: BodyPull = chunk.length > 0 ? Effect.succeed([chunk]) : Cause.done()
        if (ev.trailers !== true) return rest
        return Effect.flatMap(state.receive, (next) => {
          if (next.type === "http.request.trailers") state.trailers = next.headers
          return rest
        })
      }
      return ev.body.length > 0 ? Effect.succeed([ev.body]) : loop
    }
    if (event.type === "http.disconnect") {
      state.disconnect ??= event as HttpDisconnect
      return Effect.failCause(disconnectCause(request, state.disconnect))
    }
    return loop
  }
  const loop: BodyPull = Effect.suspend(() => {
    if (state.disconnect !== undefined) return Effect.failCause(disconnectCause(request, state.disconnect))
    if (state.done) return Cause.done()
    return Effect.flatMap(state.receive, onEvent)
  })
  return loop
}

/** The whole body, within `MaxBodySize` when set: `content-length` checked first, then the bytes counted (413). */
const readWhole = (request: EgiServerRequest): Effect.Effect<ArrayBuffer, HttpServerError> =>
  Effect.withFiber((fiber) => {
    const max = fiber.getRef(HttpIncomingMessage.MaxBodySize)
    const limit = max === undefined ? undefined : Number(max)
    const tooLarge = () => request.parseError("BodyTooLarge", `the request body is over ${limit} bytes`)
    const declared = request.headers["content-length"]
    if (limit !== undefined && declared !== undefined && /^\d+$/.test(declared) && Number(declared) > limit) {
      return Effect.fail(tooLarge())
    }
    const chunks: Array<Uint8Array> = []
    let size = 0
    return Stream.runForEachArray(request.stream, (batch) => {
      for (const chunk of batch) {
        size += chunk.length
        chunks.push(chunk)
      }
      return limit !== undefined && size > limit ? Effect.fail(tooLarge()) : Effect.void
    }).pipe(Effect.map(() => {
      if (chunks.length === 1 && chunks[0]!.byteOffset === 0 && chunks[0]!.byteLength === chunks[0]!.buffer.byteLength) {
        return chunks[0]!.buffer as ArrayBuffer
      }
      const out = new Uint8Array(size)
      let at = 0
      for (const chunk of chunks) {
        out.set(chunk, at)
        at += chunk.length
      }
      return out.buffer
    }))
  })
