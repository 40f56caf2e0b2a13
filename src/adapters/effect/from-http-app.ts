/**
 * An Effect `HttpApp` (an `Effect<HttpServerResponse, E, R>` that reads the
 * `HttpServerRequest` service: an `HttpRouter`'s, an `HttpApi`'s, or one
 * written by hand) as an EGI app (spec.md §12.1).
 *
 * @since 0.5.0
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type { Scope } from "effect"
import * as HttpEffect from "effect/http/HttpEffect"
import type { HttpMiddleware } from "effect/http/HttpMiddleware"
import { HttpServerRequest } from "effect/http/HttpServerRequest"
import type { HttpServerResponse } from "effect/http/HttpServerResponse"
import type { App, Receive, Send } from "../../protocol/app.ts"
import type { HttpScope, WebSocketScope } from "../../protocol/scope.ts"
import { unsupportedScope } from "../../protocol/unsupported.ts"
import { EgiServerRequest, makeExchange, type UpgradeProvider } from "./request.ts"
import { handleResponse } from "./respond.ts"
import { denialSend, WebSocketUpgrade } from "./socket.ts"

/**
 * A handled `HttpApp`, as `HttpEffect.toHandled` makes it with this
 * adapter's `handleResponse`: it answers the request in the context's
 * `HttpServerRequest` and never fails but for what it already answered.
 *
 * @since 0.5.0
 * @category models
 */
export type Handled<R> = Effect.Effect<void, never, R | HttpServerRequest>

/**
 * The handled `HttpApp` of `httpApp` and `middleware` (spec.md §12.1):
 * `HttpEffect.toHandled` with EGI's `handleResponse`.
 *
 * @since 0.5.0
 * @category constructors
 */
export const toHandled = <E, R>(
  httpApp: Effect.Effect<HttpServerResponse, E, R>,
  middleware?: HttpMiddleware
): Handled<Exclude<R, HttpServerRequest | Scope.Scope>> =>
  HttpEffect.toHandled(httpApp, handleResponse, middleware) as Handled<Exclude<R, HttpServerRequest | Scope.Scope>>

/**
 * The serve-time context of an `HttpServer` (`HttpServer.serve` was called
 * in it, HTTPAPP-7) over the context of the fiber a stream runs in (the
 * runner's, CORE-13): `over(fiberContext)` is both, the serve-time
 * services winning.
 *
 * The merge is kept for the last fiber context it was made for. The runner
 * forks every stream in one context (unless its tracing gives each stream a
 * span), so it is made once, not per request: `Context.merge` copies both
 * service maps, which was ~7 % of the adapter's CPU per request (profiled
 * in process, HttpRouter hello); a request then adds one overlay to it, as
 * `NodeHttpServer` adds the request to its serve-time context.
 *
 * @since 0.5.0
 * @category models
 */
export class ServeContext<R> {
  readonly context: Context.Context<R>
  private under: Context.Context<never> | undefined = undefined
  private merged: Context.Context<R>

  constructor(context: Context.Context<R>) {
    this.context = context
    this.merged = context
  }

  over(fiberContext: Context.Context<never>): Context.Context<R> {
    if (fiberContext !== this.under) {
      this.under = fiberContext
      this.merged = Context.merge(fiberContext, this.context)
    }
    return this.merged
  }
}

/**
 * Runs `handled` for one EGI stream in the calling fiber (the app's own,
 * spec.md §12.1): a fresh `EgiServerRequest` over the scope, `receive` and
 * `send` as its `HttpServerRequest`, with the serve-time context of an
 * `HttpServer` over the fiber's (`ServeContext`) when given, else the
 * fiber's (the runner's, CORE-13).
 * On a `websocket` scope `request.upgrade` accepts the WebSocket
 * (`WebSocketUpgrade`, or `upgrade` when given) and a response the handler
 * returns instead is sent as the handshake's denial (`denialSend`).
 *
 * Its outcome as an EGI app: success once the response went out; a failure
 * that effect already answered (the response is complete) or that is only
 * the client going away is not repeated; any other failure with the
 * response incomplete is the app's failure, which the runner answers
 * (500 before the head, a reset after, RUN-2/RUN-3).
 *
 * @since 0.5.0
 * @category combinators
 */
export const runExchange = <R>(
  handled: Handled<R>,
  scope: HttpScope | WebSocketScope,
  receive: Receive,
  send: Send,
  serve?: ServeContext<R>,
  upgrade?: UpgradeProvider
): Effect.Effect<void, unknown, R> => {
  const websocket = scope.type === "websocket"
  const exchange = makeExchange(scope, receive, websocket ? denialSend(send) : send)
  const request = new EgiServerRequest(exchange, upgrade ?? (websocket ? new WebSocketUpgrade(scope, receive, send).upgradeWith : undefined))
  const provided = serve === undefined
    ? Effect.provideService(handled, HttpServerRequest, request)
    : Effect.updateContext(handled, (fiberContext: Context.Context<never>) => Context.add(serve.over(fiberContext), HttpServerRequest, request))
  return Effect.catchCause(provided, (cause) =>
    exchange.phase === "complete" || exchange.phase === "upgraded" || exchange.phase === "reset" || Cause.hasInterruptsOnly(cause)
      ? Effect.void
      : Effect.failCause(cause)) as Effect.Effect<void, unknown, R>
}

/**
 * An Effect `HttpApp` as an EGI app (spec.md §12.1): each `http` stream
 * runs `httpApp` (through `middleware`, when given) with an
 * `HttpServerRequest` over the stream and sends its `HttpServerResponse`
 * (`handleResponse`), in the app's own fiber, so with the runner's context
 * (CORE-13): what `httpApp` requires besides the request and its Scope is
 * the EGI app's `R`, provided to the runner (the CLI provides a module's
 * `layer` export). Needs `HttpPlatform` for file responses
 * (`EgiHttpServer.layerHttpServices`). A `websocket` scope (HTTP/1.1
 * Upgrade or HTTP/2 extended CONNECT) runs `httpApp` too, as a `GET` whose
 * `request.upgrade` yields effect's `Socket` (spec.md §12.1). Lifespan fails
 * with `UnsupportedScopeError` (CORE-4): the app serves without lifespan.
 *
 * ```ts
 * const app = fromHttpApp(HttpServerResponse.text("hello"))
 * export default app
 * ```
 *
 * @since 0.5.0
 * @category constructors
 */
export const fromHttpApp = <E, R>(
  httpApp: Effect.Effect<HttpServerResponse, E, R>,
  options: { readonly middleware?: HttpMiddleware | undefined } = {}
): App<unknown, Exclude<R, HttpServerRequest | Scope.Scope>> => {
  const handled = toHandled(httpApp, options.middleware)
  return (scope, receive, send) => scope.type === "lifespan" ? unsupportedScope(scope) : runExchange(handled, scope, receive, send)
}
