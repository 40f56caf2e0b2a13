/**
 * The checks on what an app sends that are not about order (spec.md §3.4,
 * §4.5, §7): field lists (HTTP-5, HTTP-6), the response head (HTTP-4,
 * HTTP-16, HTTP-17), never-index lists, stream error codes (HTTP-22), push
 * paths and early-hint links. One copy, used by the Node runner, by
 * `validate(app)` and by the in-memory client alike. Pure: no I/O.
 *
 * @since 0.4.0
 */
import { LocalProtocolError } from "./errors.ts"
import { isFieldName, isFieldValue, singleValue } from "./headers.ts"

/**
 * RFC 9113 §7 error codes the Node runner sends (and reads) on RST_STREAM
 * and GOAWAY.
 *
 * @since 0.4.0
 * @category constants
 */
export const ErrorCode = {
  NO_ERROR: 0,
  PROTOCOL_ERROR: 1,
  INTERNAL_ERROR: 2,
  SETTINGS_TIMEOUT: 4,
  CANCEL: 8,
  ENHANCE_YOUR_CALM: 11
} as const

/** The largest RFC 9113 §7 error code: 32 bits. */
const MAX_ERROR_CODE = 0xffff_ffff

const DECIMAL = /^\d{1,15}$/

/**
 * The HTTP-5/HTTP-6 violation of field `i` of an outbound list (`what`
 * names the list in the detail), or `undefined`.
 *
 * @since 0.4.0
 * @category checks
 */
export const checkField = (h: unknown, i: number, what: string): LocalProtocolError | undefined => {
  if (!Array.isArray(h) || h.length !== 2) return new LocalProtocolError({ rule: "HTTP-5", detail: `${what} ${i} is not a [name, value] pair` })
  if (!isFieldName(h[0])) {
    return new LocalProtocolError({ rule: "HTTP-5", detail: `${what} name ${JSON.stringify(h[0])} is not a lower-case token` })
  }
  if (!isFieldValue(h[1])) return new LocalProtocolError({ rule: "HTTP-6", detail: `value of ${what} ${h[0]} is not an RFC 9110 field value` })
  return undefined
}

/**
 * Checks an outbound field list for HTTP-5/HTTP-6 only (trailers, push
 * fields, WebSocket handshake fields); `undefined` is an empty list.
 *
 * @since 0.4.0
 * @category checks
 */
export const checkFields = (headers: unknown, what: string): LocalProtocolError | undefined => {
  if (headers === undefined) return undefined
  if (!Array.isArray(headers)) return new LocalProtocolError({ rule: "HTTP-5", detail: `${what} is not a list of [name, value] pairs` })
  for (let i = 0; i < headers.length; i++) {
    const bad = checkField(headers[i], i, what)
    if (bad !== undefined) return bad
  }
  return undefined
}

/**
 * Checks a `neverIndex` list (spec.md §7.8): lower-case field names
 * (HTTP-5); `undefined` is none.
 *
 * @since 0.4.0
 * @category checks
 */
export const checkNames = (names: unknown): LocalProtocolError | undefined =>
  names === undefined || (Array.isArray(names) && names.every(isFieldName))
    ? undefined
    : new LocalProtocolError({ rule: "HTTP-5", detail: "neverIndex is not a list of lower-case field names" })

/**
 * Checks a final status (HTTP-4): an integer in 200–599.
 *
 * @since 0.4.0
 * @category checks
 */
export const checkStatus = (status: unknown): LocalProtocolError | undefined =>
  Number.isInteger(status) && (status as number) >= 200 && (status as number) <= 599
    ? undefined
    : new LocalProtocolError({ rule: "HTTP-4", detail: `status ${String(status)} is not an integer in 200–599` })

/**
 * Checks a response header list in one pass (HTTP-5, HTTP-6, a single-value
 * field sent twice HTTP-16, a `content-length` that is not a decimal
 * integer HTTP-17, `content-length` beside `transfer-encoding` HTTP-37) and
 * returns the declared content-length in bytes (-1 when none), or the error
 * naming the rule broken. `undefined` is empty.
 *
 * @since 0.4.0
 * @category checks
 */
export const checkHead = (headers: unknown): number | LocalProtocolError => {
  if (headers === undefined) return -1
  if (!Array.isArray(headers)) return new LocalProtocolError({ rule: "HTTP-5", detail: "header is not a list of [name, value] pairs" })
  let declared = -1
  let framed = false
  // Most responses carry one single-value field at most: no Set for those.
  let seen: Set<string> | undefined
  let firstSingle: string | undefined
  for (let i = 0; i < headers.length; i++) {
    const h = headers[i]
    const bad = checkField(h, i, "header")
    if (bad !== undefined) return bad
    const name = h[0] as string
    if (name === "transfer-encoding") framed = true
    if (!singleValue.has(name)) continue
    if (firstSingle === undefined) firstSingle = name
    else {
      seen ??= new Set([firstSingle])
      if (seen.has(name)) return new LocalProtocolError({ rule: "HTTP-16", detail: `${name} sent twice` })
      seen.add(name)
    }
    if (name === "content-length") {
      if (!DECIMAL.test(h[1])) return new LocalProtocolError({ rule: "HTTP-17", detail: "content-length is not a decimal integer" })
      declared = Number(h[1])
    }
  }
  if (framed && declared >= 0) {
    return new LocalProtocolError({ rule: "HTTP-37", detail: "content-length beside transfer-encoding (RFC 9112 §6.2 forbids it)" })
  }
  return declared
}

/**
 * Checks an `http.response.reset` error code (HTTP-22): an integer in
 * 0–2^32-1 (RFC 9113 §7).
 *
 * @since 0.4.0
 * @category checks
 */
export const checkErrorCode = (code: unknown): LocalProtocolError | undefined =>
  Number.isInteger(code) && (code as number) >= 0 && (code as number) <= MAX_ERROR_CODE
    ? undefined
    : new LocalProtocolError({ rule: "HTTP-22", detail: `error code ${String(code)} is not an integer in 0–2^32-1` })

/**
 * Checks a push path (HTTP-20): an absolute path (starts with `/`), a field
 * value, no whitespace.
 *
 * @since 0.4.0
 * @category checks
 */
export const checkPushPath = (path: unknown): LocalProtocolError | undefined =>
  typeof path === "string" && path.startsWith("/") && isFieldValue(path) && !/\s/.test(path)
    ? undefined
    : new LocalProtocolError({ rule: "HTTP-20", detail: `push path ${JSON.stringify(path)} is not an absolute path` })

/**
 * Checks early-hint links (HTTP-6): a list of non-empty field values.
 *
 * @since 0.4.0
 * @category checks
 */
export const checkLinks = (links: unknown): LocalProtocolError | undefined =>
  Array.isArray(links) && links.every((l) => typeof l === "string" && l.length > 0 && isFieldValue(l))
    ? undefined
    : new LocalProtocolError({ rule: "HTTP-6", detail: "early hint links are not non-empty field values" })
