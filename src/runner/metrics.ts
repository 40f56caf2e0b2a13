/**
 * The runner's metrics (spec.md §8.11), as Effect `Metric`s in the registry
 * of the context the server was started in — so they land in the user's
 * metric registry, to be exported with the user's exporter (OpenTelemetry,
 * Prometheus). Names and attributes follow OpenTelemetry's HTTP server
 * conventions where one exists:
 *
 * - `http.server.requests` — counter, per `http.request.method` (`_OTHER`
 *   for a method that is not one of RFC 9110's or PATCH) and
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
 *
 * The values are kept in plain numbers and registered with
 * `Metric.registerUnsafe`, which reads them when the registry is
 * snapshotted (by `Metric.snapshot` or an exporter), instead of five
 * `Metric` updates per request: each update looks the registry and the
 * context's metric attributes up again, about a fifth of what the runner
 * itself spent per HTTP/1.1 hello (CPU profile). Pinned A/B, 9 rounds,
 * same run: server CPU per request 34.3 → 32.5 µs over HTTP/1.1, 21.3 →
 * 20.3 µs over h2c. Servers that share a registry and attributes share
 * the series, and their counts add up, as updates to one series would.
 * These series take no `Metric.update` of anyone else's (their update
 * hooks are no-ops, as `registerUnsafe` says).
 */
import * as Context from "effect/Context"
import * as Metric from "effect/Metric"

const REQUESTS = { description: "HTTP requests served, by method and status class", incremental: true } as const
/** The duration histogram's bucket boundaries, seconds, ascending. */
const BOUNDARIES: ReadonlyArray<number> = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
const DURATION = { description: "time from the request head to the app's end, seconds", boundaries: BOUNDARIES } as const
const REJECTIONS = { description: "requests and connections refused by admission control, by reason", incremental: true } as const
const activeRequests = Metric.gauge("http.server.active_requests", { description: "streams whose app is running" })
const activeConnections = Metric.gauge("egi.connections.active", { description: "open connections" })
const activeSockets = Metric.gauge("egi.websocket.sessions.active", { description: "WebSockets whose app is running" })
const bytesIn = Metric.counter("http.server.request.body.size", { description: "request body bytes delivered to apps", incremental: true })
const bytesOut = Metric.counter("http.server.response.body.size", { description: "response body bytes handed to the wire", incremental: true })

/** Why admission control refused: `limitConcurrency` (a request or WebSocket) or `maxConnections` (a connection). */
export type RejectReason = "concurrency" | "connections"

/**
 * The methods recorded by name (RFC 9110 §9 and PATCH, RFC 5789); any other
 * is recorded as `_OTHER`, as OpenTelemetry's HTTP conventions say: the
 * method is the client's to choose, and a series per name would let a
 * client grow the registry without bound.
 */
const KNOWN_METHODS: ReadonlySet<string> = new Set(["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"])
const methodOf = (method: string): string => KNOWN_METHODS.has(method) ? method : "_OTHER"

const CLASSES = ["none", "1xx", "2xx", "3xx", "4xx", "5xx"] as const
/** A status's class as an index of CLASSES: 1–5 for 1xx–5xx, 0 (`none`) for anything else (0: nothing sent). */
const classOf = (status: number): number => {
  const c = Math.floor(status / 100)
  return c >= 1 && c <= 5 ? c : 0
}

const ignore = (): void => {}

/** A counter's value, read by the registry. */
class Count {
  count = 0
}

/**
 * A histogram's observations, read by the registry as Effect's own
 * histogram gives them (`Metric.HistogramState`: per boundary, the count of
 * observations at or below it; count, min, max, sum).
 */
class Observations {
  readonly below = new Float64Array(BOUNDARIES.length)
  count = 0
  min = Number.MAX_VALUE
  max = -Number.MAX_VALUE
  sum = 0

  add(value: number): void {
    // Most requests land in the first buckets: a scan from the bottom.
    let i = 0
    while (i < BOUNDARIES.length && value > BOUNDARIES[i]!) i++
    if (i < BOUNDARIES.length) this.below[i]! += 1
    this.count += 1
    this.sum += value
    if (value < this.min) this.min = value
    if (value > this.max) this.max = value
  }

  state(): Metric.HistogramState {
    let cumulated = 0
    const buckets: Array<[number, number]> = BOUNDARIES.map((boundary, i) => [boundary, cumulated += this.below[i]!])
    return { buckets, count: this.count, min: this.min, max: this.max, sum: this.sum }
  }
}

/** One method's series: its request counters by status class (indexed as CLASSES) and its duration histogram. */
class MethodSeries {
  readonly byClass: Array<Count | undefined> = CLASSES.map(() => undefined)
  readonly duration = new Observations()
  readonly name: string

  constructor(name: string) {
    this.name = name
  }
}

/**
 * The runner's series in one registry under one set of context attributes,
 * shared by the servers started there. Each series is registered the first
 * time it has something to say.
 */
class Series {
  private readonly context: Context.Context<never>
  streams = 0
  connections = 0
  sockets = 0
  readonly bytesIn = new Count()
  readonly bytesOut = new Count()
  private readonly methods = new Map<string, MethodSeries>()
  private readonly rejections = new Map<RejectReason, Count>()

  constructor(context: Context.Context<never>) {
    this.context = context
    this.gauge(activeRequests, () => this.streams)
    this.gauge(activeConnections, () => this.connections)
    this.gauge(activeSockets, () => this.sockets)
    this.counter(bytesIn, this.bytesIn)
    this.counter(bytesOut, this.bytesOut)
  }

  /** Registers `metric`'s series in the context's registry, read by `get` (its updates are no-ops). */
  private register<S>(metric: Metric.Metric<number, S>, get: () => S): void {
    Metric.registerUnsafe(metric, this.context, { get, update: ignore, modify: ignore })
  }

  private gauge(metric: Metric.Gauge<number>, value: () => number): void {
    this.register(metric, () => ({ value: value() }))
  }

  private counter(metric: Metric.Counter<number>, cell: Count): void {
    this.register(metric, () => ({ count: cell.count, incremental: true }))
  }

  /** The series of `method` (as `methodOf` names it): one lookup per request; its histogram is registered when first seen. */
  method(method: string): MethodSeries {
    let m = this.methods.get(method)
    if (m === undefined) {
      this.methods.set(method, m = new MethodSeries(method))
      const observations = m.duration
      this.register(Metric.histogram("http.server.request.duration", { ...DURATION, attributes: { "http.request.method": method } }), () => observations.state())
    }
    return m
  }

  /** The request counter of `m` for status class `cls` (an index of CLASSES). */
  requests(m: MethodSeries, cls: number): Count {
    let cell = m.byClass[cls]
    if (cell === undefined) {
      m.byClass[cls] = cell = new Count()
      this.counter(Metric.counter("http.server.requests", { ...REQUESTS, attributes: { "http.request.method": m.name, "http.response.status_class": CLASSES[cls]! } }), cell)
    }
    return cell
  }

  /** The rejection counter of `reason`. */
  rejection(reason: RejectReason): Count {
    let cell = this.rejections.get(reason)
    if (cell === undefined) {
      this.rejections.set(reason, cell = new Count())
      this.counter(Metric.counter("egi.requests.rejected", { ...REJECTIONS, attributes: { reason } }), cell)
    }
    return cell
  }
}

/** The series of each registry, per set of context attributes. */
const seriesOf = new WeakMap<Metric.MetricRegistry, WeakMap<object, Series>>()

const seriesIn = (context: Context.Context<never>): Series => {
  const registry = Context.get(context, Metric.MetricRegistry)
  const attributes = Context.get(context, Metric.CurrentMetricAttributes)
  let byAttributes = seriesOf.get(registry)
  if (byAttributes === undefined) seriesOf.set(registry, byAttributes = new WeakMap())
  let series = byAttributes.get(attributes)
  if (series === undefined) byAttributes.set(attributes, series = new Series(context))
  return series
}

/** The runner's metrics of one server, in its context's registry (spec.md §8.11, RUN-14). */
export class RunnerMetrics {
  private readonly series: Series

  constructor(context: Context.Context<unknown>) {
    this.series = seriesIn(context as Context.Context<never>)
  }

  /** A stream's app started. */
  streamStarted(): void {
    this.series.streams += 1
  }

  /** A stream's app ended: counts the request, its duration (ms) and its bytes. */
  streamEnded(method: string, status: number, ms: number, inBytes: number, outBytes: number): void {
    const s = this.series
    s.streams -= 1
    const m = s.method(methodOf(method))
    s.requests(m, classOf(status)).count += 1
    m.duration.add(ms / 1000)
    s.bytesIn.count += inBytes
    s.bytesOut.count += outBytes
  }

  /** A connection opened (+1) or closed (-1). */
  connection(delta: 1 | -1): void {
    this.series.connections += delta
  }

  /** Admission control refused a request or a connection (`reason`). */
  rejected(reason: RejectReason): void {
    this.series.rejection(reason).count += 1
  }

  /** A WebSocket's app started (+1) or ended (-1). */
  socket(delta: 1 | -1): void {
    this.series.sockets += delta
  }
}
