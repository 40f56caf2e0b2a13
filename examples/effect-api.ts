/**
 * An Effect `HttpApi` app on EGI (spec.md §12.1): the request body is
 * decoded by the endpoint's schema (a bad body gets effect's 400 before the
 * handler runs), and the handler uses a service built once from a Layer.
 *
 *     npx egi serve examples/effect-api.ts
 *     curl -d '{"name":"Ada","times":2}' -H 'content-type: application/json' http://127.0.0.1:8000/greet
 */
import { Context, Effect, Layer, Schema, type Scope } from "effect"
import * as HttpRouter from "effect/http/HttpRouter"
import type * as HttpServerRequest from "effect/http/HttpServerRequest"
import type * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as HttpApi from "effect/http-api/HttpApi"
import * as HttpApiBuilder from "effect/http-api/HttpApiBuilder"
import * as HttpApiEndpoint from "effect/http-api/HttpApiEndpoint"
import * as HttpApiGroup from "effect/http-api/HttpApiGroup"
import { EgiHttpServer, fromHttpApp } from "../src/adapters/effect/index.ts"

/** A service the handlers use: built once per server run by its Layer. */
export class Greeter extends Context.Service<Greeter, {
  readonly greet: (name: string, times: number) => Effect.Effect<string>
  readonly served: () => number
}>()("examples/effect-api/Greeter") {
  static readonly layer = Layer.sync(Greeter)(() => {
    let count = 0
    return {
      greet: (name, times) => Effect.sync(() => {
        count++
        return Array.from({ length: times }, () => `hello, ${name}`).join("; ")
      }),
      served: () => count
    }
  })
}

/** The API: `POST /greet` with `{ name, times }` (1–5), `GET /greetings/count`. */
export const Api = HttpApi.make("GreeterApi").add(
  HttpApiGroup.make("greetings").add(
    HttpApiEndpoint.post("greet", "/greet", {
      payload: Schema.Struct({
        name: Schema.String.check(Schema.isNonEmpty()),
        times: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 5 }))
      }),
      success: Schema.Struct({ message: Schema.String })
    }),
    HttpApiEndpoint.get("count", "/greetings/count", { success: Schema.Struct({ served: Schema.Number }) })
  )
)

const GreetingsLive = HttpApiBuilder.group(Api, "greetings", (handlers) =>
  handlers
    .handle("greet", ({ payload }) =>
      Effect.gen(function*() {
        const greeter = yield* Greeter
        return { message: yield* greeter.greet(payload.name, payload.times) }
      }))
    .handle("count", () =>
      Effect.gen(function*() {
        const greeter = yield* Greeter
        return { served: greeter.served() }
      })))

/** The API's routes, as a Layer on `HttpRouter` (what `HttpRouter.serve` takes); requires `Greeter`. */
export const ApiRoutes = HttpApiBuilder.layer(Api).pipe(Layer.provide(GreetingsLive))

/** The API built into an `HttpApp` once per server run. */
export class ApiApp extends Context.Service<
  ApiApp,
  Effect.Effect<HttpServerResponse.HttpServerResponse, unknown, HttpServerRequest.HttpServerRequest | Scope.Scope>
>()("examples/effect-api/ApiApp") {}

/** What the app requires, for the CLI (a module's `layer` export): the built API, the service, the HTTP services. */
export const layer = Layer.effect(ApiApp)(
  // What the handlers need at request time (Greeter) is in the runner's context: this layer provides it.
  Effect.map(HttpRouter.toHttpEffect(ApiRoutes), (app) => app as ApiApp["Service"])
).pipe(
  Layer.provideMerge(Greeter.layer),
  Layer.provideMerge(EgiHttpServer.layerHttpServices)
)

/** The EGI app: each request runs the API. */
export default fromHttpApp(Effect.gen(function*() {
  const app = yield* ApiApp
  return yield* app
}))
