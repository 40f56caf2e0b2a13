/**
 * Per-stream supervision (spec.md §5): runs the app for an exchange in its
 * own fiber, answers its failure (500 or reset), writes the access-log line,
 * and keeps the set of running fibers for the drain.
 */
import { Cause, Deferred, Effect, Exit, type Fiber } from "effect"
import type { App } from "../protocol/app.ts"
import { RemoteProtocolError } from "../protocol/errors.ts"
import { type EndReason, ErrorCode, type Exchange, type ExchangeHost } from "./exchange.ts"
import type { RunnerOptions } from "./options.ts"
import type { WebSocketSession } from "../websocket/session.ts"

const endReasonOf: Record<RemoteProtocolError["reason"], EndReason> = {
  ContentLengthMismatch: "malformed",
  BodyTooLarge: "too-large",
  BodyTimeout: "timeout"
}

/** `METHOD target HTTP/version` of an exchange, for log lines. */
const requestLine = (ex: Exchange): string => {
  const s = ex.scope
  const target = s.queryString === "" ? s.rawPath : `${s.rawPath}?${s.queryString}`
  return `${s.method} ${target} HTTP/${s.httpVersion}`
}

const where = (ex: Exchange): string => `conn=${ex.scope.connectionId} stream=${ex.scope.streamId} ${requestLine(ex)}`

const onlyStreamClosed = (cause: Cause.Cause<unknown>): boolean =>
  cause.reasons.every((r) => Cause.isFailReason(r) && (r.error as { _tag?: string } | null)?._tag === "StreamClosedError")

/**
 * Runs apps on exchanges. One per server.
 */
export class Supervisor {
  readonly host: ExchangeHost
  private readonly app: App
  private readonly opts: RunnerOptions
  private readonly running = new Map<Fiber.Fiber<void, unknown>, Exchange>()
  /** WebSockets whose app is still running (spec.md §11). */
  private readonly sockets = new Map<Fiber.Fiber<void, unknown>, WebSocketSession>()
  private idle: Deferred.Deferred<void> | undefined = undefined

  constructor(app: App, opts: RunnerOptions) {
    this.app = app
    this.opts = opts
    this.host = {
      maxBodySize: opts.maxBodySize,
      writeBufferSize: opts.writeBufferSize,
      onRemoteError: (ex: Exchange, error: RemoteProtocolError) => {
        ex.endReason ??= endReasonOf[error.reason]
        opts.logger.error(`${where(ex)}: ${error.reason}: ${error.detail}`)
        ex.reject(error.status, error.code)
        // A request rejected before its app ran still gets its access-log line.
        if (!ex.admitted && opts.accessLog) this.accessLog(ex)
      }
    }
  }

  /** Streams (and WebSockets) whose app is still running. */
  inflight(): number {
    return this.running.size + this.sockets.size
  }

  /** The connections that have a stream whose app is still running. */
  busyConnections(): Set<number> {
    const busy = new Set<number>()
    for (const ex of this.running.values()) busy.add(ex.scope.connectionId)
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
    let effect: Effect.Effect<void, unknown>
    try {
      effect = this.app(ex.scope, ex.receive, ex.send)
    } catch (defect) {
      effect = Effect.die(defect)
    }
    ex.admitted = true
    const fiber = Effect.runFork(effect)
    const exit = fiber.pollUnsafe()
    // Most responses complete synchronously: no bookkeeping for those.
    if (exit !== undefined) return this.finish(ex, exit)
    this.running.set(fiber, ex)
    fiber.addObserver((exit) => {
      this.running.delete(fiber)
      this.finish(ex, exit)
    })
    ex.watchPeer(() => fiber.interruptUnsafe())
  }

  /**
   * Runs the app on a WebSocket session (spec.md §11): the handshake is
   * answered and the socket closed as the app's fiber ends (rule WS-8); a
   * failure is logged.
   */
  admitWebSocket(session: WebSocketSession): void {
    const s = session.scope
    const startedAt = performance.now()
    let effect: Effect.Effect<void, unknown>
    try {
      effect = this.app(s, session.receive, session.send)
    } catch (defect) {
      effect = Effect.die(defect)
    }
    const fiber = Effect.runFork(effect)
    this.sockets.set(fiber, session)
    fiber.addObserver((exit) => {
      this.sockets.delete(fiber)
      session.finish(exit)
      const where = `conn=${s.connectionId} stream=${s.streamId} WEBSOCKET ${s.rawPath}`
      if (Exit.isFailure(exit) && !Cause.hasInterruptsOnly(exit.cause) && !onlyStreamClosed(exit.cause)) {
        this.opts.logger.error(`${where}: app failed: ${Cause.pretty(exit.cause)}`)
      }
      if (this.opts.accessLog) {
        const client = s.client === null ? "-" : s.client[0]
        const target = s.queryString === "" ? s.rawPath : `${s.rawPath}?${s.queryString}`
        const ms = (performance.now() - startedAt).toFixed(2)
        this.opts.logger.access(`${client} "WEBSOCKET ${target} HTTP/${s.httpVersion}" ${session.status || "-"} - ${ms}ms conn=${s.connectionId} stream=${s.streamId}`)
      }
      this.settle()
    })
  }

  /** Graceful shutdown: every open WebSocket gets close 1001, a handshake still unanswered 503 (rule WS-14). */
  goingAway(): void {
    for (const session of this.sockets.values()) session.goingAway()
  }

  /** Completes when no app is running (at once if none is). */
  whenIdle(): Effect.Effect<void> {
    if (this.inflight() === 0) return Effect.void
    this.idle ??= Deferred.makeUnsafe<void>()
    return Deferred.await(this.idle)
  }

  /**
   * Checks every running exchange for a stalled request body every
   * `timeoutMs / 4` ms (at most every second). Returns a function that stops.
   */
  sweepStalled(timeoutMs: number): () => void {
    if (timeoutMs <= 0) return () => {}
    const timer = setInterval(() => {
      const now = Date.now()
      for (const ex of this.running.values()) ex.checkStall(now, timeoutMs)
    }, Math.max(10, Math.min(1000, Math.floor(timeoutMs / 4))))
    timer.unref()
    return () => clearInterval(timer)
  }

  /** Interrupts every running app (drain timeout): their streams are reset with CANCEL. */
  interruptAll(): void {
    for (const fiber of this.sockets.keys()) fiber.interruptUnsafe()
    for (const [fiber, ex] of this.running) {
      ex.endReason ??= "shutdown"
      fiber.interruptUnsafe()
    }
  }

  private finish(ex: Exchange, exit: Exit.Exit<void, unknown>): void {
    const logger = this.opts.logger
    if (Exit.isSuccess(exit)) {
      if (!ex.responseComplete() && ex.endReason === undefined && !ex.wireGone()) {
        logger.error(`${where(ex)}: RUN-4: app returned before completing the response`)
        if (!ex.respondError(500)) ex.wireReset(ErrorCode.INTERNAL_ERROR)
      }
    } else if (Cause.hasInterruptsOnly(exit.cause)) {
      if (!ex.responseComplete()) ex.wireReset(ErrorCode.CANCEL)
    } else if (ex.ended() && onlyStreamClosed(exit.cause)) {
      // The peer went away and the app learnt it from send: nothing to report.
    } else {
      logger.error(`${where(ex)}: app failed: ${Cause.pretty(exit.cause)}`)
      if (!ex.respondError(500) && !ex.responseComplete()) ex.wireReset(ErrorCode.INTERNAL_ERROR)
    }
    if (this.opts.accessLog) this.accessLog(ex)
    this.settle()
  }

  private settle(): void {
    if (this.idle !== undefined && this.inflight() === 0) Deferred.doneUnsafe(this.idle, Exit.void)
  }

  private accessLog(ex: Exchange): void {
    const s = ex.scope
    const ms = (performance.now() - ex.startedAt).toFixed(2)
    const client = s.client === null ? "-" : s.client[0]
    const status = ex.status === 0 ? "-" : String(ex.status)
    const end = ex.endReason === undefined ? "" : ` end=${ex.endReason}`
    this.opts.logger.access(
      `${client} "${requestLine(ex)}" ${status} ${ex.bytesOut} ${ms}ms conn=${s.connectionId} stream=${s.streamId}${end}`
    )
  }
}
