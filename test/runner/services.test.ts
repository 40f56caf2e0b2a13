/**
 * Apps that require services (App<E, R>): every app call runs with the
 * context the server was started in (spec.md §3.3, §8) — services a Layer
 * built once for the server run, closed after its shutdown; and EGI served
 * as a Layer (`layer(app, options)`) under `Layer.launch`. Real sockets.
 */
import { Context, Effect, Fiber, Layer, Logger } from "effect"
import { describe, expect, it } from "vitest"
import type { App } from "../../src/protocol/app.ts"
import { layer } from "../../src/runner/server.ts"
import { until } from "../support/clients.ts"
import { closeSession, connect, request } from "../support/h2client.ts"
import { listen, memoryLogger } from "../support/server.ts"

/** A service with a counter: how many times it was built, how many requests it answered, whether it was closed. */
class Greeter extends Context.Service<Greeter, { readonly greet: (path: string) => Effect.Effect<string> }>()("test/Greeter") {}

const events: Array<string> = []
const GreeterLive = Layer.effect(Greeter)(
  Effect.gen(function*() {
    events.push("built")
    yield* Effect.addFinalizer(() => Effect.sync(() => void events.push("closed")))
    let n = 0
    return { greet: (path: string) => Effect.sync(() => `hello ${path} #${++n}`) }
  })
)

const app: App<unknown, Greeter> = (scope, _receive, send) =>
  Effect.gen(function*() {
    if (scope.type !== "http") return
    const text = yield* (yield* Greeter).greet(scope.path)
    yield* send({ type: "http.response.start", status: 200 })
    yield* send({ type: "http.response.body", body: new TextEncoder().encode(text) })
  })

describe("apps with requirements", () => {
  it("CORE-13: the Layer is built once for the server, every stream on both protocols gets its service, and it closes after the shutdown, not before", async () => {
    events.length = 0
    const server = await listen(app, {}, GreeterLive)
    try {
      const session = await connect(server.url)
      const a = await request(session, { ":path": "/a" })
      const b = await request(session, { ":path": "/b" })
      await closeSession(session)
      const c = await fetch(server.url + "/c").then((r) => r.text())
      expect([a.body.toString(), b.body.toString(), c]).toEqual(["hello /a #1", "hello /b #2", "hello /c #3"])
      expect(events).toEqual(["built"])
    } finally {
      await server.close()
    }
    expect(events).toEqual(["built", "closed"])
  })

  it("CORE-13: layer(app): EGI as a Layer under Layer.launch — serving while launched, drained and the app's Layer closed when interrupted", async () => {
    events.length = 0
    const { logger, lines } = memoryLogger()
    // The user's Logger, provided as users provide one: the runner's lines go through it ("auto").
    const fiber = Effect.runFork(Layer.launch(layer(app, { port: 0, drainTimeout: 500 }).pipe(Layer.provide(GreeterLive), Layer.provide(Logger.layer([logger])))))
    try {
      await until(() => lines.info.some((l) => l.startsWith("listening on ")), "listening")
      const url = /listening on (\S+)/.exec(lines.info.find((l) => l.startsWith("listening on "))!)![1]!
      expect(await fetch(url + "/x").then((r) => r.text())).toBe("hello /x #1")
      expect(events).toEqual(["built"])
    } finally {
      await Effect.runPromise(Fiber.interrupt(fiber))
    }
    expect(lines.info).toContain("shutdown complete")
    expect(events).toEqual(["built", "closed"])
  })
})
