/**
 * The shim's metrics (spec.md §10.7, CLASSIC-15) over a real socket, read
 * back from the registry the server runs with (a fresh one, provided by the
 * app's Layer, beside the runner's own metrics): queue depth and busy
 * workers while a one-worker pool has more requests than it runs, back to
 * 0 after; a restart per crash and per timeout, by cause.
 */
import { Context, Layer, Metric } from "effect"
import { describe, expect, it } from "vitest"
import { fromClassic } from "../../src/shim/shim.ts"
import { until } from "../support/clients.ts"
import { closeSession, connect, request } from "../support/h2client.ts"
import { listen, type TestServer } from "../support/server.ts"

const FIXTURE = new URL("./fixtures/classic-app.ts", import.meta.url).href
const quiet = { error: () => {}, info: () => {} }

const registry: Metric.MetricRegistry = new Map()
const registryContext = Context.make(Metric.MetricRegistry, registry)
const snapshot = () => Metric.snapshotUnsafe(registryContext)
const state = (id: string, attrs: Record<string, string> = {}): any =>
  snapshot().find((s) => s.id === id && Object.entries(attrs).every(([k, v]) => s.attributes?.[k] === v))?.state
const depth = (): number | undefined => state("egi.shim.queue.depth")?.value
const busy = (): number | undefined => state("egi.shim.workers.busy")?.value
const restarts = (cause: string): number | undefined => state("egi.shim.worker.restarts", { "egi.shim.restart.cause": cause })?.count

describe("the shim's metrics", () => {
  it("CLASSIC-15: queue depth and busy workers rise while a 1-worker pool is behind and return to 0; crashes and timeouts count as restarts, by cause", async () => {
    const classic = fromClassic({ module: FIXTURE, export: "app" }, { workers: 1, pipeline: 2, timeout: 500, logger: quiet })
    const server: TestServer = await listen(classic, {}, Layer.succeed(Metric.MetricRegistry, registry) as Layer.Layer<never>)
    const session = await connect(server.url)
    try {
      // Bound at startup (lifespan): every series is there, at 0.
      expect({ depth: depth(), busy: busy(), crash: restarts("crash"), timeout: restarts("timeout") })
        .toEqual({ depth: 0, busy: 0, crash: 0, timeout: 0 })

      // One running, one queued on the worker (pipeline 2), two in the pool's queue.
      const blocked = [1, 2, 3, 4].map(() => request(session, { ":method": "GET", ":path": "/block?ms=200" }))
      await until(() => depth() === 3 && busy() === 1, "3 requests waiting, 1 worker busy")
      const all = await Promise.all(blocked)
      expect(all.map((r) => r.status)).toEqual([200, 200, 200, 200])
      await until(() => depth() === 0 && busy() === 0, "the gauges back to 0")

      const crashed = await request(session, { ":method": "GET", ":path": "/crash" })
      expect(crashed.status).toBe(500)
      await until(() => restarts("crash") === 1, "a restart for the crash")
      const spun = await request(session, { ":method": "GET", ":path": "/spin" })
      expect(spun.status).toBe(504)
      await until(() => restarts("timeout") === 1, "a restart for the timeout")
      await until(() => classic.pool.size() === 1, "the replacement worker")
      expect((await request(session, { ":method": "GET", ":path": "/environ" })).status).toBe(200)
      expect({ depth: depth(), busy: busy(), crash: restarts("crash") }).toEqual({ depth: 0, busy: 0, crash: 1 })
      // The same registry holds the runner's metrics: the shim's are in the server's context.
      expect(state("http.server.requests", { "http.request.method": "GET", "http.response.status_class": "2xx" })?.count).toBe(5)
    } finally {
      await closeSession(session)
      await server.close()
    }
    expect(classic.pool.metrics.counts()).toEqual({ queued: 0, busy: 0 })
  })
})
