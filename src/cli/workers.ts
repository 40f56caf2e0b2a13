/**
 * `egi serve --workers N` (spec.md §8.13): one primary process that binds
 * nothing of its own and supervises N worker processes (node:cluster), each
 * a whole server — its own lifespan, its own shim pool — sharing the
 * listeners. The primary respawns a worker that dies (with backoff),
 * replaces workers one at a time on SIGHUP, recycles a worker after
 * `maxRequests` requests or past `maxWorkerMemory` of RSS, and on SIGTERM or
 * SIGINT has every worker drain, then exits 0.
 */
import cluster, { type Worker } from "node:cluster"
import type { App } from "../protocol/app.ts"
import type { RunnerLog } from "../runner/log.ts"
import { exitCause, KILL_GRACE_MS } from "./children.ts"

/**
 * What the primary does:
 * - `workers`: how many (≥ 1);
 * - `maxRequests`: recycle a worker after this many requests, each worker's
 *   limit drawn from `maxRequests + [0, maxRequestsJitter]` so that they do
 *   not all restart at once (undefined: never);
 * - `maxWorkerMemory`: recycle a worker whose RSS passes this many bytes
 *   (undefined: never);
 * - `drainTimeout`: ms a worker gets to drain after SIGTERM (its own
 *   `--drain-timeout`) before the primary kills it, plus a grace of 2 s.
 */
export interface WorkerPlan {
  readonly workers: number
  readonly maxRequests: number | undefined
  readonly maxRequestsJitter: number
  readonly maxWorkerMemory: number | undefined
  readonly drainTimeout: number
}

/** Messages between a worker and the primary (over the cluster's IPC channel). */
type FromWorker = { readonly egi: "recycle"; readonly why: string } | { readonly egi: "rss"; readonly bytes: number }
type ToWorker = { readonly egi: "limits"; readonly maxRequests: number | undefined }

/** How long a worker's last exit counts against its slot's backoff, ms: a worker that lived this long restarts at once. */
const STABLE_MS = 10_000
const BACKOFF_MS = [0, 250, 500, 1000, 2000, 5000, 10_000]
const RSS_REPORT_MS = 1000

/**
 * Runs the primary (in the process `cluster.isPrimary`): forks the workers
 * (re-running this process's entry point with the same arguments, see
 * node:cluster) and supervises them as `WorkerPlan` says; never returns —
 * the process exits 0 after a signal-driven shutdown once every worker is
 * gone.
 */
export const runPrimary = (plan: WorkerPlan, log: RunnerLog): void => {
  let stopping = false
  /** The primary's exit code: 0, or the status of a worker that failed to start. */
  let exitStatus = 0
  /** Slot of each live worker (slots are 1…workers, for the log and the backoff). */
  const slots = new Map<Worker, number>()
  /** Workers being replaced or recycled: their exit is expected. */
  const retiring = new Set<Worker>()
  const failures = new Map<number, number>()
  const startedAt = new Map<Worker, number>()

  const limitFor = (): number | undefined =>
    plan.maxRequests === undefined ? undefined : plan.maxRequests + Math.floor(Math.random() * (plan.maxRequestsJitter + 1))

  /** Workers that have listened: one that exits before it ever did failed to start. */
  const started = new WeakSet<Worker>()
  const fork = (slot: number): Worker => {
    const worker = cluster.fork({ EGI_WORKER_SLOT: String(slot) })
    slots.set(worker, slot)
    startedAt.set(worker, Date.now())
    worker.once("listening", () => started.add(worker))
    worker.on("online", () => worker.send({ egi: "limits", maxRequests: limitFor() } satisfies ToWorker))
    worker.on("message", (message: FromWorker) => {
      if (message?.egi === "recycle") recycle(worker, message.why)
      else if (message?.egi === "rss" && plan.maxWorkerMemory !== undefined && message.bytes > plan.maxWorkerMemory) {
        recycle(worker, `RSS ${(message.bytes / 2 ** 20).toFixed(0)} MiB over ${(plan.maxWorkerMemory / 2 ** 20).toFixed(0)} MiB`)
      }
    })
    return worker
  }

  /** Replacements not yet listening: one that exits before it listens leaves the old worker serving (a bad new TLS certificate, say). */
  const replacements = new WeakSet<Worker>()
  /**
   * Replaces `old` by a new worker in its slot: the new one listens first,
   * then the old one drains (no connection refused). False when the new
   * one exited before it listened: the old one keeps serving.
   */
  const replace = (old: Worker): Promise<boolean> =>
    new Promise((resolve) => {
      const slot = slots.get(old)!
      retiring.add(old)
      const next = fork(slot)
      replacements.add(next)
      const stopOld = () => {
        old.once("exit", () => resolve(true))
        terminate(old)
      }
      next.once("listening", stopOld)
      next.once("exit", () => {
        // The replacement died before listening: keep the old one serving.
        next.off("listening", stopOld)
        retiring.delete(old)
        resolve(false)
      })
    })

  const recycle = (worker: Worker, why: string): void => {
    if (stopping || retiring.has(worker) || !slots.has(worker)) return
    log.info(`worker ${slots.get(worker)} (pid ${worker.process.pid}): ${why}; replacing it`)
    void replace(worker)
  }

  /** SIGTERM to a worker, SIGKILL if it is still there after its drain timeout and a grace. */
  const terminate = (worker: Worker): void => {
    if (worker.isDead()) return
    worker.process.kill("SIGTERM")
    const timer = setTimeout(() => {
      if (!worker.isDead()) {
        log.error(`worker ${slots.get(worker)} (pid ${worker.process.pid}) still running ${plan.drainTimeout + KILL_GRACE_MS} ms after SIGTERM: SIGKILL`)
        worker.process.kill("SIGKILL")
      }
    }, plan.drainTimeout + KILL_GRACE_MS)
    timer.unref()
    worker.once("exit", () => clearTimeout(timer))
  }

  cluster.on("exit", (worker, code, signal) => {
    const slot = slots.get(worker)
    slots.delete(worker)
    const lived = Date.now() - (startedAt.get(worker) ?? Date.now())
    startedAt.delete(worker)
    if (slot === undefined) return
    const expected = retiring.delete(worker)
    if (stopping) {
      if (slots.size === 0) {
        log.info("all workers stopped")
        log.flush()
        process.exit(exitStatus)
      }
      return
    }
    if (expected) return
    if (!started.has(worker) && replacements.has(worker)) {
      // A replacement that cannot start (its files, its module): the worker it was to replace serves on.
      log.error(`worker ${slot} (pid ${worker.process.pid}): its replacement failed to start (${exitCause(code, signal)}); the current worker keeps serving`)
      return
    }
    if (!started.has(worker)) {
      // It never served: the app cannot be loaded or the server cannot start (exit 2, 1). Respawning would only repeat it.
      const status = code !== null && code !== 0 ? code : 1
      log.error(`worker ${slot} (pid ${worker.process.pid}) failed to start (${exitCause(code, signal)}): stopping the other workers, exiting ${status}`)
      stopping = true
      for (const other of slots.keys()) terminate(other)
      if (slots.size === 0) {
        log.flush()
        process.exit(status)
      }
      exitStatus = status
      return
    }
    // An unexpected exit: respawn, sooner the longer it had lived.
    const n = lived >= STABLE_MS ? 0 : (failures.get(slot) ?? 0) + 1
    failures.set(slot, n)
    const delay = BACKOFF_MS[Math.min(n, BACKOFF_MS.length - 1)]!
    log.error(`worker ${slot} (pid ${worker.process.pid}) died (${exitCause(code, signal)}) after ${lived} ms; respawning${delay > 0 ? ` in ${delay} ms` : ""}`)
    setTimeout(() => {
      if (!stopping) fork(slot)
    }, delay)
  })

  let signalled = false
  const shutdown = (signal: NodeJS.Signals): void => {
    if (signalled) return log.info(`${signal} received again: already shutting down`)
    signalled = true
    stopping = true
    log.info(`${signal} received: draining ${slots.size} worker(s)`)
    if (slots.size === 0) {
      log.flush()
      process.exit(0)
    }
    for (const worker of slots.keys()) terminate(worker)
  }
  process.on("SIGTERM", shutdown)
  process.on("SIGINT", shutdown)
  process.on("SIGHUP", () => {
    if (stopping) return
    log.info(`SIGHUP received: replacing ${slots.size} worker(s) one at a time`)
    void (async () => {
      for (const worker of [...slots.keys()]) {
        if (stopping) return
        // A replacement that fails to start (a bad new TLS certificate, say) ends the round: the rest serve on.
        if (slots.has(worker) && !retiring.has(worker) && !(await replace(worker))) return
      }
      if (!stopping) log.info("all workers replaced")
    })()
  })

  // Workers accept from the shared listening socket themselves (as gunicorn's
  // do): with node's default round-robin the primary accepts and hands each
  // connection over, and one handed to a worker as it exits is never
  // answered — measured: a request hung on every max-requests replacement.
  cluster.schedulingPolicy = cluster.SCHED_NONE
  log.info(`primary (pid ${process.pid}): starting ${plan.workers} worker(s)`)
  for (let slot = 1; slot <= plan.workers; slot++) fork(slot)
}

/**
 * In a worker: `app` with the primary's limits applied — after the number
 * of requests the primary drew (an `http` or `websocket` scope each), the
 * worker asks to be replaced (once); its RSS is reported every second for
 * `maxWorkerMemory`. Outside a cluster worker, `app` itself.
 */
export const workerApp = <E, R>(app: App<E, R>): App<E, R> => {
  if (!cluster.isWorker || process.send === undefined) return app
  // SIGHUP is the primary's (replace the workers); one sent to the whole process group must not end a worker.
  process.on("SIGHUP", () => {})
  let limit: number | undefined
  let served = 0
  let asked = false
  process.on("message", (message: ToWorker) => {
    if (message?.egi === "limits") limit = message.maxRequests
  })
  const report = setInterval(() => process.send?.({ egi: "rss", bytes: process.memoryUsage.rss() } satisfies FromWorker), RSS_REPORT_MS)
  report.unref()
  return (scope, receive, send) => {
    if (scope.type !== "lifespan" && limit !== undefined && ++served >= limit && !asked) {
      asked = true
      process.send?.({ egi: "recycle", why: `served ${served} requests (max-requests)` } satisfies FromWorker)
    }
    return app(scope, receive, send)
  }
}
