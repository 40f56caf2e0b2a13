/**
 * The HTTP/2 connection limits of spec.md §8.3 (rules RUN-27, RUN-28): what
 * node:http2 enforces per session against a hostile peer, and the SETTINGS
 * the server advertises, each from a runner option; their ranges (part of
 * option-ranges.ts, which `start`, the CLI and `optionsConfig` all hold
 * them to) and the node:http2 server options made from them.
 */
import type * as http2 from "node:http2"
import { maxSetting, type RunnerOptions } from "./options.ts"

/** The options of this module. */
export type H2LimitOption =
  | "h2StreamResetBurst"
  | "h2StreamResetRate"
  | "h2MaxSessionMemory"
  | "h2MaxHeaderListPairs"
  | "h2MaxInvalidFrames"
  | "h2MaxRejectedStreams"
  | "h2InitialWindowSize"
  | "h2MaxFrameSize"
  | "h2HeaderTableSize"

/** An option's accepted integers, `min`–`max` inclusive, and its unit for messages. */
export interface H2LimitRange {
  readonly min: number
  readonly max: number
  readonly unit: string
}

/**
 * The accepted values of each option: node:http2 keeps them as 32-bit
 * integers, raises the session limits below 1 (4 for header pairs) to it
 * silently, and throws later, on the first connection, for SETTINGS out of
 * RFC 9113 §6.5.2's ranges — so `start` refuses them up front (`ServeError`
 * `Options`), and the CLI with exit code 2.
 *
 * @since 0.5.0
 * @category constants
 */
export const h2LimitRanges: { readonly [K in H2LimitOption]: H2LimitRange } = {
  h2StreamResetBurst: { min: 1, max: maxSetting, unit: "RST_STREAM frames" },
  h2StreamResetRate: { min: 1, max: maxSetting, unit: "RST_STREAM frames per second" },
  h2MaxSessionMemory: { min: 1, max: 2 ** 20, unit: "MB" },
  h2MaxHeaderListPairs: { min: 4, max: maxSetting, unit: "fields" },
  h2MaxInvalidFrames: { min: 0, max: maxSetting, unit: "frames" },
  h2MaxRejectedStreams: { min: 0, max: maxSetting, unit: "streams" },
  // RFC 9113 §6.5.2: SETTINGS_INITIAL_WINDOW_SIZE at most 2^31-1, SETTINGS_MAX_FRAME_SIZE 2^14–2^24-1.
  h2InitialWindowSize: { min: 0, max: 2 ** 31 - 1, unit: "bytes" },
  h2MaxFrameSize: { min: 2 ** 14, max: 2 ** 24 - 1, unit: "bytes" },
  h2HeaderTableSize: { min: 0, max: maxSetting, unit: "bytes" }
}

/**
 * node:http2's server options from the runner's: the SETTINGS it sends
 * (RFC 9113 §6.5.2) and the per-session limits it enforces on the peer.
 */
export const h2ServerOptions = (
  opts: Pick<RunnerOptions, H2LimitOption | "maxConcurrentStreams" | "maxHeaderListSize">
): http2.ServerOptions => ({
  settings: {
    maxConcurrentStreams: opts.maxConcurrentStreams,
    maxHeaderListSize: opts.maxHeaderListSize,
    initialWindowSize: opts.h2InitialWindowSize,
    maxFrameSize: opts.h2MaxFrameSize,
    headerTableSize: opts.h2HeaderTableSize,
    // RFC 8441: WebSockets (and other protocols, which get 501) over extended CONNECT.
    enableConnectProtocol: true
  },
  // Rapid reset (CVE-2023-44487): a token bucket of RST_STREAM frames; past it, GOAWAY.
  streamResetBurst: opts.h2StreamResetBurst,
  streamResetRate: opts.h2StreamResetRate,
  maxSessionMemory: opts.h2MaxSessionMemory,
  maxHeaderListPairs: opts.h2MaxHeaderListPairs,
  maxSessionInvalidFrames: opts.h2MaxInvalidFrames,
  maxSessionRejectedStreams: opts.h2MaxRejectedStreams
})
