/**
 * The runner's log lines: access lines buffered and flushed once per event
 * loop turn (a synchronous pipe write per request would cost more than the
 * request), info and error lines written at once.
 *
 * @since 0.1.0
 */
import type { Logger } from "./options.ts"

/**
 * The default logger: access lines to stdout (buffered, flushed once per
 * event-loop turn or at 64 KiB), info and error lines to stderr at once,
 * each prefixed with an ISO 8601 timestamp (error lines also with `error`).
 * `flush()` writes out buffered access lines (call it before exiting).
 *
 * @since 0.1.0
 * @category constructors
 */
export const consoleLogger = (): Logger & { readonly flush: () => void } => {
  let buffered = ""
  let scheduled = false
  const flush = (): void => {
    scheduled = false
    if (buffered.length === 0) return
    const out = buffered
    buffered = ""
    process.stdout.write(out)
  }
  const stamp = (): string => new Date().toISOString()
  return {
    access: (line) => {
      buffered += line + "\n"
      if (buffered.length > 65536) flush()
      else if (!scheduled) {
        scheduled = true
        setImmediate(flush)
      }
    },
    info: (line) => {
      flush()
      process.stderr.write(`${stamp()} ${line}\n`)
    },
    error: (line) => {
      flush()
      process.stderr.write(`${stamp()} error ${line}\n`)
    },
    flush
  }
}

/**
 * A `Logger` that drops every line (tests, benchmarks); with it the runner
 * writes nothing to stdout or stderr.
 *
 * @since 0.1.0
 * @category constructors
 */
export const silentLogger: Logger = { access: () => {}, info: () => {}, error: () => {} }
