/**
 * The runner's metrics (spec.md §8.11), as Effect `Metric`s updated in the
 * context the server was started in — so they land in the user's metric
 * registry, to be exported with the user's exporter (OpenTelemetry,
 * Prometheus). Names and attributes follow OpenTelemetry's HTTP server
 * conventions where one exists:
 *
 * - `http.server.requests` — counter, per `http.request.method` and
 *   `http.response.status_class` (`2xx` … `5xx`, `none` when nothing was
 *   sent);
 * - `http.server.request.duration` — histogram, seconds, per method;
 * - `http.server.active_requests` — gauge, streams whose app runs;
 * - `egi.connections.active` — gauge, open connections;
 * - `egi.websocket.sessions.active` — gauge, WebSockets whose app runs;
 * - `http.server.request.body.size`, `http.server.response.body.size` —
 *   counters, bytes in and out;
 * - `egi.requests.rejected` — counter, per `reason`: `concurrency` (a
 *   request or WebSocket answered 503 past `limitConcurrency`, RUN-22),
 *   `connections` (a connection refused past `maxConnections`, RUN-23).
 */
import * as Metric from "effect/Metric"
import type { Context } from "effect"

// The tagged series (per method and status class) are metrics of their own,
// made once each with their attributes: `Metric.withAttributes` would add
// the attributes to the context on every update, a copy of the server's
// context per request (HTTP/1.1 hello, same run: 34.0 → 33.6 µs server CPU
// per request). Same names, attributes and registry keys.
const REQUESTS = { description: "HTTP requests served, by method and status class", incremental: true } as const
const DURATION = {
  description: "time from the request head to the app's end, seconds",
  boundaries: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
} as const
const REJECTIONS = { description: "requests and connections refused by admission control, by reason", incremental: true } as const
const activeRequests = Metric.gauge("http.server.active_requests", { description: "streams whose app is running" })
const activeConnections = Metric.gauge("egi.connections.active", { description: "open connections" })
const activeSockets = Metric.gauge("egi.websocket.sessions.active", { description: "WebSockets whose app is running" })
const bytesIn = Metric.counter("http.server.request.body.size", { description: "request body bytes delivered to apps", incremental: true })
const bytesOut = Metric.counter("http.server.response.body.size", { description: "response body bytes handed to the wire", incremental: true })

/** Why admission control refused: `limitConcurrency` (a request or WebSocket) or `maxConnections` (a connection). */
export type RejectReason = "concurrency" | "connections"

const CLASSES = ["none", "1xx", "2xx", "3xx", "4xx", "5xx"] as const
const statusClass = (status: number): string => CLASSES[Math.floor(status / 100)] ?? "none"

/** The runner's metrics, updated without a fiber in `context` (the server's). One per server. */
export class RunnerMetrics {
  private readonly context: Context.Context<never>
  /** Tagged series, made once per method and status class: the set is small, and a request allocates nothing to find its own. */
  private readonly requestSeries = new Map<string, Map<string, Metric.Metric<number, unknown>>>()
  private readonly durationSeries = new Map<string, Metric.Metric<number, unknown>>()
  private readonly rejectedSeries = new Map<RejectReason, Metric.Metric<number, unknown>>()
  private streams = 0
  private connections = 0
  private sockets = 0

  constructor(context: Context.Context<unknown>) {
    this.context = context as Context.Context<never>
  }

  /** A stream's app started. */
  streamStarted(): void {
    activeRequests.updateUnsafe(++this.streams, this.context)
  }

  /** A stream's app ended: counts the request, its duration (ms) and its bytes. */
  streamEnded(method: string, status: number, ms: number, inBytes: number, outBytes: number): void {
    activeRequests.updateUnsafe(--this.streams, this.context)
    const cls = statusClass(status)
    let byClass = this.requestSeries.get(method)
    if (byClass === undefined) this.requestSeries.set(method, byClass = new Map())
    let series = byClass.get(cls)
    if (series === undefined) {
      series = Metric.counter("http.server.requests", { ...REQUESTS, attributes: { "http.request.method": method, "http.response.status_class": cls } })
      byClass.set(cls, series)
    }
    series.updateUnsafe(1, this.context)
    let hist = this.durationSeries.get(method)
    if (hist === undefined) {
      hist = Metric.histogram("http.server.request.duration", { ...DURATION, attributes: { "http.request.method": method } })
      this.durationSeries.set(method, hist)
    }
    hist.updateUnsafe(ms / 1000, this.context)
    if (inBytes > 0) bytesIn.updateUnsafe(inBytes, this.context)
    if (outBytes > 0) bytesOut.updateUnsafe(outBytes, this.context)
  }

  /** A connection opened (+1) or closed (-1). */
  connection(delta: 1 | -1): void {
    this.connections += delta
    activeConnections.updateUnsafe(this.connections, this.context)
  }

  /** Admission control refused a request or a connection (`reason`). */
  rejected(reason: RejectReason): void {
    let series = this.rejectedSeries.get(reason)
    if (series === undefined) this.rejectedSeries.set(reason, series = Metric.counter("egi.requests.rejected", { ...REJECTIONS, attributes: { reason } }))
    series.updateUnsafe(1, this.context)
  }

  /** A WebSocket's app started (+1) or ended (-1). */
  socket(delta: 1 | -1): void {
    this.sockets += delta
    activeSockets.updateUnsafe(this.sockets, this.context)
  }
}
