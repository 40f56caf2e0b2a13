/**
 * The worker-thread pool of the shim (spec.md §10.4, §10.7): a fixed number of
 * workers, one request each at a time, a FIFO of requests waiting for one,
 * a watchdog for requests that stop making progress, and replacement of any
 * worker that dies. It counts its queue, busy workers and restarts in its
 * `metrics` (metrics.ts, §10.7).
 *
 * @since 0.3.0
 */
import { availableParallelism } from "node:os"
import { Worker } from "node:worker_threads"
import { ClassicTimeoutError, WorkerCrashError } from "./errors.ts"
import { ShimMetrics } from "./metrics.ts"
import { OutputReader, outputRingSize, type PortBody } from "./output-ring.ts"
import { HEADER, MORE, Ring, ringSize } from "./ring.ts"
import { cancelRun, isChunk, MAX_PIPELINE, type ModuleRef, offerRun, type RequestData, takeRun, type RunMessage, Slot, SLOTS, type ToWorker, type WorkerBoot, type WorkerMessage } from "./wire.ts"

/** The worker's entry beside this module: `worker.ts` in the sources, `worker.js` in the built package. */
const workerEntry = new URL(import.meta.url.endsWith(".ts") ? "./worker.ts" : "./worker.js", import.meta.url)

/**
 * Where the shim writes its lines — a worker that died or was terminated, a
 * response that went out altered (§10.6): one line each, without its
 * newline. Neither function may throw. The default writes them to standard
 * error with an ISO 8601 timestamp (`error` lines also with `error`).
 *
 * @since 0.4.0
 * @category classic
 */
export interface ShimLog {
  readonly error: (line: string) => void
  readonly info: (line: string) => void
}

/** The default `ShimLog`: standard error, each line with a timestamp. */
export const stderrLog: ShimLog = {
  error: (line) => void process.stderr.write(`${new Date().toISOString()} error ${line}\n`),
  info: (line) => void process.stderr.write(`${new Date().toISOString()} ${line}\n`)
}

/**
 * Pool settings (spec.md §10.4), for `fromClassic(ref, options)` (a
 * `Partial`, over `poolDefaults`) and `new WorkerPool(options)`. Sizes are
 * in bytes, times in ms.
 *
 * @since 0.3.0
 * @category classic
 */
export interface PoolOptions {
  /** Worker threads (default: the machine's parallelism, at least 2). */
  readonly workers: number
  /**
   * ms a request may run app code without coming back to the shim (a read,
   * a write, the end) before its worker is terminated; 0 turns it off
   * (default 30 000).
   */
  readonly timeout: number
  /** Bytes of the request-body ring each worker has: how far the body is read ahead of the app (default 256 KiB; a power of two). */
  readonly inputBuffer: number
  /** Response-body bytes a worker may have in flight before `write` blocks (default 256 KiB). */
  readonly outputBuffer: number
  /**
   * Requests a worker may hold at once when every worker is busy: one
   * running, the rest queued in its port, so the next starts without a
   * round trip through the main thread (default 32, at most 64; 1 turns it
   * off). A queued request waits for the one ahead of it on its worker
   * until that one has run 5 ms; then a worker with room takes it (rule
   * CLASSIC-18).
   */
  readonly pipeline: number
  /** Where crash and timeout lines go (default: standard error, `stderrLog`). */
  readonly logger: ShimLog
}

/**
 * Pool defaults (spec.md §10.4): as many workers as the machine's
 * parallelism (at least 2), a 30 000 ms timeout, 256 KiB input and output
 * buffers, a pipeline of 32.
 *
 * @since 0.3.0
 * @category classic
 */
export const poolDefaults: Omit<PoolOptions, "logger"> = {
  workers: Math.max(2, availableParallelism()),
  timeout: 30_000,
  inputBuffer: 256 * 1024,
  outputBuffer: 256 * 1024,
  pipeline: 32
}

/** What a request can do to the worker it runs on. */
export interface WorkerLink {
  /**
   * Writes one body frame for request `seq` into the worker's ring (as much
   * of `bytes` as fits) and wakes the worker. Returns the payload bytes
   * written, or -1 when the ring has no room for the frame now.
   */
  write(seq: number, flags: number, bytes: Uint8Array): number
  /** Tells the worker the main thread is done with one `chunk` message. */
  ack(): void
  /**
   * Makes the request's reads and writes throw `ClientDisconnectedError`,
   * and a run not started yet not run (rule CLASSIC-8). Nothing for a
   * request this worker no longer holds (over, or taken by another worker:
   * cancel it on the link it was last `assigned`).
   */
  cancel(seq: number): void
}

/** One request, as the pool sees it. */
export interface PoolJob {
  readonly seq: number
  readonly app: ModuleRef
  readonly request: RequestData
  /** The job got a worker (the run message is posted right after). */
  assigned(link: WorkerLink): void
  /** A message of this job from its worker. */
  message(message: WorkerMessage): void
  /** The worker died or was terminated under the job, or the pool closed before it ran. */
  lost(error: WorkerCrashError | ClassicTimeoutError): void
}

/**
 * ms a worker's head job may run before another worker that needs work takes
 * the jobs queued behind it (rule CLASSIC-18): long against a hello (tens of
 * µs), short against what a client notices.
 */
const STUCK_MS = 5

/** A job a worker holds, with the claim slot and offer it was posted in (wire.ts `offerRun`). */
interface Held {
  readonly job: PoolJob
  readonly claim: number
  readonly offer: number
}

const isTerminal = (m: WorkerMessage): boolean => isChunk(m) ? m[1] : m.t === "fail" || m.t === "escape"

class PoolWorker implements WorkerLink {
  readonly thread: Worker
  readonly control: Int32Array
  private readonly ring: Ring
  /** The ring's write counter (this thread is its only writer). */
  private writePos = 0
  readonly bornAt = Date.now()
  /** Jobs posted to this worker, in order, with their claims: the first runs, the others wait in its queue. */
  readonly held: Array<Held> = []
  /**
   * Claim slots no held job uses. A slot is offered again only once its
   * job left `held`, so a run the pool waits for keeps its offer until the
   * worker claims it; a revoked run still waiting in the worker's port
   * finds 0 or another offer there, and is skipped.
   */
  private readonly freeClaims = Array.from({ length: MAX_PIPELINE }, (_, i) => i)
  /** When the job at the head of `held` became the head (ms): a head running long lets another worker take the jobs behind it. */
  headSince = 0
  /** Why the pool terminated this worker, if it did. */
  killed: ClassicTimeoutError | undefined = undefined
  progressSeen = 0
  progressSince = 0
  ran = false
  /**
   * Runs assigned since the last flush: posted together, once per turn of
   * the event loop, as one message. Each message wakes a sleeping worker,
   * and on a busy core the woken worker takes the core at once: one message
   * per run made the main thread and the worker take turns for every
   * request (1.9 context switches per request, classic hello on one core);
   * one message for all the runs of a turn lets the worker run them in a
   * row (0.4). Measured, pinned A/B: 69.5 → 59.0 µs of CPU per request.
   */
  private outbox: Array<RunMessage> = []
  private readonly flushRuns = this.postRuns.bind(this)
  /** Where this worker's responses and messages arrive (rule CLASSIC-17), for `deliver`. */
  readonly output: OutputReader

  /** The pool's epoch (ms): the worker's `Slot.runStarted` counts from it. */
  private readonly epoch: number

  constructor(opts: Omit<PoolOptions, "logger">, epoch: number, deliver: (message: WorkerMessage) => void) {
    this.epoch = epoch
    const shared = new SharedArrayBuffer(SLOTS * Int32Array.BYTES_PER_ELEMENT)
    this.control = new Int32Array(shared)
    // Booting (loading worker.ts) is not app code: the worker clears this when it runs a request.
    Atomics.store(this.control, Slot.waiting, 1)
    const ring = new SharedArrayBuffer(ringSize(opts.inputBuffer))
    this.ring = new Ring(ring)
    const output = new SharedArrayBuffer(outputRingSize(opts.outputBuffer))
    this.output = new OutputReader(output, this.control, deliver, () => this.wake())
    const boot: WorkerBoot = {
      control: shared,
      ring,
      output,
      outputBuffer: opts.outputBuffer,
      creditEvery: Math.max(1, Math.floor(ring.byteLength / 4)),
      multiprocess: opts.workers > 1,
      epoch
    }
    this.thread = new Worker(workerEntry, { workerData: boot })
    this.thread.unref()
  }

  private wake(): void {
    Atomics.add(this.control, Slot.signal, 1)
    Atomics.notify(this.control, Slot.signal)
  }

  write(seq: number, flags: number, bytes: Uint8Array): number {
    const used = (this.writePos - Atomics.load(this.control, Slot.read)) | 0
    const room = this.ring.size - used - HEADER
    if (room < 0 || (room === 0 && bytes.length > 0)) return -1
    const n = Math.min(bytes.length, room)
    this.ring.put(this.writePos + HEADER, n === bytes.length ? bytes : bytes.subarray(0, n))
    this.ring.putHeader(this.writePos, seq, n < bytes.length ? flags | MORE : flags, n)
    this.writePos = (this.writePos + HEADER + n) | 0
    Atomics.store(this.control, Slot.written, this.writePos)
    this.wake()
    return n
  }

  /** Queues `run` for the worker: posted with the other runs of this turn of the event loop. */
  run(run: RunMessage): void {
    if (this.outbox.length === 0) setImmediate(this.flushRuns)
    this.outbox.push(run)
  }

  private postRuns(): void {
    const runs = this.outbox
    if (runs.length === 0) return
    this.outbox = []
    this.thread.postMessage(runs satisfies ToWorker)
  }

  /** Drops runs not posted yet (their jobs went elsewhere: the worker died). */
  dropRuns(): void {
    this.outbox = []
  }

  ack(): void {
    Atomics.add(this.control, Slot.acked, 1)
    this.wake()
  }

  /** Posts `job`, claimable by the worker in a fresh claim slot. */
  hold(job: PoolJob, offer: number): void {
    // At most MAX_PIPELINE jobs are held: a slot is free.
    const claim = this.freeClaims.pop()!
    offerRun(this.control, claim, offer)
    this.held.push({ job, claim, offer })
    this.run([job.seq, job.app.module, job.app.export, job.request, claim, offer])
  }

  /**
   * Takes back the oldest job queued behind the head that the worker has not
   * started (rule CLASSIC-18), if there is one: the worker will skip it.
   */
  revokeQueued(): PoolJob | undefined {
    for (let i = 1; i < this.held.length; i++) {
      const { claim, offer } = this.held[i]!
      if (!takeRun(this.control, claim, offer)) continue // it started
      this.freeClaims.push(claim)
      return this.held.splice(i, 1)[0]!.job
    }
    return undefined
  }

  /** The head job is over: drops it. */
  finishHead(): void {
    this.freeClaims.push(this.held.shift()!.claim)
  }

  /** The worker is gone: drops every job and returns them, in order. */
  dropJobs(): Array<PoolJob> {
    const held = this.held.splice(0)
    for (const h of held) this.freeClaims.push(h.claim)
    return held.map((h) => h.job)
  }

  cancel(seq: number): void {
    // Only a run this worker holds: one over or taken elsewhere has nothing here to cancel.
    const held = this.held.find((h) => h.job.seq === seq)
    if (held === undefined) return
    cancelRun(this.control, held.claim, held.offer)
    this.wake()
  }

  /**
   * The worker has been on its current run for {@link STUCK_MS} or more at
   * `now` (ms): it started no run since, and the pool saw no new head
   * (rule CLASSIC-18).
   */
  stuck(now: number): boolean {
    if (now - this.headSince < STUCK_MS) return false
    const sinceStart = ((now - this.epoch) - Atomics.load(this.control, Slot.runStarted)) | 0
    return sinceStart >= STUCK_MS
  }
}

/**
 * A pool of worker threads for classic apps. Starts its workers on
 * `start()` (or the first request); workers are `unref`'d, so an idle pool
 * does not keep the process alive; `close()` terminates them.
 *
 * @since 0.3.0
 * @category classic
 */
export class WorkerPool {
  readonly options: PoolOptions
  /** Its metrics (spec.md §10.7): written once `fromClassic`'s app binds them to the server's context. */
  readonly metrics = new ShimMetrics()
  private readonly workers = new Set<PoolWorker>()
  private readonly waiting: Array<PoolJob> = []
  private readonly loads = new Map<PoolWorker, (error: string | undefined) => void>()
  private started = false
  private closed = false
  private nextSeq = 0
  /** `Date.now()` when the pool was made: the origin of each worker's `Slot.runStarted`. */
  private readonly epoch = Date.now()
  /** The last offer made (wire.ts `offerRun`): each assignment of a job to a worker has its own. */
  private nextOffer = 0
  private watchdog: ReturnType<typeof setInterval> | undefined = undefined
  /** A pending look for stuck heads (rule CLASSIC-18), while a worker is idle. */
  private stealCheck: ReturnType<typeof setTimeout> | undefined = undefined
  private earlyDeaths = 0
  /** Apps loaded at startup: a replacement worker loads them too before it takes a request. */
  private readonly preloaded: Array<ModuleRef> = []

  /**
   * `options.workers` is taken as at least 1 and `options.pipeline` as 1 to
   * 64 (the control block has 64 claim and cancellation slots per worker).
   */
  constructor(options: PoolOptions) {
    this.options = {
      ...options,
      workers: Math.max(1, Math.floor(options.workers)),
      pipeline: Math.min(MAX_PIPELINE, Math.max(1, Math.floor(options.pipeline)))
    }
  }

  /** A fresh request number (the correlator between the threads). */
  seq(): number {
    this.nextSeq = (this.nextSeq + 1) | 0
    return this.nextSeq
  }

  /** Workers alive now. */
  size(): number {
    return this.workers.size
  }

  /** Starts the workers (idempotent). */
  start(): void {
    if (this.started || this.closed) return
    this.started = true
    for (let i = 0; i < this.options.workers; i++) this.spawn()
    const { timeout } = this.options
    if (timeout > 0) {
      this.watchdog = setInterval(() => this.sweep(), Math.max(10, Math.min(1000, Math.floor(timeout / 4))))
      this.watchdog.unref()
    }
  }

  /**
   * Loads `app` in every worker; resolves with the first load error
   * (module missing, export not a function), or `undefined`.
   */
  async load(app: ModuleRef): Promise<string | undefined> {
    this.start()
    this.preloaded.push(app)
    const results = await Promise.all([...this.workers].map((w) =>
      new Promise<string | undefined>((resolve) => {
        this.loads.set(w, resolve)
        w.thread.postMessage({ t: "load", app } satisfies ToWorker)
      })
    ))
    return results.find((e) => e !== undefined)
  }

  /**
   * Runs `job` on a free worker; when every worker is busy, queues it on the
   * least loaded one (at most `pipeline` jobs per worker: the next
   * starts without a round trip to the main thread), else waits (FIFO).
   */
  submit(job: PoolJob): void {
    if (this.closed) return job.lost(new WorkerCrashError({ exitCode: -1, detail: "the worker pool is closed" }))
    this.start()
    const worker = this.leastLoaded()
    if (worker === undefined || this.waiting.length > 0) {
      this.waiting.push(job)
      this.metrics.queued(1)
    } else {
      if (worker.held.length === 0) this.metrics.busy(1)
      else this.metrics.queued(1)
      this.assign(worker, job)
    }
  }

  /** A live worker with the fewest jobs, if it can take one more. */
  private leastLoaded(): PoolWorker | undefined {
    let best: PoolWorker | undefined
    for (const w of this.workers) {
      if (w.killed !== undefined || w.held.length >= this.options.pipeline) continue
      if (best === undefined || w.held.length < best.held.length) best = w
      if (w.held.length === 0) break
    }
    return best
  }

  /** Terminates every worker; requests still waiting for one are lost. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    if (this.watchdog !== undefined) clearInterval(this.watchdog)
    if (this.stealCheck !== undefined) clearTimeout(this.stealCheck)
    if (this.waiting.length > 0) this.metrics.queued(-this.waiting.length)
    for (const job of this.waiting.splice(0)) {
      job.lost(new WorkerCrashError({ exitCode: -1, detail: "the worker pool closed" }))
    }
    await Promise.all([...this.workers].map((w) => w.thread.terminate()))
  }

  private assign(worker: PoolWorker, job: PoolJob): void {
    if (worker.held.length === 0) {
      worker.progressSeen = Atomics.load(worker.control, Slot.progress)
      worker.progressSince = worker.headSince = Date.now()
    }
    worker.ran = true
    // Never 0: a claim slot holds 0 once claimed or revoked.
    this.nextOffer = (this.nextOffer + 1) | 0 || 1
    worker.hold(job, this.nextOffer)
    // After hold: a job whose client already left cancels itself on its new worker (rule CLASSIC-8).
    job.assigned(worker)
  }

  /**
   * Hands `worker` jobs while it has room: first jobs queued behind a
   * stuck head on another worker (rule CLASSIC-18), then the pool's queue.
   */
  private fill(worker: PoolWorker): void {
    if (!this.workers.has(worker) || worker.killed !== undefined) return
    // One clock reading for the whole fill: no head turns stuck while it runs.
    const now = Date.now()
    while (worker.held.length < this.options.pipeline) {
      const job = this.steal(worker, now) ?? this.waiting.shift()
      if (job === undefined) break
      // Taken from a queue (the pool's or a worker's): still waiting, unless this worker was idle.
      if (worker.held.length === 0) {
        this.metrics.queued(-1)
        this.metrics.busy(1)
      }
      this.assign(worker, job)
    }
    // Idle while jobs wait on another worker: look again once its head may count as stuck.
    if (worker.held.length === 0 && this.stealCheck === undefined) {
      for (const other of this.workers) {
        if (other.held.length < 2) continue
        this.stealCheck = setTimeout(() => {
          this.stealCheck = undefined
          for (const w of this.workers) this.fill(w)
        }, STUCK_MS)
        this.stealCheck.unref()
        break
      }
    }
  }

  /**
   * A job queued on another worker behind a head that has run for
   * {@link STUCK_MS} or more, which `worker` should run instead (rule
   * CLASSIC-18): the oldest such job that worker has not started. A
   * worker that is stuck itself takes none (stuck workers would hand jobs
   * back and forth).
   */
  private steal(worker: PoolWorker, now: number): PoolJob | undefined {
    let thiefChecked = false
    for (const other of this.workers) {
      if (other === worker || other.held.length < 2) continue
      if (!thiefChecked) {
        if (worker.held.length > 0 && worker.stuck(now)) return undefined
        thiefChecked = true
      }
      if (!other.stuck(now)) continue
      const job = other.revokeQueued()
      if (job !== undefined) return job
    }
    return undefined
  }

  private spawn(): void {
    const worker: PoolWorker = new PoolWorker(this.options, this.epoch, (m) => this.route(worker, m))
    this.workers.add(worker)
    // The worker's messages are wakes and large bodies: the rest of its output is in the ring.
    worker.thread.on("message", (message: 0 | PortBody) => worker.output.received(message))
    worker.output.drain()
    let failure = ""
    worker.thread.on("error", (error) => {
      failure = error instanceof Error ? `${error.name}: ${error.message}` : String(error)
    })
    worker.thread.on("exit", (code) => this.died(worker, code, failure))
    // Messages are handled in order: the loads finish before the first run starts.
    for (const app of this.preloaded) worker.thread.postMessage({ t: "load", app } satisfies ToWorker)
    this.fill(worker)
  }

  private route(worker: PoolWorker, m: WorkerMessage): void {
    const chunk = isChunk(m)
    if (!chunk && m.t === "loaded") {
      this.loads.get(worker)?.(m.error)
      this.loads.delete(worker)
      return
    }
    const job = worker.held[0]?.job
    if (job === undefined || job.seq !== (chunk ? m[0] : m.seq)) {
      // Output of a request that is already over: its chunks still count.
      if (chunk) worker.ack()
      return
    }
    if (isTerminal(m)) {
      worker.finishHead()
      // The worker goes idle, or starts the next job queued on it.
      if (worker.held.length === 0) this.metrics.busy(-1)
      else this.metrics.queued(-1)
      worker.progressSeen = Atomics.load(worker.control, Slot.progress)
      worker.progressSince = worker.headSince = Date.now()
      this.fill(worker)
    }
    job.message(m)
  }

  private died(worker: PoolWorker, code: number, failure: string): void {
    this.workers.delete(worker)
    // What the worker published before it ended is delivered first (no new job goes to it now).
    worker.output.close()
    worker.dropRuns()
    this.loads.get(worker)?.(`worker exited with code ${code} while loading`)
    this.loads.delete(worker)
    // Messages run in order: only the first job had started; the rest go back to the queue.
    const [job, ...queued] = worker.dropJobs()
    if (job !== undefined) this.metrics.busy(-1)
    if (this.closed) {
      if (queued.length > 0) this.metrics.queued(-queued.length)
      for (const j of [job, ...queued]) j?.lost(new WorkerCrashError({ exitCode: code, detail: "the worker pool closed" }))
      return
    }
    this.waiting.unshift(...queued)
    const error = worker.killed ??
      new WorkerCrashError({ exitCode: code, detail: failure === "" ? "the worker thread exited" : failure })
    this.options.logger.error(
      `classic worker ${worker.thread.threadId} ${worker.killed ? "terminated" : "died"}: ${error.message}; starting another`
    )
    job?.lost(error)
    this.metrics.restarted(worker.killed ? "timeout" : "crash")
    // A worker that dies young without having run anything is likely to die again: back off.
    const early = !worker.ran && Date.now() - worker.bornAt < 1000
    this.earlyDeaths = early ? this.earlyDeaths + 1 : 0
    const delay = this.earlyDeaths === 0 ? 0 : Math.min(5000, 100 * 2 ** this.earlyDeaths)
    const respawn = setTimeout(() => {
      if (!this.closed) this.spawn()
    }, delay)
    respawn.unref()
    for (const w of this.workers) this.fill(w)
  }

  /** The watchdog: terminates workers whose request ran app code for `timeout` ms without progress. */
  private sweep(): void {
    const now = Date.now()
    for (const worker of this.workers) {
      if (worker.held.length === 0 || worker.killed !== undefined) continue
      const progress = Atomics.load(worker.control, Slot.progress)
      if (progress !== worker.progressSeen || Atomics.load(worker.control, Slot.waiting) === 1) {
        worker.progressSeen = progress
        worker.progressSince = now
      } else if (now - worker.progressSince >= this.options.timeout) {
        worker.killed = new ClassicTimeoutError({ timeoutMs: this.options.timeout })
        void worker.thread.terminate()
      }
    }
  }
}
