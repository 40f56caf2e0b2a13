/**
 * examples/metrics.ts over a real socket: after a few requests, `/metrics`
 * answers the server's registry (a fresh one, from the app's Layer) in
 * Prometheus's text format — the runner's counters, gauges and duration
 * histogram (cumulative `_bucket{le=…}`, `+Inf` equal to `_count`, `_sum`),
 * one `# TYPE` per family, every sample line well formed.
 */
import { Context, Effect, Layer, Metric } from "effect"
import { describe, expect, it } from "vitest"
import app, { prometheus } from "../../examples/metrics.ts"
import { listen } from "../support/server.ts"

/** `name{label="value",…} number`, as Prometheus's text format has it. */
const SAMPLE = /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"(,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*")*\})? (-?[0-9.eE+-]+|\+Inf|-Inf|NaN)$/

describe("examples/metrics.ts", () => {
  it("RUN-14: /metrics serves the runner's metrics in Prometheus's text format", async () => {
    const registry: Metric.MetricRegistry = new Map()
    const server = await listen(app, {}, Layer.succeed(Metric.MetricRegistry, registry) as Layer.Layer<never>)
    let text: string
    try {
      for (let i = 0; i < 3; i++) expect((await fetch(server.url + "/")).status).toBe(200)
      const res = await fetch(server.url + "/metrics")
      expect(res.status).toBe(200)
      expect(res.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8")
      text = await res.text()
    } finally {
      await server.close()
    }
    const lines = text.trimEnd().split("\n")
    for (const line of lines.filter((l) => !l.startsWith("#"))) expect(line).toMatch(SAMPLE)
    const types = lines.filter((l) => l.startsWith("# TYPE ")).map((l) => l.split(" ")[2])
    expect(new Set(types).size).toBe(types.length)

    expect(lines).toContain("# TYPE http_server_requests_total counter")
    expect(lines).toContain(`http_server_requests_total{http_request_method="GET",http_response_status_class="2xx"} 3`)
    expect(lines).toContain("# TYPE http_server_active_requests gauge")
    // The scrape itself is the one stream running.
    expect(lines).toContain("http_server_active_requests 1")
    expect(lines).toContain("# TYPE http_server_request_duration histogram")
    const buckets = lines.filter((l) => l.startsWith(`http_server_request_duration_bucket{http_request_method="GET",`))
    expect(buckets[0]).toMatch(/le="0\.0005"\} \d+$/)
    expect(buckets.at(-1)).toBe(`http_server_request_duration_bucket{http_request_method="GET",le="+Inf"} 3`)
    const counts = buckets.map((l) => Number(l.split(" ")[1]))
    expect(counts).toEqual([...counts].sort((a, b) => a - b))
    expect(lines).toContain(`http_server_request_duration_count{http_request_method="GET"} 3`)
    expect(lines.some((l) => /^http_server_request_duration_sum\{http_request_method="GET"\} [0-9.e-]+$/.test(l))).toBe(true)
  })

  it("renders frequencies, summaries and escapes label values", () => {
    const registry: Metric.MetricRegistry = new Map()
    const context = Context.make(Metric.MetricRegistry, registry) as Context.Context<never>
    Metric.withAttributes(Metric.gauge("app.temp", { description: "a\nb" }), { "room.name": "say \"hi\"\\" }).updateUnsafe(-2.5, context)
    Metric.frequency("app.colour").updateUnsafe("red", context)
    const summary = Metric.summary("app.latency", { maxAge: "1 minute", maxSize: 10, quantiles: [0.5] })
    Effect.runSync(Effect.provideService(Metric.update(summary, 4), Metric.MetricRegistry, registry))
    expect(prometheus(Metric.snapshotUnsafe(context))).toBe([
      "# HELP app_temp a\\nb",
      "# TYPE app_temp gauge",
      `app_temp{room_name="say \\"hi\\"\\\\"} -2.5`,
      "# TYPE app_colour_total counter",
      `app_colour_total{key="red"} 1`,
      "# TYPE app_latency summary",
      `app_latency{quantile="0.5"} 4`,
      "app_latency_sum 4",
      "app_latency_count 1",
      ""
    ].join("\n"))
  })
})
