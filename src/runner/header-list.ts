/**
 * The HTTP/2 header-list limit, held by the runner itself (spec.md §8.3,
 * rule RUN-26): node:http2 enforces SETTINGS_MAX_HEADER_LIST_SIZE only once
 * the peer has acknowledged the SETTINGS frame that carries it, so a
 * request sent before that ACK — or by a peer that never sends it — would
 * otherwise reach the app with a header list of any size HPACK can decode.
 */
import { RemoteProtocolError } from "../protocol/errors.ts"
import { ErrorCode } from "../protocol/fields.ts"

/** The octets RFC 9113 §6.5.2 adds to each field's name and value for its per-entry overhead. */
const FIELD_OVERHEAD = 32

/**
 * The size of a decoded header list as RFC 9113 §6.5.2 counts it: the sum,
 * over every field (pseudo-header fields included), of its name's and its
 * value's lengths in octets plus 32. `raw` is node:http2's flat
 * `[name, value, name, value, …]` list, whose strings are one byte per
 * octet (latin-1), so a string's length is its size.
 */
export const headerListSize = (raw: ReadonlyArray<string>): number => {
  let size = 0
  for (let i = 0; i < raw.length; i++) size += raw[i]!.length
  return size + (raw.length >> 1) * FIELD_OVERHEAD
}

/**
 * The refusal of a header list of `size` octets when it is over `limit`
 * (`RunnerOptions.maxHeaderListSize`), else undefined: 431 while the
 * stream can still be answered, else RST_STREAM ENHANCE_YOUR_CALM (11, the
 * code node:http2 resets with once the SETTINGS are acknowledged).
 */
export const checkHeaderList = (raw: ReadonlyArray<string>, limit: number): RemoteProtocolError | undefined => {
  const size = headerListSize(raw)
  return size <= limit ? undefined : new RemoteProtocolError({
    reason: "HeaderListTooLarge",
    status: 431,
    code: ErrorCode.ENHANCE_YOUR_CALM,
    detail: `header list of ${size} bytes (RFC 9113 §6.5.2) over ${limit}`
  })
}
