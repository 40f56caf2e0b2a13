/**
 * The in-memory client's `http.connection` view (spec.md §7.10, HTTP-31):
 * as on the wire, the stream is listed while its app runs, and the
 * connection's `closed` completes once the exchange is over.
 */
import { Effect, Fiber } from "effect"
import { describe, expect, it } from "vitest"
import type { App } from "../../src/protocol/app.ts"
import type { ConnectionExtension } from "../../src/protocol/extensions.ts"
import { request } from "../../src/testing/client.ts"

describe("request(): the connection view", () => {
  it("HTTP-31: openStreams lists the stream while its app runs; closed completes after the exchange", async () => {
    let open: ReadonlyArray<number> = []
    let view: ConnectionExtension | undefined
    const app: App = (scope, _receive, send) =>
      Effect.gen(function*() {
        if (scope.type !== "http") return
        view = scope.extensions["http.connection"]
        open = yield* view!.openStreams
        yield* send({ type: "http.response.start", status: 200 })
        yield* send({ type: "http.response.body", body: new TextEncoder().encode("ok") })
      })
    const res = await Effect.runPromise(request(app, { method: "GET", path: "/" }))
    expect(res.status).toBe(200)
    expect(open).toEqual([1])
    const closed = Effect.runFork(view!.closed)
    await new Promise((r) => setTimeout(r, 10))
    expect(closed.pollUnsafe()).toBeDefined()
    expect(await Effect.runPromise(view!.openStreams)).toEqual([])
    await Effect.runPromise(Fiber.join(closed))
  })
})
