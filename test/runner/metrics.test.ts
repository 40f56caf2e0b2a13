/**
 * The runner's metrics (spec.md §8.11, RUN-14), read back with Effect's
 * Metric.snapshot: requests by method and status class, the duration
 * histogram, active streams and connections back to zero, bytes in and
 * out. Real sockets, both protocols.
 */
import { Effect, Metric } from "effect"
import { describe, expect, it } from "vitest"
import type { App } from "../../src/protocol/app.ts"
import { until } from "../support/clients.ts"
import { closeSession, connect, request } from "../support/h2client.ts"
import { listen } from "../support/server.ts"

type Snap = { readonly id: string; readonly attributes?: Readonly<Record<string, unknown>> | undefined; readonly state: any }

const snapshot = (): ReadonlyArray<Snap> => Effect.runSync(Metric.snapshot) as ReadonlyArray<Snap>
const find = (snaps: ReadonlyArray<Snap>, id: string, attrs: Record<string, string> = {}): Snap | undefined =>
  snaps.find((s) => s.id === id && Object.entries(attrs).every(([k, v]) => s.attributes?.[k] === v))
const count = (snaps: ReadonlyArray<Snap>, id: string, attrs: Record<string, string> = {}): number => find(snaps, id, attrs)?.state.count ?? 0

/** GET answers 200 "hello"; POST reads the body and answers 404. */
const app: App = (scope, receive, send) =>
  Effect.gen(function*() {
    if (scope.type !== "http") return
    if (scope.path === "/boom") return yield* Effect.die(new Error("boom"))
    while (true) {
      const event = yield* receive
      if (event.type !== "http.request" || !event.moreBody) break
    }
    yield* send({ type: "http.response.start", status: scope.method === "GET" ? 200 : 404 })
    yield* send({ type: "http.response.body", body: new TextEncoder().encode("hello") })
  })

describe("RUN-14: the runner's metrics", () => {
  it("RUN-14: requests by method and status class, duration, bytes in and out; active streams and connections return to 0", async () => {
    const before = snapshot()
    const server = await listen(app)
    try {
      const session = await connect(server.url)
      await request(session, { ":path": "/a" })
      await request(session, { ":path": "/b" })
      await closeSession(session)
      const r = await fetch(server.url + "/c", { method: "POST", body: "12345" })
      expect(r.status).toBe(404)
      // An app that fails gets the runner's 500, and is counted as the 500 it got.
      expect((await fetch(server.url + "/boom")).status).toBe(500)
    } finally {
      await server.close()
    }
    // A socket's close event comes a tick after the shutdown destroyed it.
    await until(() => find(snapshot(), "egi.connections.active")?.state.value === 0, "the connection gauge back to 0")
    const after = snapshot()
    const delta = (id: string, attrs?: Record<string, string>) => count(after, id, attrs) - count(before, id, attrs)
    expect(delta("http.server.requests", { "http.request.method": "GET", "http.response.status_class": "2xx" })).toBe(2)
    expect(delta("http.server.requests", { "http.request.method": "POST", "http.response.status_class": "4xx" })).toBe(1)
    expect(delta("http.server.requests", { "http.request.method": "GET", "http.response.status_class": "5xx" })).toBe(1)
    expect(delta("http.server.request.duration", { "http.request.method": "GET" })).toBe(3)
    expect(delta("http.server.request.body.size")).toBe(5)
    // Three "hello"s and the 500's "Internal Server Error\n".
    expect(delta("http.server.response.body.size")).toBe(15 + 22)
    expect({ streams: find(after, "http.server.active_requests")?.state.value, connections: find(after, "egi.connections.active")?.state.value }).toEqual({ streams: 0, connections: 0 })
  })
})
