/**
 * The runner's log lines (spec.md §8.5): the access log and the server's own
 * lines, through Effect's Logger — or, when the server's context has only
 * Effect's default logger, as EGI's own text lines, buffered (a synchronous
 * pipe write per request would cost more than the request).
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as References from "effect/References"

/**
 * Where the runner's lines go (option `log`, spec.md §8.5):
 *
 * - `"auto"` (the default): through Effect's Logger when the server's context
 *   carries loggers of the user's (`Logger.layer([Logger.consoleJson])`, an
 *   OTLP logger …); as EGI's text lines when it has only Effect's default
 *   logger;
 * - `"text"`: always EGI's text lines — access lines to stdout (buffered,
 *   flushed once per event-loop turn), the rest to stderr;
 * - `"effect"`: always through Effect's Logger, even its default one;
 * - `false`: no lines at all.
 *
 * Either way the context's `References.MinimumLogLevel` applies: access and
 * info lines are at level Info, errors at Error, debug lines (what clients
 * ordinarily do: reset, close, time out; rule RUN-36) at Debug.
 *
 * @since 0.4.0
 * @category models
 */
export type LogMode = "auto" | "text" | "effect" | false

/**
 * The stream a line is about: its connection and, when there is one, its
 * stream ID (the correlator, spec.md §4.2). Annotated as `connectionId` and
 * `streamId` through Effect's Logger; `conn=` and `stream=` in text.
 *
 * @since 0.4.0
 * @category models
 */
export interface LogWhere {
  readonly connectionId: number
  readonly streamId?: number | undefined
}

/**
 * One access-log entry (spec.md §8.5): a request or WebSocket as it ended.
 * `status` 0 when none was sent; `bytes` the response body bytes, or
 * undefined (WebSockets); `durationMs` from the request head to the end;
 * `end` why it ended early (`reset`, `timeout` …), if it did.
 *
 * @since 0.4.0
 * @category models
 */
export interface AccessEntry extends LogWhere {
  readonly client: string | undefined
  readonly method: string
  readonly target: string
  readonly httpVersion: string
  readonly status: number
  readonly bytes: number | undefined
  readonly durationMs: number
  readonly end: string | undefined
}

/**
 * The runner's log: `access` per ended request, `info` and `error` for the
 * rest (an `error` may carry the failure's `Cause`), `debug` for what is
 * worth a line only when asked for (Debug level, RUN-36). `flush` writes out
 * buffered text lines; the server calls it at the end of its shutdown.
 * Made by `runnerLog`; none of its functions throws.
 *
 * @since 0.4.0
 * @category models
 */
export interface RunnerLog {
  readonly access: (entry: AccessEntry) => void
  readonly info: (message: string, where?: LogWhere) => void
  readonly error: (message: string, where?: LogWhere, cause?: Cause.Cause<unknown>) => void
  readonly debug: (message: string, where?: LogWhere) => void
  readonly flush: () => void
}

/** The loggers a context has when nobody chose any: Effect's default one (and its tracer logger). */
const onlyEffectDefaults = (loggers: ReadonlySet<Logger.Logger<unknown, unknown>>): boolean => {
  if (!loggers.has(Logger.defaultLogger)) return false
  for (const logger of loggers) if (logger !== Logger.defaultLogger && logger !== Logger.tracerLogger) return false
  return true
}

/** A line at `level` passes the context's minimum level. */
const enabled = (minimum: LogLevel.LogLevel, level: LogLevel.Severity): boolean => LogLevel.isGreaterThanOrEqualTo(level, minimum)

/**
 * The runner's log for a server started in `context` (spec.md §8.5), as
 * `mode` says (see `LogMode`).
 *
 * @since 0.4.0
 * @category constructors
 */
export const runnerLog = (mode: LogMode, context: Context.Context<unknown>): RunnerLog => {
  if (mode === false) return silentLog
  const ctx = context as Context.Context<never>
  const loggers = Context.get(ctx, Logger.CurrentLoggers)
  const minimum = Context.get(ctx, References.MinimumLogLevel)
  if (mode === "text" || (mode === "auto" && onlyEffectDefaults(loggers))) {
    return textLog(enabled(minimum, "Info"), enabled(minimum, "Error"), enabled(minimum, "Debug"))
  }
  if (loggers.size === 0 || !enabled(minimum, "Error")) return silentLog
  return effectLog(ctx, enabled(minimum, "Debug"))
}

const silentLog: RunnerLog = { access: () => {}, info: () => {}, error: () => {}, debug: () => {}, flush: () => {} }

const prefix = (where: LogWhere | undefined): string =>
  where === undefined ? "" : where.streamId === undefined ? `conn=${where.connectionId} ` : `conn=${where.connectionId} stream=${where.streamId} `

/** The access line's head: `client "METHOD target HTTP/v" status bytes ms`. */
const accessHead = (e: AccessEntry): string =>
  `${e.client ?? "-"} "${e.method} ${e.target} HTTP/${e.httpVersion}" ${e.status === 0 ? "-" : e.status} ${e.bytes ?? "-"} ${e.durationMs.toFixed(2)}ms`

/**
 * EGI's text lines: access lines to stdout, buffered and flushed once per
 * event-loop turn or at 64 KiB; info and error lines to stderr at once, with
 * an ISO 8601 timestamp (error lines also with `error`, debug lines with
 * `debug`).
 */
const textLog = (info: boolean, error: boolean, debug: boolean): RunnerLog => {
  let buffered = ""
  let scheduled = false
  const flush = (): void => {
    scheduled = false
    if (buffered.length === 0) return
    const out = buffered
    buffered = ""
    process.stdout.write(out)
  }
  return {
    access: info
      ? (e) => {
        buffered += `${accessHead(e)} conn=${e.connectionId} stream=${e.streamId}${e.end === undefined ? "" : ` end=${e.end}`}\n`
        if (buffered.length > 65536) flush()
        else if (!scheduled) {
          scheduled = true
          setImmediate(flush)
        }
      }
      : () => {},
    info: info
      ? (message, where) => {
        flush()
        process.stderr.write(`${new Date().toISOString()} ${prefix(where)}${message}\n`)
      }
      : () => {},
    error: error
      ? (message, where, cause) => {
        flush()
        const detail = cause === undefined ? "" : `: ${Cause.pretty(cause)}`
        process.stderr.write(`${new Date().toISOString()} error ${prefix(where)}${message}${detail}\n`)
      }
      : () => {},
    debug: debug
      ? (message, where) => {
        flush()
        process.stderr.write(`${new Date().toISOString()} debug ${prefix(where)}${message}\n`)
      }
      : () => {},
    flush
  }
}

/** Annotations of a line about `where`. */
const whereAnnotations = (where: LogWhere | undefined): Record<string, unknown> =>
  where === undefined ? {} : where.streamId === undefined
  ? { connectionId: where.connectionId }
  : { connectionId: where.connectionId, streamId: where.streamId }

/**
 * Through Effect's Logger: each line is logged by a short fiber in the
 * server's context (its loggers, minimum level, tracer), annotated with
 * `connectionId` and `streamId`; access lines also with OpenTelemetry's
 * HTTP attribute names.
 */
const effectLog = (context: Context.Context<never>, debug: boolean): RunnerLog => {
  const run = Effect.runForkWith(context)
  const emit = (effect: Effect.Effect<void>, annotations: Record<string, unknown>): void => {
    run(Effect.annotateLogs(effect, annotations))
  }
  return {
    access: (e) => {
      const annotations: Record<string, unknown> = {
        connectionId: e.connectionId,
        streamId: e.streamId,
        "http.request.method": e.method,
        "url.path": e.target,
        "network.protocol.version": e.httpVersion,
        "http.response.status_code": e.status === 0 ? undefined : e.status,
        "http.response.body.size": e.bytes,
        "client.address": e.client,
        durationMs: Number(e.durationMs.toFixed(2))
      }
      if (e.end !== undefined) annotations.end = e.end
      emit(Effect.logInfo(accessHead(e)), annotations)
    },
    info: (message, where) => emit(Effect.logInfo(message), whereAnnotations(where)),
    error: (message, where, cause) =>
      emit(cause === undefined ? Effect.logError(message) : Effect.logError(message, cause), whereAnnotations(where)),
    debug: debug ? (message, where) => emit(Effect.logDebug(message), whereAnnotations(where)) : () => {},
    flush: () => {}
  }
}
