/**
 * `EgiHttp`: what HTTP/2 carries beyond request and response (spec.md §7),
 * reachable from an effect `HttpRouter`/`HttpApp` handler served by EGI
 * (`fromHttpApp`, `EgiHttpServer`; spec.md §12.1).
 *
 * Nothing here is a new requirement of the handler: every accessor needs
 * only effect's `HttpServerRequest`, and finds the stream through the
 * request the adapter made (or any `modify` view of it, all over the same
 * stream; their `source` is the EGI scope object). Served by anything else (effect's `NodeHttpServer`, a web handler)
 * a request has no EGI stream: `current` is `None`, `push`, `earlyHint`,
 * `setTrailers`, `neverIndex` and `goaway` do nothing, `reset` fails with
 * `LocalProtocolError` (rule CORE-7) — so one handler runs on both.
 *
 * The same holds per extension on EGI (spec.md §7's table): each helper
 * checks that the scope lists its extension (`http.response.push`, …), and
 * does nothing (or fails, for `reset`) where the stream has none — HTTP/1.x
 * has no reset, HTTP/1.0 no early hints, a `websocket` scope none at all.
 *
 * ```ts
 * HttpRouter.add("GET", "/", Effect.gen(function*() {
 *   yield* EgiHttp.push("/style.css")
 *   const started = Date.now()
 *   yield* EgiHttp.setTrailers(Effect.sync(() => ({ "server-timing": `app;dur=${Date.now() - started}` })))
 *   return HttpServerResponse.html(page)
 * }))
 * ```
 *
 * What a handler asks for is kept in the adapter's per-stream
 * `ExchangeState` (request.ts, found by `exchangeOf(request)`), where
 * the response writer (`handleResponse`) reads it: `responseTrailers` and
 * `neverIndex` for the start and the trailer section, `phase` `"reset"` to
 * send nothing after a reset.
 *
 * @since 0.5.0
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Headers from "effect/http/Headers"
import { HttpServerRequest } from "effect/http/HttpServerRequest"
import { LocalProtocolError, type SendError, type StreamClosedError } from "../../protocol/errors.ts"
import type { HttpOutboundEvent } from "../../protocol/events.ts"
import type {
  ConnectionExtension,
  FlowControlExtension,
  HttpExtensions,
  PriorityExtension
} from "../../protocol/extensions.ts"
import { checkNames } from "../../protocol/fields.ts"
import type { HttpScope, WebSocketScope } from "../../protocol/scope.ts"
import { fieldsFromInput, headersFromFields } from "./fields.ts"
import { type ExchangeState, exchangeOf } from "./request.ts"

/**
 * `push`'s options (spec.md §7.1): the promised request's `headers`
 * (effect's `Headers.Input`), and, for the `link` preload that replaces a
 * push where none can be promised, `as` (default: from the path's suffix)
 * and `linkParams` (`crossorigin`, `type="font/woff2"`, …).
 *
 * @since 0.5.0
 * @category models
 */
export interface PushOptions {
  readonly headers?: Headers.Input | undefined
  readonly as?: string | undefined
  readonly linkParams?: ReadonlyArray<string> | undefined
}

/**
 * A response trailer section to send after the last body (`setTrailers`):
 * fields, or an Effect that computes them when the body is done (a
 * `server-timing` that measures the whole response, a checksum of what was
 * streamed).
 *
 * @since 0.5.0
 * @category models
 */
export type TrailersInput<R = never> = Headers.Input | Effect.Effect<Headers.Input, never, R>

/**
 * One EGI stream as a handler sees it (spec.md §7): the scope and its
 * correlator, and each extension as an Effect that checks the scope lists it.
 *
 * - `push(path, options)`: `http.response.push` (§7.1) — a PUSH_PROMISE
 *   and the app run again for the promised `GET` (the same router serves
 *   it), or a `link: rel=preload` field where push is impossible; a no-op
 *   when the scope does not list it. Fails with `LocalProtocolError`
 *   (HTTP-20: after the last body, a path that is not absolute, a bad
 *   `as`/`linkParams`) or `StreamClosedError` (HTTP-9).
 * - `earlyHint(links)`: a 103 with one `link` per entry (§7.2,
 *   `http.response.early_hint`), before the response starts (HTTP-19); a
 *   no-op where not listed (HTTP/1.0).
 * - `setTrailers(t)`: adds fields to the response's trailer section
 *   (§7.3, `http.response.trailers`): the response then starts with
 *   `trailers: true` and, after its last body, sends
 *   `http.response.trailers` with the fields of every `setTrailers` call in
 *   order, Effects run then. Only before the response starts; a no-op where
 *   not listed (HTTP/1.0) or once it started. The runner sends them when the
 *   client sent `te: trailers`; on HTTP/1.1 the response then goes chunked
 *   (its `content-length` is dropped).
 * - `neverIndex(names)`: field names to send HPACK never-indexed (§7.8,
 *   `http.response.header_indexing`, HTTP/2), in the start and the
 *   trailers; fails with `LocalProtocolError` (HTTP-5) on a name that is not
 *   a lower-case token; a no-op where not listed.
 * - `requestTrailers`: the request's trailers (§7.3,
 *   `http.request.trailers`) as effect `Headers` (a repeated name joined
 *   with `", "`), once the body has been read to its end; `None` before,
 *   when the request had none, or where not listed.
 * - `reset(errorCode)`: RST_STREAM with that code (§7.4,
 *   `http.response.reset`, HTTP/2); the handler's response is then not
 *   sent. Fails with `LocalProtocolError` CORE-7 where not listed (HTTP/1.x),
 *   HTTP-22 for a code outside 0–2³²−1, HTTP-3 after a reset.
 * - `goaway`: drain the connection (§7.5, `http.goaway`); a no-op where
 *   not listed.
 * - `priority`, `flowControl`, `connection`: the extension values (§7.7,
 *   §7.6, §7.10), `None` where not listed.
 *
 * @since 0.5.0
 * @category models
 */
export interface EgiStream {
  readonly scope: HttpScope | WebSocketScope
  readonly connectionId: number
  readonly streamId: number
  readonly extensions: HttpExtensions
  readonly push: (path: string, options?: PushOptions) => Effect.Effect<void, LocalProtocolError | StreamClosedError>
  readonly earlyHint: (links: ReadonlyArray<string>) => Effect.Effect<void, LocalProtocolError | StreamClosedError>
  readonly setTrailers: <R = never>(trailers: TrailersInput<R>) => Effect.Effect<void, never, R>
  readonly neverIndex: (names: ReadonlyArray<string>) => Effect.Effect<void, LocalProtocolError>
  readonly requestTrailers: Effect.Effect<Option.Option<Headers.Headers>>
  readonly reset: (errorCode: number) => Effect.Effect<void, LocalProtocolError | StreamClosedError>
  readonly goaway: Effect.Effect<void, LocalProtocolError | StreamClosedError>
  readonly priority: Option.Option<PriorityExtension>
  readonly flowControl: Option.Option<FlowControlExtension>
  readonly connection: Option.Option<ConnectionExtension>
}

/** An `EgiStream` over the adapter's `ExchangeState` of one stream: what the handler asks for is kept there, where the response writer reads it. */
class View implements EgiStream {
  readonly scope: HttpScope | WebSocketScope
  readonly extensions: HttpExtensions
  private readonly ex: ExchangeState

  constructor(ex: ExchangeState) {
    this.ex = ex
    this.scope = ex.scope
    this.extensions = ex.scope.type === "http" ? ex.scope.extensions : {}
  }

  get connectionId(): number {
    return this.scope.connectionId
  }

  get streamId(): number {
    return this.scope.streamId
  }

  get priority(): Option.Option<PriorityExtension> {
    return Option.fromNullishOr(this.extensions["http.priority"])
  }

  get flowControl(): Option.Option<FlowControlExtension> {
    return Option.fromNullishOr(this.extensions["http.flow_control"])
  }

  get connection(): Option.Option<ConnectionExtension> {
    return Option.fromNullishOr(this.extensions["http.connection"])
  }

  private listed(name: keyof HttpExtensions): boolean {
    return this.extensions[name] !== undefined
  }

  /** `send` for the events here, none of which is a file body (no `FileSendError`). */
  private send(event: HttpOutboundEvent): Effect.Effect<void, LocalProtocolError | StreamClosedError> {
    return Effect.catchIf(this.ex.send(event), (e: SendError) => e._tag === "FileSendError", Effect.die) as Effect.Effect<
      void,
      LocalProtocolError | StreamClosedError
    >
  }

  readonly push = (path: string, options: PushOptions = {}): Effect.Effect<void, LocalProtocolError | StreamClosedError> =>
    Effect.suspend(() => {
      if (!this.listed("http.response.push")) return Effect.void
      return this.send({
        type: "http.response.push",
        path,
        headers: fieldsFromInput(options.headers),
        ...(options.as === undefined ? {} : { as: options.as }),
        ...(options.linkParams === undefined ? {} : { linkParams: options.linkParams })
      })
    })

  readonly earlyHint = (links: ReadonlyArray<string>): Effect.Effect<void, LocalProtocolError | StreamClosedError> =>
    Effect.suspend(() => (this.listed("http.response.early_hint") ? this.send({ type: "http.response.early_hint", links }) : Effect.void))

  readonly setTrailers = <R = never>(trailers: TrailersInput<R>): Effect.Effect<void, never, R> =>
    Effect.suspend(() => {
      if (!this.listed("http.response.trailers") || this.ex.phase !== "start") return Effect.void
      const add = (section: Effect.Effect<Headers.Input>) =>
        Effect.sync(() => {
          const fields = Effect.map(section, fieldsFromInput)
          const prior = this.ex.responseTrailers
          this.ex.responseTrailers = prior === undefined ? fields : Effect.zipWith(prior, fields, (a, b) => [...a, ...b])
        })
      if (!Effect.isEffect(trailers)) return add(Effect.succeed(trailers))
      return Effect.flatMap(Effect.context<R>(), (context) => add(Effect.provideContext(trailers, context)))
    })

  readonly neverIndex = (names: ReadonlyArray<string>): Effect.Effect<void, LocalProtocolError> =>
    Effect.suspend(() => {
      const bad = checkNames(names)
      if (bad !== undefined) return Effect.fail(bad)
      if (this.listed("http.response.header_indexing") && this.ex.phase === "start") {
        const prior = this.ex.neverIndex ?? []
        this.ex.neverIndex = [...prior, ...names.filter((n, i) => !prior.includes(n) && names.indexOf(n) === i)]
      }
      return Effect.void
    })

  get requestTrailers(): Effect.Effect<Option.Option<Headers.Headers>> {
    return Effect.sync(() => {
      const fields = this.ex.trailers
      return !this.listed("http.request.trailers") || fields === undefined ? Option.none() : Option.some(headersFromFields(fields))
    })
  }

  readonly reset = (errorCode: number): Effect.Effect<void, LocalProtocolError | StreamClosedError> =>
    Effect.suspend(() => {
      if (!this.listed("http.response.reset")) return Effect.fail(notListed("http.response.reset"))
      return Effect.tap(this.send({ type: "http.response.reset", errorCode }), () =>
        Effect.sync(() => {
          this.ex.phase = "reset"
        }))
    })

  get goaway(): Effect.Effect<void, LocalProtocolError | StreamClosedError> {
    return Effect.suspend(() => (this.listed("http.goaway") ? this.send({ type: "http.goaway" }) : Effect.void))
  }
}

const notListed = (name: string): LocalProtocolError =>
  new LocalProtocolError({ rule: "CORE-7", detail: `${name} is not listed for this stream (spec.md §7; HTTP/1.x has no stream reset, and a request not served by EGI has no extensions)` })

/** The stream of `request`: a view over the adapter's exchange, when EGI made the request. */
const streamOf = (request: HttpServerRequest): EgiStream | undefined => {
  const ex = exchangeOf(request)
  return ex === undefined ? undefined : new View(ex)
}

/**
 * The current request's EGI stream: `Some` when the request is served by
 * EGI's adapter (made by it, or a `modify` view of one), `None` otherwise (effect's
 * `NodeHttpServer`, a web handler).
 *
 * @since 0.5.0
 * @category accessors
 */
export const current: Effect.Effect<Option.Option<EgiStream>, never, HttpServerRequest> = Effect.map(
  HttpServerRequest,
  (request) => Option.fromNullishOr(streamOf(request))
)

const withStream = <A, E, R>(
  onNone: Effect.Effect<A, E>,
  onSome: (stream: EgiStream) => Effect.Effect<A, E, R>
): Effect.Effect<A, E, R | HttpServerRequest> =>
  Effect.flatMap(HttpServerRequest, (request) => {
    const stream = streamOf(request)
    return stream === undefined ? onNone : onSome(stream)
  })

/**
 * Promises `path` (server push, spec.md §7.1); see `EgiStream.push`. A no-op
 * off EGI and where `http.response.push` is not listed.
 *
 * @since 0.5.0
 * @category extensions
 */
export const push = (path: string, options?: PushOptions): Effect.Effect<void, LocalProtocolError | StreamClosedError, HttpServerRequest> =>
  withStream(Effect.void, (s) => s.push(path, options))

/**
 * Sends a 103 Early Hints with these `link` values (spec.md §7.2); see
 * `EgiStream.earlyHint`. A no-op off EGI and where not listed.
 *
 * @since 0.5.0
 * @category extensions
 */
export const earlyHint = (links: ReadonlyArray<string>): Effect.Effect<void, LocalProtocolError | StreamClosedError, HttpServerRequest> =>
  withStream(Effect.void, (s) => s.earlyHint(links))

/**
 * Adds response trailer fields, or an Effect computing them after the last
 * body (spec.md §7.3); see `EgiStream.setTrailers`. A no-op off EGI, where
 * `http.response.trailers` is not listed, and once the response started.
 *
 * @since 0.5.0
 * @category extensions
 */
export const setTrailers = <R = never>(trailers: TrailersInput<R>): Effect.Effect<void, never, R | HttpServerRequest> =>
  withStream(Effect.void, (s) => s.setTrailers(trailers))

/**
 * Sends these response fields HPACK never-indexed (spec.md §7.8); see
 * `EgiStream.neverIndex`. Fails with `LocalProtocolError` (HTTP-5) on a name
 * that is not a lower-case token; else a no-op off EGI and where not listed.
 *
 * @since 0.5.0
 * @category extensions
 */
export const neverIndex = (names: ReadonlyArray<string>): Effect.Effect<void, LocalProtocolError, HttpServerRequest> =>
  withStream(Effect.suspend(() => {
    const bad = checkNames(names)
    return bad === undefined ? Effect.void : Effect.fail(bad)
  }), (s) => s.neverIndex(names))

/**
 * The request's trailer fields once its body was read to the end (spec.md
 * §7.3); `None` before, without trailers, off EGI and where not listed.
 *
 * @since 0.5.0
 * @category extensions
 */
export const requestTrailers: Effect.Effect<Option.Option<Headers.Headers>, never, HttpServerRequest> = withStream(
  Effect.succeed(Option.none()),
  (s) => s.requestTrailers
)

/**
 * Resets the stream with `errorCode` (RST_STREAM, spec.md §7.4); the
 * handler's response is then not sent. Fails with `LocalProtocolError`
 * CORE-7 off EGI and where `http.response.reset` is not listed (HTTP/1.x),
 * HTTP-22 for a code outside 0–2³²−1.
 *
 * @since 0.5.0
 * @category extensions
 */
export const reset = (errorCode: number): Effect.Effect<void, LocalProtocolError | StreamClosedError, HttpServerRequest> =>
  withStream(Effect.fail(notListed("http.response.reset")), (s) => s.reset(errorCode))

/**
 * Drains the request's connection (GOAWAY on HTTP/2, `connection: close`
 * on HTTP/1.x; spec.md §7.5). A no-op off EGI.
 *
 * @since 0.5.0
 * @category extensions
 */
export const goaway: Effect.Effect<void, LocalProtocolError | StreamClosedError, HttpServerRequest> = withStream(
  Effect.void,
  (s) => s.goaway
)

/**
 * The request's `http.priority` (RFC 9218 urgency and incremental, and the
 * priority in force; spec.md §7.7); `None` off EGI.
 *
 * @since 0.5.0
 * @category extensions
 */
export const priority: Effect.Effect<Option.Option<PriorityExtension>, never, HttpServerRequest> = withStream(
  Effect.succeed(Option.none()),
  (s) => Effect.succeed(s.priority)
)

/**
 * The stream's `http.flow_control` (windows, `setLocalWindowSize`; spec.md
 * §7.6, HTTP/2 only); `None` off EGI and on HTTP/1.x.
 *
 * @since 0.5.0
 * @category extensions
 */
export const flowControl: Effect.Effect<Option.Option<FlowControlExtension>, never, HttpServerRequest> = withStream(
  Effect.succeed(Option.none()),
  (s) => Effect.succeed(s.flowControl)
)

/**
 * The stream's `http.connection` view (the correlator, `pushedBy`,
 * `pushedStreams`, `openStreams`, `closed`; spec.md §7.10); `None` off EGI.
 *
 * @since 0.5.0
 * @category extensions
 */
export const connection: Effect.Effect<Option.Option<ConnectionExtension>, never, HttpServerRequest> = withStream(
  Effect.succeed(Option.none()),
  (s) => Effect.succeed(s.connection)
)

/**
 * The request's correlator (`connectionId`, `streamId`; spec.md §3.2), as
 * EGI's log lines, spans and events carry it; `None` off EGI.
 *
 * @since 0.5.0
 * @category extensions
 */
export const correlator: Effect.Effect<
  Option.Option<{ readonly connectionId: number; readonly streamId: number }>,
  never,
  HttpServerRequest
> = withStream(Effect.succeed(Option.none()), (s) => Effect.succeed(Option.some({ connectionId: s.connectionId, streamId: s.streamId })))
