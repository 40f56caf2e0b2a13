/**
 * An Effect `HttpRouter` app that uses what HTTP/2 carries (spec.md §7,
 * §12.1) through `EgiHttp`: `GET /` pushes its stylesheet (a PUSH_PROMISE
 * before the page's HEADERS; the pushed `GET /style.css` runs this same
 * router) and ends with a `server-timing` trailer measured after the last
 * body. Where a feature is missing the handler needs no check: on HTTP/1.1
 * the push becomes a `link: </style.css>; rel=preload; as=style` field, and
 * trailers go only to a client that sent `te: trailers` (spec.md §7.3).
 * Served by effect's `NodeHttpServer` instead, the same handlers run and
 * `EgiHttp` does nothing.
 *
 *     npx egi serve examples/effect-push.ts
 *     nghttp -v -H 'te: trailers' http://127.0.0.1:8000/   # PUSH_PROMISE, both responses, the trailer
 *     curl -si http://127.0.0.1:8000/ | grep link          # HTTP/1.1: the preload link
 */
import { Context, Effect, Layer, type Scope } from "effect"
import * as HttpRouter from "effect/http/HttpRouter"
import type * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as EgiHttp from "../src/adapters/effect/egi-http.ts"
import { fromHttpApp } from "../src/adapters/effect/index.ts"

/** The page, which links the stylesheet it pushes. */
export const page = `<!doctype html><link rel="stylesheet" href="/style.css"><h1>pushed by an HttpRouter</h1>\n`

/** The stylesheet. */
export const css = "h1 { color: rebeccapurple }\n"

/** The routes, as a Layer on `HttpRouter`. */
export const Routes = Layer.mergeAll(
  HttpRouter.add(
    "GET",
    "/",
    Effect.gen(function*() {
      const started = performance.now()
      yield* EgiHttp.push("/style.css", { headers: { accept: "text/css" } })
      // Run after the last body: the time the whole response took.
      yield* EgiHttp.setTrailers(Effect.sync(() => ({ "server-timing": `app;dur=${(performance.now() - started).toFixed(2)}` })))
      return HttpServerResponse.html(page)
    }).pipe(Effect.orDie)
  ),
  HttpRouter.add("GET", "/style.css", HttpServerResponse.text(css, { contentType: "text/css" }))
)

/** The router, built once per server run. */
export class PushRouter extends Context.Service<
  PushRouter,
  Effect.Effect<HttpServerResponse.HttpServerResponse, unknown, HttpServerRequest.HttpServerRequest | Scope.Scope>
>()("examples/effect-push/PushRouter") {}

/** What the app requires (the CLI builds a module's `layer` export once): the built router. */
export const layer = Layer.effect(PushRouter)(HttpRouter.toHttpEffect(Routes))

/** The EGI app: each request, the pushed ones included, runs the router. */
export default fromHttpApp(Effect.flatMap(PushRouter, (router) => router))
