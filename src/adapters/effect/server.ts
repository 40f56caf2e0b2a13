/**
 * Effect's `HttpServer` service on EGI's runner (spec.md §12.1): a drop-in
 * for `NodeHttpServer.layer`, so that `HttpRouter.serve(...)`, `HttpApi`
 * apps and plain `HttpApp`s served with `HttpServer.serve` run on EGI's
 * listeners (h2c and HTTP/1.1 on one port, h2 and HTTP/1.1 over TLS)
 * unchanged:
 *
 * ```ts
 * HttpRouter.serve(AppLayer).pipe(
 *   Layer.provide(EgiHttpServer.layer({ port: 8000 })),
 *   Layer.launch,
 *   NodeRuntime.runMain
 * )
 * ```
 *
 * @since 0.5.0
 */
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import type { Context } from "effect"
import * as Etag from "effect/http/Etag"
import type { HttpPlatform } from "effect/http/HttpPlatform"
import * as HttpServer from "effect/http/HttpServer"
import { ServeError } from "effect/http/HttpServerError"
import * as NetAddress from "effect/net/NetAddress"
import type { App, Receive, Send } from "../../protocol/app.ts"
import type { RunnerOptions } from "../../runner/options.ts"
import { start } from "../../runner/server.ts"
import { type Handled, runExchange, ServeContext, toHandled } from "./from-http-app.ts"
import * as EgiHttpPlatform from "./platform.ts"
import { denialSend } from "./socket.ts"

const retryAfter503 = new TextEncoder().encode("no HttpApp is served yet\n")

/**
 * The server's lifespan (spec.md §6): nothing to start or stop (the
 * HttpApp's resources are the Layers around it), so both replies at once —
 * the runner then has no "lifespan not supported" line to log.
 */
const lifespan = (receive: Receive, send: Send): Effect.Effect<void, unknown> =>
  Effect.gen(function*() {
    while (true) {
      const event = yield* receive
      if (event.type === "lifespan.startup") yield* send({ type: "lifespan.startup.complete" })
      else if (event.type === "lifespan.shutdown") return yield* send({ type: "lifespan.shutdown.complete" })
    }
  })

/**
 * Starts EGI's runner (`start`, spec.md §8) for the enclosing Scope and
 * gives effect's `HttpServer` over it:
 *
 * - `address`: the bound address and port (`NetAddress.SocketAddress`);
 * - `serve(httpApp, middleware?)`: from then on every `http` stream runs
 *   `httpApp` (through `middleware`) with the context `serve` was called
 *   in (the serve-time context, as Node's server has it) plus the
 *   request; when the Scope of `serve` closes, the runner shuts down
 *   gracefully first (spec.md §8.4: in-flight streams finish within
 *   `drainTimeout`), then the app is detached. One `HttpApp` per server:
 *   a second `serve` dies. A stream that arrives before `serve` gets 503
 *   with `retry-after: 1`.
 *
 * `options` are the runner's (`RunnerOptions`, over `defaults`), with
 * `tracing` `false` unless set: effect's `HttpEffect.toHandled` already
 * makes the server span of each request when a tracer is set. Lifespan is
 * answered at once (there is nothing to start: the HttpApp's resources are
 * its Layers); a `websocket` scope runs the HttpApp too, its
 * `request.upgrade` yielding effect's `Socket` (spec.md §12.1). Fails with effect's
 * `ServeError`, whose `cause` is EGI's `ServeError` (`Options`, `Listen`,
 * `Tls`, `StartupFailed`).
 *
 * @since 0.5.0
 * @category constructors
 */
export const make = (
  options: Partial<RunnerOptions> = {}
): Effect.Effect<HttpServer.HttpServer["Service"], ServeError, Scope.Scope> =>
  Effect.gen(function*() {
    let slot: { readonly handled: Handled<unknown>; readonly context: ServeContext<unknown> } | undefined
    const dispatcher: App = (scope, receive, send) => {
      if (scope.type === "lifespan") return lifespan(receive, send)
      const served = slot
      if (served === undefined) {
        const answer = scope.type === "websocket" ? denialSend(send) : send
        return Effect.andThen(
          answer({ type: "http.response.start", status: 503, headers: [["retry-after", "1"], ["content-type", "text/plain"]] }),
          answer({ type: "http.response.body", body: retryAfter503 })
        )
      }
      return runExchange(served.handled, scope, receive, send, served.context) as Effect.Effect<void, unknown>
    }
    const server = yield* start(dispatcher, { tracing: false, ...options }).pipe(
      Effect.mapError((cause) => new ServeError({ cause }))
    )
    const address = yield* Effect.fromResult(NetAddress.inetAddressFromIpString(server.address, server.port)).pipe(
      Effect.mapError((cause) => new ServeError({ cause }))
    )
    return HttpServer.make({
      address,
      serve: (httpApp, middleware) =>
        Effect.gen(function*() {
          if (slot !== undefined) return yield* Effect.die(new Error("HttpServer.serve was called twice on one EgiHttpServer"))
          const serveScope = yield* Effect.scope
          const context = (yield* Effect.context<never>()) as Context.Context<unknown>
          slot = { handled: toHandled(httpApp, middleware) as Handled<unknown>, context: new ServeContext(context) }
          yield* Scope.addFinalizer(
            serveScope,
            Effect.ensuring(server.shutdown, Effect.sync(() => {
              slot = undefined
            }))
          )
        })
    })
  })

/**
 * Effect's `HttpServer` on EGI's runner (`make`), alone: for a program that
 * provides `HttpPlatform`, `Etag.Generator` and the Node services itself.
 *
 * @since 0.5.0
 * @category layers
 */
export const layerServer = (options: Partial<RunnerOptions> = {}): Layer.Layer<HttpServer.HttpServer, ServeError> =>
  Layer.effect(HttpServer.HttpServer)(make(options))

/**
 * What an Effect `HttpApp` may use besides the server, as
 * `NodeHttpServer.layerHttpServices` gives it: EGI's `HttpPlatform` (file
 * responses as `pathsend`/`zerocopysend`, `platform.ts`), a weak
 * `Etag.Generator`, and the Node services (`FileSystem`, `Path`, …). Also
 * what an app served with `fromHttpApp` needs for file responses.
 *
 * @since 0.5.0
 * @category layers
 */
export const layerHttpServices: Layer.Layer<NodeServices.NodeServices | HttpPlatform | Etag.Generator> = Layer.mergeAll(
  EgiHttpPlatform.layer,
  Etag.layerWeak,
  NodeServices.layer
)

/**
 * Effect's `HttpServer` on EGI's runner with the services an `HttpApp`
 * uses (`layerServer` and `layerHttpServices`): the drop-in for
 * `NodeHttpServer.layer(createServer, { port })`. `options` are EGI's
 * `RunnerOptions` (`port`, `host`, `tls`, limits, `drainTimeout`, …;
 * `tracing` defaults to `false`, see `make`).
 *
 * @since 0.5.0
 * @category layers
 */
export const layer = (
  options: Partial<RunnerOptions> = {}
): Layer.Layer<HttpServer.HttpServer | NodeServices.NodeServices | HttpPlatform | Etag.Generator, ServeError> =>
  Layer.mergeAll(layerServer(options), layerHttpServices)
