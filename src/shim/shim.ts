/**
 * `fromClassic`: a classic app as an EGI app (spec.md §10.4). The main
 * thread's half of a classic request: streams the body to the worker as it
 * reads it, relays the response to `send`, answers failures, and runs the
 * async app of an escape.
 *
 * @since 0.3.0
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import type { App, Receive, Send } from "../protocol/app.ts"
import type { HttpRequest, InboundEvent } from "../protocol/events.ts"
import type { EgiScope, HttpScope } from "../protocol/scope.ts"
import { unsupportedScope } from "../protocol/unsupported.ts"
import { Inbox } from "../runner/inbox.ts"
import { requestData } from "./environ.ts"
import { ClassicAppError, ClassicTimeoutError, WorkerCrashError } from "./errors.ts"
import { pushBack } from "./handoff.ts"
import { type PoolJob, type PoolOptions, poolDefaults, stderrLog, type WorkerLink, WorkerPool } from "./pool.ts"
import { importFunction } from "./load.ts"
import { DISCONNECTED, MORE } from "./ring.ts"
import { type ChunkMessage, type FromWorker, isChunk, type ModuleRef, type RequestData, type WorkerMessage } from "./wire.ts"

/**
 * A classic app served through a worker pool, as `fromClassic` returns it:
 * an EGI `App` (it answers `http` and `lifespan` scopes, and fails others
 * with `UnsupportedScopeError`) that also exposes its `pool` and the `ref`
 * it runs (spec.md §10.4).
 *
 * @since 0.3.0
 * @category classic
 */
export interface ClassicHost extends App {
  readonly pool: WorkerPool
  readonly ref: ModuleRef
}

type Mail = ChunkMessage | Extract<FromWorker, { t: "fail" | "escape" }> | {
  readonly t: "lost"
  readonly error: WorkerCrashError | ClassicTimeoutError
}

const EMPTY = new Uint8Array(0)
const timeoutBody = new TextEncoder().encode("Gateway Timeout\n")

/** One classic request on the main thread. */
class ClassicRequest implements PoolJob {
  readonly seq: number
  readonly app: ModuleRef
  readonly request: RequestData
  private link: WorkerLink | undefined = undefined
  private readonly receive: Receive
  private readonly log: (line: string) => void

  // mail from the worker (response output and the end), in order
  private readonly mail: Array<Mail> = []
  /** The app's fiber waiting for the next mail; a chunk is acked as it is taken (the worker's output bound counts what is not taken yet). */
  private readonly inbox = new Inbox<Mail>({
    poll: () => {
      const m = this.mail.shift()
      if (m !== undefined && isChunk(m)) this.link!.ack()
      return m
    }
  })
  /** The app's fiber is gone (the client left, or the response failed): output is dropped. */
  private detached = false
  /** The worker ended the request (its last chunk, a failure, an escape) or was lost under it: nothing left to cancel. */
  private over = false

  // the request body, streamed into the worker's ring as the app reads (read credit)
  private pumping = false
  private stopped = false
  /** A frame that did not fit in the ring yet: its bytes, how far written, its flags. */
  private leftover: { readonly bytes: Uint8Array; offset: number; readonly flags: number } | undefined = undefined
  private credited = 0
  /** Posted chunks not yet credited, and the offset of the first in the body. */
  private readonly retained: Array<Uint8Array> = []
  private retainedFrom = 0
  /** The pump's receive, while it waits. */
  private pending: Fiber.Fiber<InboundEvent> | undefined = undefined
  /** The body ended (last `http.request` seen) or the client went away. */
  ended = false

  constructor(seq: number, app: ModuleRef, request: RequestData, receive: Receive, log: (line: string) => void) {
    this.seq = seq
    this.app = app
    this.request = request
    this.receive = receive
    this.log = log
  }

  assigned(link: WorkerLink): void {
    this.link = link
    // Its client left while it waited in a queue (the pool's, or a worker's it was taken from): not run (CLASSIC-8).
    if (this.detached) link.cancel(this.seq)
  }

  message(m: WorkerMessage): void {
    if (isChunk(m)) {
      if (m[1]) this.over = true
      if (this.detached) return this.link!.ack()
      return this.deliver(m)
    }
    switch (m.t) {
      case "want":
        if (!this.pumping) {
          this.pumping = true
          this.pump()
        }
        return
      case "credit":
        return this.credit(m.bytes)
      case "note":
        return this.log(m.line)
      case "fail":
      case "escape":
        this.over = this.stopped = true
        return this.deliver(m)
    }
  }

  lost(error: WorkerCrashError | ClassicTimeoutError): void {
    this.over = this.stopped = true
    this.deliver({ t: "lost", error })
  }

  private deliver(m: Mail): void {
    this.mail.push(m)
    this.inbox.wake()
  }

  /** The next mail, in order. */
  readonly take: Effect.Effect<Mail> = this.inbox.take

  /** The app's fiber ended before the response did: cancel the worker's I/O and drop its output. */
  detach(): void {
    if (this.detached) return
    this.detached = true
    this.stopped = true
    this.pending?.interruptUnsafe()
    // A request that ended normally has nothing to cancel on its worker.
    if (!this.over) this.link?.cancel(this.seq)
    for (const m of this.mail.splice(0)) if (isChunk(m)) this.link!.ack()
  }

  // ---- input

  /** Moves body events from `receive` into the ring until the ring is full, the body ends, or the request does. */
  private pump(): void {
    while (!this.stopped || this.leftover !== undefined) {
      if (this.leftover !== undefined && !this.flush()) return // resumed by the next credit
      if (this.stopped) return
      const fiber = Effect.runFork(this.receive)
      const exit = fiber.pollUnsafe()
      if (exit === undefined) {
        this.pending = fiber
        fiber.addObserver((exit) => {
          if (this.pending !== fiber || this.stopped) return
          this.pending = undefined
          if (Exit.isSuccess(exit)) this.forward(exit.value)
          this.pump()
        })
        return
      }
      if (Exit.isSuccess(exit)) this.forward(exit.value)
    }
  }

  private forward(event: InboundEvent): void {
    if (event.type === "http.request") {
      this.leftover = { bytes: event.body, offset: 0, flags: event.moreBody ? MORE : 0 }
      if (!event.moreBody) this.ended = this.stopped = true
    } else if (event.type === "http.disconnect") {
      this.leftover = { bytes: EMPTY, offset: 0, flags: DISCONNECTED }
      this.ended = this.stopped = true
    }
  }

  /** Writes as much of the leftover frame as the ring takes; true when all of it is in. */
  private flush(): boolean {
    const frame = this.leftover!
    while (true) {
      const rest = frame.offset === 0 ? frame.bytes : frame.bytes.subarray(frame.offset)
      const n = this.link!.write(this.seq, frame.flags, rest)
      if (n < 0) return false
      if (n > 0) this.retained.push(n === rest.length ? rest : rest.subarray(0, n))
      frame.offset += n
      if (frame.offset === frame.bytes.length) {
        this.leftover = undefined
        return true
      }
    }
  }

  private credit(bytes: number): void {
    this.credited += bytes
    while (this.retained.length > 0 && this.retainedFrom + this.retained[0]!.length <= this.credited) {
      this.retainedFrom += this.retained.shift()!.length
    }
    if (!this.detached && this.pumping && this.pending === undefined && this.leftover !== undefined) this.pump()
  }

  /**
   * After an escape: the body the classic side did not read (its `unread`,
   * then what went into the ring after the `taken` bytes, then what had not
   * fit yet) and a receive that goes on from there (rule CLASSIC-11).
   */
  rest(scope: HttpScope, taken: number, unread: Uint8Array): { readonly first: HttpRequest; readonly receive: Receive } {
    const { connectionId, streamId } = scope
    const parts: Array<Uint8Array> = [unread]
    let at = this.retainedFrom
    for (const chunk of this.retained) {
      const skip = Math.max(0, taken - at)
      if (skip < chunk.length) parts.push(chunk.subarray(skip))
      at += chunk.length
    }
    const left = this.leftover
    this.leftover = undefined
    if (left !== undefined && left.offset < left.bytes.length) parts.push(left.bytes.subarray(left.offset))
    const body = parts.length === 1 ? unread : Buffer.concat(parts)
    const first: HttpRequest = { type: "http.request", connectionId, streamId, body, moreBody: !this.ended }
    let pending = this.pending
    this.pending = undefined
    // A receive the pump had under way when the escape came: its event is the async app's.
    const receive = Effect.suspend(() => {
      if (pending === undefined) return this.receive
      const fiber = pending
      pending = undefined
      return Fiber.join(fiber)
    })
    return { first, receive }
  }
}

/** The EGI app an escape names, loaded on the main thread. */
const loadAsyncApp = (ref: ModuleRef): Effect.Effect<App, ClassicAppError> =>
  Effect.tryPromise({
    try: () => importFunction(ref) as Promise<App>,
    catch: (cause) =>
      new ClassicAppError({ error: `egi.upgrade: cannot load the async app: ${String((cause as Error)?.message ?? cause)}`, started: false })
  })

/**
 * Relays the worker's mail for `request` to `send`. One generator function
 * for every request, not an `Effect.gen(function*() {…})` made per request:
 * V8 gives each generator function the map of its generator objects, in the
 * old generation, pointing back at the function and so at its closure; while
 * the generator waits (for the worker), that map kept the whole request
 * alive through scavenges, and every classic request was promoted. Measured
 * (classic hello, one request at a time): promoted per request 3,500–3,700
 * → 640–1,060 bytes (test/cli/promotion.test.ts).
 */
const relay: (request: ClassicRequest, scope: HttpScope, send: Send) => Effect.Effect<void, unknown> = Effect.fnUntraced(
  function*(request: ClassicRequest, scope: HttpScope, send: Send) {
    let started = false
    while (true) {
      const m = yield* request.take
      if (isChunk(m)) {
        const [, end, body, status, headers] = m
        if (status !== undefined) {
          started = true
          yield* send({ type: "http.response.start", status, headers: headers ?? [] })
        }
        if (body !== undefined || end) yield* send({ type: "http.response.body", body: body ?? EMPTY, moreBody: !end })
        if (end) return
        continue
      }
      switch (m.t) {
        case "fail":
          return yield* Effect.fail(new ClassicAppError({ error: m.error, started: m.started }))
        case "lost":
          if (m.error._tag === "ClassicTimeoutError" && !started) {
            yield* send({ type: "http.response.start", status: 504, headers: [["content-type", "text/plain"]] })
            yield* send({ type: "http.response.body", body: timeoutBody })
          }
          return yield* Effect.fail(m.error)
        case "escape": {
          const app = yield* loadAsyncApp(m.app)
          const { first, receive } = request.rest(scope, m.taken, m.unread)
          return yield* app(scope, pushBack(receive, first), send)
        }
      }
    }
  }
)

/**
 * Turns the classic app exported as `ref.export` by `ref.module` into an
 * EGI app that runs it in a pool of worker threads (spec.md §10.4). Each
 * worker imports the module once; the returned app:
 *
 * - on a `lifespan` scope, starts the pool and loads the app in every
 *   worker at startup (startup fails if the module or export is missing),
 *   and terminates the workers at shutdown;
 * - on an `http` scope, runs the classic app for the request in the next
 *   free worker; the body streams in as the app reads it, the response
 *   streams out as the app produces it (rules CLASSIC-4…CLASSIC-9).
 *
 * The app's Effect fails with `ClassicAppError` (the classic app raised),
 * `WorkerCrashError` or `ClassicTimeoutError` (after answering 504 if the
 * response had not started), besides `send`'s own errors.
 *
 * The pool's metrics (queue depth, busy workers, restarts; spec.md §10.7)
 * are written in the context of the fiber that first calls the app — the
 * server's, which holds the user's metric registry.
 *
 * @since 0.3.0
 * @category classic
 */
export const fromClassic = (ref: ModuleRef, options: Partial<PoolOptions> = {}): ClassicHost => {
  const logger = options.logger ?? stderrLog
  const pool = new WorkerPool({ ...poolDefaults, ...options, logger })
  const metrics = pool.metrics
  const log = (line: string): void => logger.error(line)
  const app = (scope: EgiScope, receive: Receive, send: Send): Effect.Effect<void, unknown> => {
    if (scope.type === "lifespan") {
      return Effect.withFiber((fiber) => {
        metrics.bind(fiber.context)
        return lifespan(pool, ref, receive, send)
      })
    }
    if (scope.type !== "http") return unsupportedScope(scope)
    return Effect.withFiber((fiber) => {
      metrics.bind(fiber.context)
      const request = new ClassicRequest(pool.seq(), ref, requestData(scope), receive, log)
      pool.submit(request)
      return relay(request, scope, send).pipe(Effect.onExit(() => Effect.sync(() => request.detach())))
    })
  }
  return Object.assign(app as App, { pool, ref })
}

const lifespan = (pool: WorkerPool, ref: ModuleRef, receive: Receive, send: Send): Effect.Effect<void, unknown> =>
  Effect.gen(function*() {
    while (true) {
      const event = yield* receive
      if (event.type === "lifespan.startup") {
        const error = yield* Effect.promise(() => pool.load(ref))
        if (error !== undefined) {
          yield* send({ type: "lifespan.startup.failed", message: `cannot load the classic app: ${error}` })
          return
        }
        yield* send({ type: "lifespan.startup.complete" })
      } else if (event.type === "lifespan.shutdown") {
        yield* Effect.promise(() => pool.close())
        yield* send({ type: "lifespan.shutdown.complete" })
        return
      }
    }
  })
