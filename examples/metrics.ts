/**
 * Prometheus metrics for any app: `withMetrics(app)` answers `/metrics`
 * with every metric of the server's registry — the runner's (spec.md
 * §8.11), the shim's (§10.7) and the app's own — in Prometheus's text
 * format, and hands every other request to `app` (here examples/hello.ts).
 *
 *     npx egi serve examples/metrics.ts
 *     curl http://127.0.0.1:8000/metrics
 *
 * The app runs in the server's context, so `Metric.snapshot` reads the
 * registry the runner writes to. Names become Prometheus names (`.` → `_`,
 * counters with `_total`), attributes become labels.
 */
import { Effect, Metric } from "effect"
import type { App, SendError } from "../src/index.ts"
import hello from "./hello.ts"

const metricName = (id: string): string => id.replace(/[^a-zA-Z0-9_:]/g, "_").replace(/^(?=[0-9])/, "_")
const labelName = (key: string): string => key.replace(/[^a-zA-Z0-9_]/g, "_").replace(/^(?=[0-9])/, "_")
const escape = (text: string): string => text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, "\\\"")
const num = (n: number | bigint): string =>
  typeof n === "bigint" ? n.toString() : n === Infinity ? "+Inf" : n === -Infinity ? "-Inf" : String(n)
const labels = (attributes: Metric.Metric.AttributeSet | undefined, extra: Record<string, string> = {}): string => {
  const pairs = Object.entries({ ...attributes, ...extra }).map(([k, v]) => `${labelName(k)}="${escape(v)}"`)
  return pairs.length === 0 ? "" : `{${pairs.join(",")}}`
}
const TYPES = { Counter: "counter", Frequency: "counter", Gauge: "gauge", Histogram: "histogram", Summary: "summary" } as const

/** A registry snapshot in Prometheus's text format (version 0.0.4): one family per metric, its series together. */
export const prometheus = (snapshots: ReadonlyArray<Metric.Metric.Snapshot>): string => {
  const families = new Map<string, Array<Metric.Metric.Snapshot>>()
  for (const s of snapshots) families.set(s.id, [...families.get(s.id) ?? [], s])
  const lines: Array<string> = []
  for (const [id, series] of families) {
    const { description, type } = series[0]!
    const name = metricName(id) + (type === "Counter" || type === "Frequency" ? "_total" : "")
    if (description !== undefined) lines.push(`# HELP ${name} ${description.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}`)
    lines.push(`# TYPE ${name} ${TYPES[type]}`)
    for (const s of series) {
      switch (s.type) {
        case "Counter":
          lines.push(`${name}${labels(s.attributes)} ${num(s.state.count)}`)
          break
        case "Gauge":
          lines.push(`${name}${labels(s.attributes)} ${num(s.state.value)}`)
          break
        case "Frequency":
          for (const [key, n] of s.state.occurrences) lines.push(`${name}${labels(s.attributes, { key })} ${n}`)
          break
        case "Histogram":
          // Effect's buckets are cumulative already; `+Inf` is the count.
          for (const [le, n] of s.state.buckets) if (le !== Infinity) lines.push(`${name}_bucket${labels(s.attributes, { le: num(le) })} ${n}`)
          lines.push(`${name}_bucket${labels(s.attributes, { le: "+Inf" })} ${s.state.count}`)
          lines.push(`${name}_sum${labels(s.attributes)} ${num(s.state.sum)}`, `${name}_count${labels(s.attributes)} ${s.state.count}`)
          break
        case "Summary":
          for (const [q, v] of s.state.quantiles) lines.push(`${name}${labels(s.attributes, { quantile: num(q) })} ${v === undefined ? "NaN" : num(v)}`)
          lines.push(`${name}_sum${labels(s.attributes)} ${num(s.state.sum)}`, `${name}_count${labels(s.attributes)} ${s.state.count}`)
          break
      }
    }
  }
  return lines.join("\n") + "\n"
}

/** `app`, with `/metrics` answered from the server's metric registry. */
export const withMetrics = <E, R>(app: App<E, R>): App<E | SendError, R> => (scope, receive, send) => {
  if (scope.type !== "http" || scope.path !== "/metrics") return app(scope, receive, send)
  return Effect.gen(function*() {
    const body = new TextEncoder().encode(prometheus(yield* Metric.snapshot))
    yield* send({ type: "http.response.start", status: 200, headers: [["content-type", "text/plain; version=0.0.4; charset=utf-8"]] })
    yield* send({ type: "http.response.body", body })
  })
}

export default withMetrics(hello)
