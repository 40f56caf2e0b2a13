/**
 * An Effect `HttpRouter` app on EGI (spec.md §12.1): routes with a path
 * parameter, JSON, a streamed response, a streamed upload echo (the body is
 * never held whole: each chunk goes back as it arrives), and a file
 * download through `HttpServerResponse.file` (sent as
 * `http.response.pathsend` where the stream lists it).
 *
 *     npx egi serve examples/effect-router.ts
 *     curl --http2-prior-knowledge http://127.0.0.1:8000/users/42
 *     curl -T big.bin http://127.0.0.1:8000/upload -o echoed.bin
 *
 * Or with effect's own launcher, as with `NodeHttpServer`:
 *
 *     HttpRouter.serve(Routes).pipe(Layer.provide(EgiHttpServer.layer({ port: 8000 })), Layer.launch, NodeRuntime.runMain)
 */
import { Context, Effect, Layer, type Scope, Schedule, Stream } from "effect"
import type { HttpPlatform } from "effect/http/HttpPlatform"
import * as HttpRouter from "effect/http/HttpRouter"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import { fileURLToPath } from "node:url"
import { EgiHttpServer, fromHttpApp } from "../src/adapters/effect/index.ts"

/** This module's own source: what `GET /file` downloads. */
export const downloadPath = fileURLToPath(import.meta.url)

const encoder = new TextEncoder()

/** The routes, as a Layer on `HttpRouter` (what `HttpRouter.serve` takes). */
export const Routes = Layer.mergeAll(
  HttpRouter.add("GET", "/", HttpServerResponse.text("hello from an HttpRouter on EGI\n")),
  HttpRouter.add("GET", "/json", HttpServerResponse.json({ server: "egi", interface: "effect-http" })),
  HttpRouter.add(
    "GET",
    "/users/:id",
    Effect.gen(function*() {
      const { id } = yield* HttpRouter.params
      return yield* HttpServerResponse.json({ id, name: `user ${id}` })
    })
  ),
  HttpRouter.add(
    "GET",
    "/stream",
    HttpServerResponse.stream(
      Stream.range(1, 5).pipe(
        Stream.schedule(Schedule.spaced("10 millis")),
        Stream.map((n) => encoder.encode(`line ${n}\n`))
      ),
      { contentType: "text/plain" }
    )
  ),
  HttpRouter.add(
    "POST",
    "/upload",
    Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const type = request.headers["content-type"] ?? "application/octet-stream"
      return HttpServerResponse.stream(request.stream, { contentType: type })
    })
  ),
  HttpRouter.add("GET", "/file", HttpServerResponse.file(downloadPath, { contentType: "text/plain" }))
)

/** The router built once per server run: the `HttpApp` that `default` serves. */
export class RouterApp extends Context.Service<
  RouterApp,
  Effect.Effect<HttpServerResponse.HttpServerResponse, unknown, HttpServerRequest.HttpServerRequest | Scope.Scope | HttpPlatform>
>()("examples/effect-router/RouterApp") {}

/** What the app requires, for the CLI (a module's `layer` export): the built router and the HTTP services (files). */
export const layer = Layer.effect(RouterApp)(HttpRouter.toHttpEffect(Routes)).pipe(
  Layer.provideMerge(EgiHttpServer.layerHttpServices)
)

/** The EGI app: each request runs the router. */
export default fromHttpApp(Effect.gen(function*() {
  const app = yield* RouterApp
  return yield* app
}))
