/**
 * Per-stream supervision (spec.md §5): runs the app for an exchange in its
 * own fiber, answers its failure (500 or reset), writes the access-log line,
 * and keeps the running fibers for the drain (running.ts).
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Tracer from "effect/Tracer"
import type { Fiber } from "effect"
import type { App, Receive, Send } from "../protocol/app.ts"
import { RemoteProtocolError } from "../protocol/errors.ts"
import { ErrorCode } from "../protocol/fields.ts"
import type { EndReason, Exchange, ExchangeHost } from "./exchange.ts"
import { streamEnded, streamStarted } from "./extensions.ts"
import type { LogWhere } from "./log.ts"
import type { ResolvedOptions } from "./options.ts"
import type { WebSocketSession } from "./websocket/session.ts"
import { loadWebSockets, type WebSocketMachinery, type WebSocketsUnavailableError } from "./websocket/load.ts"
import { type EgiScope, targetOf } from "../protocol/scope.ts"
import { traced } from "./tracing.ts"
import { RunnerMetrics } from "./metrics.ts"
import { Admission, RETRY_AFTER } from "./admission.ts"
import { ClientErrors } from "./client-errors.ts"
import { Running, type RunningItem } from "./running.ts"
import { performance } from "node:perf_hooks"

/**
 * The app's call returned something other than an Effect (rule RUN-11): a
 * Promise (a fetch handler exported by mistake), `undefined`, a plain value.
 * `returned` says what, e.g. "a Promise", "undefined", "an object (Object)".
 */
export class AppReturnError extends Data.TaggedError("AppReturnError")<{ readonly returned: string }> {
  override get message(): string {
    return `the app returned ${this.returned}, not an Effect`
  }
}

/** What a non-Effect value is, for AppReturnError. */
const describeValue = (value: unknown): string => {
  if (value === undefined || value === null) return String(value)
  if (typeof value === "object" && typeof (value as { then?: unknown }).then === "function") return "a Promise"
  if (typeof value === "object") {
    const name = (Object.getPrototypeOf(value) as { constructor?: { name?: unknown } } | null)?.constructor?.name
    return typeof name === "string" && name !== "" ? `an object (${name})` : "an object"
  }
  return /^[aeiou]/.test(typeof value) ? `an ${typeof value}` : `a ${typeof value}`
}

/** Absorbs a rejection that would otherwise reach the process (the call's 500 already reports it). */
const ignore = (): void => {}

/**
 * Calls `app` and returns its Effect. A throw becomes a defect (RUN-2); a
 * value that is not an Effect fails with AppReturnError (RUN-11), and when it
 * is a Promise its rejection is absorbed so that it never reaches the process
 * as an unhandled rejection.
 */
export const callApp = <R>(app: App<unknown, R>, scope: EgiScope, receive: Receive, send: Send): Effect.Effect<void, unknown, R> => {
  let result: unknown
  try {
    result = app(scope, receive, send)
  } catch (defect) {
    return Effect.die(defect)
  }
  if (Effect.isEffect(result)) return result as Effect.Effect<void, unknown, R>
  if (typeof result === "object" && result !== null && typeof (result as { then?: unknown }).then === "function") {
    try {
      ;(result as PromiseLike<unknown>).then(undefined, ignore)
    } catch {
      // A thenable whose `then` throws has nothing to reject later.
    }
  }
  return Effect.fail(new AppReturnError({ returned: describeValue(result) }))
}

/** The failure is only an AppReturnError: the one-line log of RUN-11 says all there is. */
export const appReturnErrorOf = (cause: Cause.Cause<unknown>): AppReturnError | undefined => {
  if (cause.reasons.length !== 1) return undefined
  const r = cause.reasons[0]!
  return Cause.isFailReason(r) && r.error instanceof AppReturnError ? r.error : undefined
}

const endReasonOf: Record<RemoteProtocolError["reason"], EndReason> = {
  ContentLengthMismatch: "malformed",
  IncompleteBody: "malformed",
  BodyTooLarge: "too-large",
  BodyTimeout: "timeout",
  HeaderListTooLarge: "too-large"
}

/** `METHOD target HTTP/version` of an exchange, for log lines. */
const requestLine = (ex: Exchange): string => {
  const s = ex.scope
  return `${s.method} ${targetOf(s)} HTTP/${s.httpVersion}`
}

/**
 * A WebSocket handshake waiting for the machinery (spec.md §8.8), as its
 * transport answers it without: `refuse` answers `status` (500, 503) and
 * closes, `drop` closes without an answer; `where` names it in a log line.
 */
export interface PendingHandshake {
  refuse(status: number): void
  drop(): void
  readonly where: LogWhere | undefined
}

/** The stream a line is about (annotated as connectionId and streamId). */
const whereOf = (scope: EgiScope): LogWhere => ({ connectionId: scope.connectionId, streamId: scope.streamId })

const onlyStreamClosed = (cause: Cause.Cause<unknown>): boolean =>
  cause.reasons.every((r) => Cause.isFailReason(r) && (r.error as { _tag?: string } | null)?._tag === "StreamClosedError")

/**
 * Runs apps on exchanges. One per server.
 */
export class Supervisor {
  readonly host: ExchangeHost
  private readonly app: App<unknown, unknown>
  /**
   * Forks an Effect in the context the server was started in: every app call
   * runs with its services (the app's `R`). Made once, not per request
   * (`runForkWith` returns a new function each call).
   */
  private readonly runFork: (effect: Effect.Effect<void, unknown, unknown>) => Fiber.Fiber<void, unknown>
  /** The runner's metrics (spec.md §8.11), in the server's context. */
  readonly metrics: RunnerMetrics
  /** Admission control (spec.md §8.3, RUN-22, RUN-23): the limits' checks, the refusals, their count and log. */
  readonly admission: Admission
  /** The clients' errors, logged by level and rate-limited (spec.md §8.5, RUN-36–RUN-38). */
  readonly clientErrors: ClientErrors
  /** Each app call runs in a server span (spec.md §8.10). */
  private readonly tracing: boolean
  private readonly opts: ResolvedOptions
  private readonly running = new Running<Exchange>((ex, exit) => this.finish(ex, exit))
  /** WebSockets whose app is still running (spec.md §11). */
  private readonly sockets = new Running<WebSocketSession>((session, exit) => this.finishWebSocket(session, exit))
  private idle: Deferred.Deferred<void> | undefined = undefined
  /** The first WebSocket refused for want of the machinery was logged (WS-22). */
  private toldWebSocketsUnavailable = false
  /** WebSocket handshakes waiting for the machinery to load (in flight). */
  private handshakesLoading = 0
  /** Graceful shutdown began: WebSockets get close 1001, handshakes 503 (WS-14). */
  private goneAway = false

  constructor(app: App<unknown, unknown>, opts: ResolvedOptions, context: Context.Context<unknown>) {
    this.app = app
    this.runFork = Effect.runForkWith(context)
    this.metrics = new RunnerMetrics(context)
    this.admission = new Admission(opts, this.metrics)
    this.clientErrors = new ClientErrors(opts.runnerLog)
    // "auto": spans only for a tracer of the user's, not Effect's default one (spec.md §8.10).
    this.tracing = opts.tracing === "auto" ? Context.get(context as Context.Context<never>, Tracer.Tracer) !== Tracer.nativeTracer : opts.tracing
    this.opts = opts
    this.host = {
      maxBodySize: opts.maxBodySize,
      writeBufferSize: opts.writeBufferSize,
      maxHeaderListSize: opts.maxHeaderListSize,
      onRemoteError: (ex: Exchange, error: RemoteProtocolError) => {
        ex.endReason ??= endReasonOf[error.reason]
        // The client's doing: rate-limited with the other client errors (RUN-38); a body
        // that stalls or crawls is a client's stall, a debug line (RUN-36).
        const source = ex.scope.httpVersion === "2" ? "HTTP/2" : "HTTP/1.1"
        const line = `${requestLine(ex)}: ${error.reason}: ${error.detail}`
        this.clientErrors.malformed(source, error.reason, line, whereOf(ex.scope), error.reason === "BodyTimeout")
        ex.reject(error.status, error.code)
        // A request rejected before its app ran still gets its access-log line.
        if (!ex.admitted && opts.accessLog) this.accessLog(ex)
      }
    }
  }

  /** Streams (and WebSockets) whose app is still running. */
  inflight(): number {
    return this.running.size + this.sockets.size + this.handshakesLoading
  }

  /** The connections that have a stream whose app is still running. */
  busyConnections(): Set<number> {
    const busy = new Set<number>()
    for (const ex of this.running.list()) busy.add(ex.scope.connectionId)
    return busy
  }

  /**
   * Starts the app on `ex`, unless its declared Content-Length is over the
   * body limit: then 413 and the app is not called (RUN-8).
   */
  admit(ex: Exchange): void {
    if (ex.contentLength > this.opts.maxBodySize) {
      return this.host.onRemoteError(
        ex,
        new RemoteProtocolError({
          reason: "BodyTooLarge",
          status: 413,
          code: ErrorCode.CANCEL,
          detail: `content-length ${ex.contentLength} over ${this.opts.maxBodySize}`
        })
      )
    }
    // Past limitConcurrency: 503, and the app is not called (RUN-22). A pushed
    // stream is the server's own doing, bounded by the stream that pushed it.
    if (ex.promisedBy === undefined && this.admission.overloaded(this.inflight())) return this.refuseOverloaded(ex)
    // Listed in http.connection's openStreams while its app runs (spec.md §7.10).
    streamStarted(ex.scope)
    this.metrics.streamStarted()
    ex.admitted = true
    const call = callApp(this.app, ex.scope, ex.receive, ex.send)
    // One server span per stream (spec.md §8.10), linked to the span of the stream that pushed it; none when tracing is off.
    const run = this.tracing ? traced(ex.scope, () => ex.status, call, (span) => void (ex.span = span), ex.promisedBy?.span) : call
    const fiber = this.fork(run, this.running, ex)
    if (fiber === undefined) return
    ex.watchPeer(fiber)
    if (this.opts.responseTimeout > 0) this.bound(ex, fiber, this.opts.responseTimeout)
  }

  /**
   * The response timeout (spec.md §8.3, RUN-35): an app still running
   * `ms` after its stream was admitted is interrupted; the client gets 503
   * (HTTP/1.1 with `connection: close`), or RST_STREAM CANCEL / a closed
   * connection when the response had started; one log line, `end=timeout`.
   */
  private bound(ex: Exchange, fiber: Fiber.Fiber<void, unknown>, ms: number): void {
    const timer = setTimeout(() => {
      if (ex.responseComplete()) return
      ex.endReason ??= "timeout"
      this.opts.runnerLog.error(`${requestLine(ex)}: no complete response within ${ms} ms (responseTimeout): ${ex.status === 0 ? "503" : "reset"}`, whereOf(ex.scope))
      ex.reject(503, ErrorCode.CANCEL)
      fiber.interruptUnsafe()
    }, ms)
    timer.unref()
    fiber.addObserver(() => clearTimeout(timer))
  }

  /**
   * A request past `limitConcurrency` (RUN-22): 503 with `retry-after`, the
   * app never called; a body still arriving is left unread (HTTP/2: RST_STREAM
   * NO_ERROR after the response; HTTP/1.1: node:http discards it). Counted,
   * summed up in the log, and given its access-log line.
   */
  private refuseOverloaded(ex: Exchange): void {
    this.admission.rejected("concurrency")
    if (ex.respondError(503, [["retry-after", RETRY_AFTER]])) ex.abandonUnreadBody()
    if (this.opts.accessLog) this.accessLog(ex)
  }

  /**
   * Forks `run` (an app call, `callApp`) in the server's context and keeps
   * it in `registry` while it runs (the registry's `onExit` runs once with
   * `item` and the exit); the fiber, or undefined when it already ended.
   */
  private fork<T extends RunningItem>(run: Effect.Effect<void, unknown, unknown>, registry: Running<T>, item: T): Fiber.Fiber<void, unknown> | undefined {
    const fiber = this.runFork(run)
    return registry.watch(item, fiber) ? fiber : undefined
  }

  /** One log line for an app that failed (`line` names the request): the cause, or RUN-11's when the call returned no Effect. */
  private logFailure(scope: EgiScope, line: string, cause: Cause.Cause<unknown>): void {
    const notAnEffect = appReturnErrorOf(cause)
    if (notAnEffect === undefined) this.opts.runnerLog.error(`${line}: app failed`, whereOf(scope), cause)
    else this.opts.runnerLog.error(`${line}: RUN-11: ${notAnEffect.message}`, whereOf(scope))
  }

  /**
   * Runs the app on a WebSocket session (spec.md §11): the handshake is
   * answered and the socket closed as the app's fiber ends (rule WS-8); a
   * failure is logged.
   */
  admitWebSocket(session: WebSocketSession): void {
    const s = session.scope
    session.startedAt = performance.now()
    // Past limitConcurrency: the handshake gets 503, and the app is not called (RUN-22).
    // The apps running, not the handshakes still waiting for the machinery (this one among them).
    if (this.admission.overloaded(this.running.size + this.sockets.size)) {
      this.admission.rejected("concurrency")
      session.refuseOverloaded(RETRY_AFTER)
      if (this.opts.accessLog) this.accessLogWebSocket(session)
      return
    }
    this.metrics.socket(1)
    const call = callApp(this.app, s, session.receive, session.send)
    // One server span per WebSocket (spec.md §8.10); none when tracing is off.
    this.fork(this.tracing ? traced(s, () => session.status, call) : call, this.sockets, session)
  }

  /**
   * Runs `use` with the WebSocket machinery, loaded at the first handshake
   * (spec.md §8.8). While it loads, the handshake counts as in flight;
   * once it is loaded, a handshake that arrived before a graceful shutdown
   * began gets 503 (WS-14), and one that finds no machinery 500 (WS-22,
   * one error line for the server's first). A `use` that throws is logged
   * and its transport dropped.
   */
  withWebSockets(use: (machinery: WebSocketMachinery) => void, pending: PendingHandshake): void {
    this.handshakesLoading += 1
    loadWebSockets()
      .then(
        (machinery) => {
          this.handshakesLoading -= 1
          if (this.goneAway) pending.refuse(503)
          else use(machinery)
        },
        (error: WebSocketsUnavailableError) => {
          this.handshakesLoading -= 1
          if (!this.toldWebSocketsUnavailable) {
            this.toldWebSocketsUnavailable = true
            this.opts.runnerLog.error(`WebSockets unavailable, every handshake gets 500: ${error.message}`, pending.where)
          }
          pending.refuse(500)
        }
      )
      .catch((cause: unknown) => {
        this.opts.runnerLog.error("WebSocket handshake failed", pending.where, Cause.die(cause))
        pending.drop()
      })
      .finally(() => this.settle())
  }

  /** A WebSocket's app ended: the socket closes (WS-8), a failure is logged, the access-log line written. */
  private finishWebSocket(session: WebSocketSession, exit: Exit.Exit<void, unknown>): void {
    const s = session.scope
    session.finish(exit)
    this.metrics.socket(-1)
    if (Exit.isFailure(exit) && !Cause.hasInterruptsOnly(exit.cause) && !onlyStreamClosed(exit.cause)) {
      this.logFailure(s, `WEBSOCKET ${s.rawPath}`, exit.cause)
    }
    if (this.opts.accessLog) this.accessLogWebSocket(session)
    this.settle()
  }

  private accessLogWebSocket(session: WebSocketSession): void {
    const s = session.scope
    this.opts.runnerLog.access({
      connectionId: s.connectionId,
      streamId: s.streamId,
      client: s.client === null ? undefined : s.client[0],
      method: "WEBSOCKET",
      target: targetOf(s),
      httpVersion: s.httpVersion,
      status: session.status,
      bytes: undefined,
      durationMs: performance.now() - session.startedAt,
      end: undefined
    })
  }

  /** Graceful shutdown: every open WebSocket gets close 1001, a handshake still unanswered 503 (rule WS-14). */
  goingAway(): void {
    this.goneAway = true
    for (const session of this.sockets.list()) session.goingAway()
  }

  /** Completes when no app is running (at once if none is). */
  whenIdle(): Effect.Effect<void> {
    if (this.inflight() === 0) return Effect.void
    this.idle ??= Deferred.makeUnsafe<void>()
    return Deferred.await(this.idle)
  }

  /**
   * Checks every running exchange for a stalled request body (none for
   * `timeoutMs`) and, when `minRate` > 0, for one slower than `minRate`
   * bytes/s over `rateWindowMs` (RUN-32), every quarter of the shorter
   * (at most every second). Returns a function that stops.
   */
  sweepStalled(timeoutMs: number, minRate = 0, rateWindowMs = 0): () => void {
    const rated = minRate > 0 && rateWindowMs > 0
    if (timeoutMs <= 0 && !rated) return () => {}
    const shortest = Math.min(timeoutMs > 0 ? timeoutMs : Infinity, rated ? rateWindowMs : Infinity)
    const timer = setInterval(() => {
      const now = Date.now()
      for (const ex of this.running.list()) {
        if (timeoutMs > 0) ex.checkStall(now, timeoutMs)
        if (rated) ex.checkRate(now, minRate, rateWindowMs)
      }
    }, Math.max(10, Math.min(1000, Math.floor(shortest / 4))))
    timer.unref()
    return () => clearInterval(timer)
  }

  /** Interrupts every running app (drain timeout): their streams are reset with CANCEL. */
  interruptAll(): void {
    for (const [fiber] of this.sockets.entries()) fiber.interruptUnsafe()
    for (const [fiber, ex] of this.running.entries()) {
      ex.endReason ??= "shutdown"
      fiber.interruptUnsafe()
    }
  }

  private finish(ex: Exchange, exit: Exit.Exit<void, unknown>): void {
    streamEnded(ex.scope)
    ex.abandonUnreadBody()
    const logger = this.opts.runnerLog
    if (Exit.isSuccess(exit)) {
      if (!ex.responseComplete() && ex.endReason === undefined && !ex.wireGone()) {
        logger.error(`${requestLine(ex)}: RUN-4: app returned before completing the response`, whereOf(ex.scope))
        if (!ex.respondError(500)) {
          ex.endReason ??= "app-incomplete"
          ex.wireReset(ErrorCode.INTERNAL_ERROR)
        }
      }
    } else if (Cause.hasInterruptsOnly(exit.cause)) {
      if (!ex.responseComplete()) ex.wireReset(ErrorCode.CANCEL)
    } else if (ex.ended() && onlyStreamClosed(exit.cause)) {
      // The peer went away and the app learnt it from send: nothing to report.
    } else {
      this.logFailure(ex.scope, requestLine(ex), exit.cause)
      if (!ex.respondError(500) && !ex.responseComplete()) {
        ex.endReason ??= "app-failed"
        ex.wireReset(ErrorCode.INTERNAL_ERROR)
      }
    }
    ex.unwatch()
    // Counted and logged as it ended: after the runner's own 500 or reset, if any.
    const ms = performance.now() - ex.startedAt
    this.metrics.streamEnded(ex.scope.method, ex.status, ms, ex.bytesIn, ex.bytesOut)
    if (this.opts.accessLog) this.accessLog(ex, ms)
    this.settle()
  }

  private settle(): void {
    if (this.idle !== undefined && this.inflight() === 0) Deferred.doneUnsafe(this.idle, Exit.void)
  }

  private accessLog(ex: Exchange, elapsed: number = performance.now() - ex.startedAt): void {
    const s = ex.scope
    this.opts.runnerLog.access({
      connectionId: s.connectionId,
      streamId: s.streamId,
      client: s.client === null ? undefined : s.client[0],
      method: s.method,
      target: targetOf(s),
      httpVersion: s.httpVersion,
      status: ex.status,
      bytes: ex.bytesOut,
      durationMs: elapsed,
      end: ex.endReason
    })
  }
}
