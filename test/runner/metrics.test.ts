/**
 * The runner's metrics (spec.md §8.11, RUN-14), read back with Effect's
 * Metric.snapshot: requests by method and status class, the duration
 * histogram, active streams and connections back to zero, bytes in and
 * out. Real sockets, both protocols.
 */
import { Context, Effect, Layer, Metric } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { RunnerMetrics } from "../../src/runner/metrics.ts"
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

describe("RUN-14: the series as the registry reads them", () => {
  const fresh = (attributes?: Record<string, string>) => {
    const registry: Metric.MetricRegistry = new Map()
    let context = Context.make(Metric.MetricRegistry, registry) as Context.Context<never>
    if (attributes !== undefined) context = Context.add(context, Metric.CurrentMetricAttributes, attributes)
    return { registry, context, snap: () => Metric.snapshotUnsafe(context) as ReadonlyArray<Snap> }
  }

  it("RUN-14: the duration histogram reads as Effect's own histogram fed the same durations", () => {
    const ours = fresh()
    const theirs = fresh()
    const metrics = new RunnerMetrics(ours.context as Context.Context<unknown>)
    const reference = Metric.histogram("http.server.request.duration", {
      boundaries: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      attributes: { "http.request.method": "GET" }
    })
    fc.assert(fc.property(fc.array(fc.oneof(
      fc.double({ min: 0, max: 20_000, noNaN: true }),
      // On a boundary: counted in its bucket (at or below it).
      fc.constantFrom(0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)
    ), { maxLength: 50 }), (durationsMs) => {
      for (const ms of durationsMs) {
        metrics.streamStarted()
        metrics.streamEnded("GET", 200, ms, 0, 0)
        reference.updateUnsafe(ms / 1000, theirs.context)
      }
      const a = find(ours.snap(), "http.server.request.duration", { "http.request.method": "GET" })?.state
      const b = find(theirs.snap(), "http.server.request.duration", { "http.request.method": "GET" })?.state
      if (durationsMs.length > 0 || a !== undefined) expect(a).toEqual(b)
    }), { numRuns: 100 })
  })

  it("RUN-14: servers that share a registry add up their counts; other context attributes make series of their own", () => {
    const shared = fresh()
    const one = new RunnerMetrics(shared.context as Context.Context<unknown>)
    const two = new RunnerMetrics(shared.context as Context.Context<unknown>)
    one.streamStarted()
    two.streamStarted()
    two.streamStarted()
    one.streamEnded("GET", 204, 1, 3, 5)
    one.connection(1)
    two.connection(1)
    two.rejected("concurrency")
    const snaps = shared.snap()
    expect(count(snaps, "http.server.requests", { "http.request.method": "GET", "http.response.status_class": "2xx" })).toBe(1)
    expect(find(snaps, "http.server.active_requests")?.state.value).toBe(2)
    expect(find(snaps, "egi.connections.active")?.state.value).toBe(2)
    expect(count(snaps, "http.server.request.body.size")).toBe(3)
    expect(count(snaps, "http.server.response.body.size")).toBe(5)
    expect(count(snaps, "egi.requests.rejected", { reason: "concurrency" })).toBe(1)

    const tagged = fresh({ "service.instance": "b" })
    new RunnerMetrics(tagged.context as Context.Context<unknown>).streamEnded("POST", 500, 1, 0, 0)
    const t = tagged.snap()
    expect(find(t, "http.server.requests", { "http.request.method": "POST", "http.response.status_class": "5xx", "service.instance": "b" })?.state.count).toBe(1)
  })

  it("RUN-14: a method that is not RFC 9110's or PATCH is counted as _OTHER: a client cannot grow the registry", async () => {
    const registry: Metric.MetricRegistry = new Map()
    const server = await listen(app, {}, Layer.succeed(Metric.MetricRegistry, registry) as Layer.Layer<never>)
    try {
      // Over HTTP/2 any token is a method (node:http's parser takes only the methods it knows).
      const session = await connect(server.url)
      for (let i = 0; i < 20; i++) {
        const res = await request(session, { ":method": `X-METHOD-${i}`, ":path": "/" })
        expect(res.status).toBe(404)
      }
      await closeSession(session)
    } finally {
      await server.close()
    }
    const snaps = Metric.snapshotUnsafe(Context.make(Metric.MetricRegistry, registry) as Context.Context<never>) as ReadonlyArray<Snap>
    const methods = new Set(snaps.filter((s) => s.id === "http.server.requests").map((s) => s.attributes?.["http.request.method"]))
    expect([...methods]).toEqual(["_OTHER"])
    expect(count(snaps, "http.server.requests", { "http.request.method": "_OTHER", "http.response.status_class": "4xx" })).toBe(20)
    expect(snaps.filter((s) => s.id === "http.server.request.duration").map((s) => s.attributes?.["http.request.method"])).toEqual(["_OTHER"])
  })
})
