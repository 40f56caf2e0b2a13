/**
 * The accepted values of every numeric runner option (spec.md §8.3, rule
 * RUN-39): one table, read by `start` (`ServeError` `Options`), by
 * `optionsConfig` (`Config.ConfigError`) and by the CLI's flags and their
 * variables (exit code 2), so that a value one of them takes is never one
 * another refuses.
 *
 * @since 0.6.0
 */
import { type H2LimitRange, h2LimitRanges } from "./h2-limits.ts"
import { maxSetting, maxTimerMs, type RunnerOptions } from "./options.ts"

/** The runner options whose values are numbers. */
export type NumericOption = { readonly [K in keyof RunnerOptions]-?: RunnerOptions[K] extends number ? K : never }[keyof RunnerOptions]

/**
 * An option's accepted integers, `min`–`max` inclusive, and its unit. A unit
 * of `"ms"` marks a time: the CLI takes it in seconds (spec.md §8.5).
 */
export type OptionRange = H2LimitRange

/** 2^31 − 1: the largest buffer and queue bound node's streams and `ws` take as one integer. */
const maxInt32 = 2 ** 31 - 1

const ms = (zero?: string): OptionRange => ({ min: 0, max: maxTimerMs, unit: zero === undefined ? "ms" : `ms; ${zero}` })
const count = (unit: string): OptionRange => ({ min: 0, max: Number.MAX_SAFE_INTEGER, unit: `${unit}; 0: no limit` })

/**
 * Each numeric option's range. Integers only, never rounded or clamped:
 * times up to the longest Node timer (2^31 − 1 ms), HTTP/2 SETTINGS up to
 * 2^32 − 1 (RFC 9113 §6.5.1), the HTTP/2 session limits as `h2LimitRanges`.
 *
 * @since 0.6.0
 * @category constants
 */
export const optionRanges: { readonly [K in NumericOption]: OptionRange } = {
  port: { min: 0, max: 65535, unit: "TCP port; 0: any free one" },
  backlog: { min: 0, max: maxInt32, unit: "pending connections" },
  maxConcurrentStreams: { min: 0, max: maxSetting, unit: "streams" },
  maxHeaderListSize: { min: 0, max: maxSetting, unit: "bytes" },
  maxBodySize: { min: 0, max: Number.MAX_SAFE_INTEGER, unit: "bytes" },
  headerTimeout: ms(),
  idleTimeout: ms("0: off"),
  drainTimeout: ms(),
  writeBufferSize: { min: 0, max: maxInt32, unit: "bytes" },
  // ws reads 0 as no limit, for both transports and permessage-deflate alike.
  wsMaxMessageSize: { min: 0, max: maxInt32, unit: "bytes; 0: no limit" },
  wsMaxQueuedBytes: { min: 0, max: Number.MAX_SAFE_INTEGER, unit: "bytes" },
  wsPingInterval: ms("0: no pings"),
  wsPingTimeout: ms(),
  limitConcurrency: count("apps in flight"),
  maxConnections: count("connections"),
  ...h2LimitRanges,
  minRequestRate: count("bytes per second"),
  minRequestRateWindow: ms(),
  maxRequestsPerConnection: count("requests"),
  responseTimeout: ms("0: none")
}

/** Whether `option` is a time, in ms (its `EGI_*` variable and its flag take it in seconds). */
export const isTime = (option: NumericOption): boolean => optionRanges[option].unit.split(";")[0] === "ms"

/** Seconds as a time's flag and `EGI_*` variable are written: digits, at most 3 decimals (whole ms), no sign, no exponent. */
const SECONDS = /^\d+(\.\d{1,3})?$/

/**
 * A time option's value written in seconds, as the CLI's flags and every
 * `EGI_*` variable take it (spec.md §8.5, RUN-39), as its ms: `"0.5"` → 500.
 * Undefined when `text` is not such a number (`"1e3"`, `"-1"`,
 * `"0.0005"`) or is outside `range` (given in ms).
 */
export const secondsAsMs = (text: string, range: OptionRange): number | undefined => {
  if (!SECONDS.test(text)) return undefined
  const ms = Math.round(Number(text) * 1000)
  return ms < range.min || ms > range.max ? undefined : ms
}

/** What a time option takes, for a refusal: `seconds from 0 to 2147483.647 (at most 3 decimals)`. */
export const secondsRange = (range: OptionRange): string => `seconds from ${range.min / 1000} to ${range.max / 1000} (at most 3 decimals)`

/**
 * The first numeric option outside its range (or not an integer), as the
 * sentence of a `ServeError` `Options`:
 * `backlog must be an integer from 0 to 2147483647 (pending connections), got -1`;
 * undefined when every one is in range.
 */
export const checkOptionRanges = (opts: Pick<RunnerOptions, NumericOption>): string | undefined => {
  for (const [name, { max, min, unit }] of Object.entries(optionRanges) as Array<[NumericOption, OptionRange]>) {
    const n = opts[name]
    if (!Number.isSafeInteger(n) || n < min || n > max) return `${name} must be an integer from ${min} to ${max} (${unit}), got ${n}`
  }
  return undefined
}
