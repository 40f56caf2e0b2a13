/**
 * The sync shim's metrics (spec.md §10.7), as Effect `Metric`s updated in
 * the context the shim's app is first called in — the server's, so they
 * land in the user's metric registry beside the runner's (§8.11):
 *
 * - `egi.shim.queue.depth` — gauge: classic requests waiting to start, in
 *   the pool's queue or queued on a busy worker behind its running request
 *   (`pipeline`);
 * - `egi.shim.workers.busy` — gauge: workers running a classic request;
 * - `egi.shim.worker.restarts` — counter: workers replaced, by
 *   `egi.shim.restart.cause` — `crash` (the thread exited or threw) or
 *   `timeout` (the watchdog terminated it, CLASSIC-9).
 *
 * The gauges move by deltas (a gauge's `modify`), so several pools in one
 * registry add up.
 *
 * @since 0.4.0
 */
import * as Metric from "effect/Metric"
import type { Context } from "effect"

const queueDepth = Metric.gauge("egi.shim.queue.depth", {
  description: "classic requests waiting to start: in the pool's queue, or behind a running request on a worker"
})
const busyWorkers = Metric.gauge("egi.shim.workers.busy", { description: "worker threads running a classic request" })
const restarts = Metric.counter("egi.shim.worker.restarts", {
  description: "worker threads replaced, by cause (crash, timeout)",
  incremental: true
})

/**
 * Why the pool replaced a worker: `crash` (the thread exited or threw an
 * uncaught error), `timeout` (the watchdog terminated it).
 *
 * @since 0.4.0
 * @category classic
 */
export type RestartCause = "crash" | "timeout"

const restartSeries: Record<RestartCause, Metric.Metric<number, unknown>> = {
  crash: Metric.withAttributes(restarts, { "egi.shim.restart.cause": "crash" }),
  timeout: Metric.withAttributes(restarts, { "egi.shim.restart.cause": "timeout" })
}

/**
 * One pool's metrics. The pool reports every change; nothing is written
 * until `bind` gives the context (the first app call's), then the counts
 * so far go in at once and each later change as a delta, without a fiber.
 * A pool binds once: served by two servers, it reports to the first one's
 * registry.
 */
export class ShimMetrics {
  private context: Context.Context<never> | undefined = undefined
  private queuedNow = 0
  private busyNow = 0
  /** Restarts before a context was bound, written when it is. */
  private readonly early: Record<RestartCause, number> = { crash: 0, timeout: 0 }

  /** Binds the context the metrics are written in (the first call wins). */
  bind(context: Context.Context<never>): void {
    if (this.context !== undefined) return
    this.context = context
    queueDepth.modifyUnsafe(this.queuedNow, context)
    busyWorkers.modifyUnsafe(this.busyNow, context)
    // Every series shows from the start, at 0 when nothing happened yet.
    for (const cause of ["crash", "timeout"] as const) restartSeries[cause].updateUnsafe(this.early[cause], context)
  }

  /** Requests waiting to start changed by `delta`. */
  queued(delta: number): void {
    this.queuedNow += delta
    if (this.context !== undefined) queueDepth.modifyUnsafe(delta, this.context)
  }

  /** Busy workers changed by `delta`. */
  busy(delta: number): void {
    this.busyNow += delta
    if (this.context !== undefined) busyWorkers.modifyUnsafe(delta, this.context)
  }

  /** A worker died and a replacement is on its way. */
  restarted(cause: RestartCause): void {
    if (this.context !== undefined) restartSeries[cause].updateUnsafe(1, this.context)
    else this.early[cause]++
  }

  /** Requests waiting to start and busy workers, as this pool counts them. */
  counts(): { readonly queued: number; readonly busy: number } {
    return { queued: this.queuedNow, busy: this.busyNow }
  }
}
