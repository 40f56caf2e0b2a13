/**
 * `serveTest` (egi/testing): an app served for the test's Scope with an
 * HTTP/2 client on it, in an @effect/vitest test; what the app requires
 * the test provides, and the server and its Layer close with the Scope.
 */
import { it } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { expect } from "vitest"
import type { App } from "../../src/protocol/app.ts"
import { serveTest } from "../../src/testing/serve.ts"

class Name extends Context.Service<Name, { readonly value: string }>()("test/Name") {}
const closed: Array<string> = []
const NameLive = Layer.effect(Name)(
  Effect.gen(function*() {
    yield* Effect.addFinalizer(() => Effect.sync(() => void closed.push("name")))
    return { value: "egi" }
  })
)

const app: App<unknown, Name> = (scope, receive, send) =>
  Effect.gen(function*() {
    if (scope.type !== "http") return
    let size = 0
    while (true) {
      const event = yield* receive
      if (event.type !== "http.request") break
      size += event.body.length
      if (!event.moreBody) break
    }
    const { value } = yield* Name
    yield* send({ type: "http.response.start", status: 200, headers: [["x-name", value]] })
    yield* send({ type: "http.response.body", body: new TextEncoder().encode(`${scope.method} ${scope.path} ${size}`) })
  })

it.live("CORE-13: serveTest serves the app for the test's scope, with its Layer, and an HTTP/2 client on it", () =>
  Effect.gen(function*() {
    closed.length = 0
    yield* Effect.scoped(
      Effect.gen(function*() {
        const server = yield* serveTest(app)
        expect(server.url).toBe(`http://127.0.0.1:${server.port}`)
        const get = yield* server.request("/hello")
        expect([get.status, get.headers["x-name"], new TextDecoder().decode(get.body)]).toEqual([200, "egi", "GET /hello 0"])
        const post = yield* server.request("/up", { ":method": "POST" }, "12345")
        expect(new TextDecoder().decode(post.body)).toBe("POST /up 5")
      }).pipe(Effect.provide(NameLive))
    )
    expect(closed).toEqual(["name"])
  }))
