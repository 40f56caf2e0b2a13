/**
 * Header fields as EGI represents them (spec.md §3.4 "Strings and bytes").
 *
 * A header name or value is a *ByteString* (WebIDL): a JS string whose every
 * code unit is in 0x00–0xFF, one code unit per octet. The runner never
 * decodes a field as UTF-8, and never re-encodes one: what the peer sent is
 * what the app sees, octet for octet. Names are lower-case; order and
 * duplicates are kept; on HTTP/2 `cookie` crumbs are joined with `"; "`
 * (RFC 9113 §8.2.3); no other joining is done.
 *
 * @since 0.1.0
 */
import { remembering } from "./remembering.ts"

/**
 * One header field: `[name, value]`, both ByteStrings, name lower-case.
 *
 * @since 0.1.0
 * @category models
 */
export type Header = readonly [name: string, value: string]

/**
 * The header fields of a message in the order received or to be sent.
 *
 * @since 0.1.0
 * @category models
 */
export type Headers = ReadonlyArray<Header>

const BYTESTRING = /^[\x00-\xff]*$/
// RFC 9110 §5.1 field-name = token, here lower-case only (spec.md rule HTTP-5).
const LOWER_TOKEN = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/
// RFC 9110 §5.5: field-value = *( field-vchar / SP / HTAB ), field-vchar =
// VCHAR / obs-text. No control characters (CR, LF, NUL among them).
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/

// Tested at every response: remembered (remembering.ts).
const lowerToken = remembering(LOWER_TOKEN)
const fieldValue = remembering(FIELD_VALUE)

/**
 * True when `s` is a string whose every code unit is an octet (0x00–0xFF):
 * a WebIDL ByteString (spec.md §3.4).
 *
 * @since 0.1.0
 * @category predicates
 */
export const isByteString = (s: unknown): s is string => typeof s === "string" && BYTESTRING.test(s)

/**
 * True when `name` is a lower-case RFC 9110 token (spec.md rule HTTP-5).
 *
 * @since 0.1.0
 * @category predicates
 */
export const isFieldName = (name: unknown): name is string => typeof name === "string" && lowerToken(name)

/**
 * True when `value` is a valid RFC 9110 §5.5 field value: visible octets,
 * obs-text (0x80–0xFF), space and tab; no other control character.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isFieldValue = (value: unknown): value is string => typeof value === "string" && fieldValue(value)

/**
 * Connection-specific fields that HTTP/2 forbids (RFC 9113 §8.2.2). A runner
 * drops them from an HTTP/2 response (spec.md rule RUN-6); `te` is allowed
 * only as `trailers` and only in requests.
 *
 * @since 0.1.0
 * @category constants
 */
export const connectionSpecific: ReadonlySet<string> = new Set([
  "connection",
  "http2-settings",
  "keep-alive",
  "proxy-connection",
  "te",
  "transfer-encoding",
  "upgrade"
])

/**
 * Response fields that may appear at most once (RFC 9110 defines them as a
 * single value, and node:http2 refuses to send two): spec.md rule HTTP-16.
 *
 * @since 0.1.0
 * @category constants
 */
export const singleValue: ReadonlySet<string> = new Set([
  "age",
  "authorization",
  "content-encoding",
  "content-language",
  "content-length",
  "content-location",
  "content-md5",
  "content-range",
  "content-type",
  "date",
  "etag",
  "expires",
  "from",
  "host",
  "if-match",
  "if-modified-since",
  "if-none-match",
  "if-range",
  "if-unmodified-since",
  "last-modified",
  "location",
  "max-forwards",
  "proxy-authorization",
  "range",
  "referer",
  "retry-after",
  "user-agent"
])

/**
 * Builds the header list from Node's flat raw form `[name, value, name, value…]`
 * (node:http `rawHeaders`, node:http2 `rawHeaders`): names lower-case,
 * pseudo-header fields (`:method`…) left out, order and duplicates kept.
 * With `http2`, every `cookie` field is joined into the first one with
 * `"; "` (RFC 9113 §8.2.3), which is where the first crumb stood, and names
 * are taken as they arrive: RFC 9113 §8.2.1 makes a field name with an
 * upper-case letter malformed, and nghttp2 resets such a stream before
 * node:http2 reports it. HTTP/1.x names are lower-cased here.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromRaw = (raw: ReadonlyArray<string>, http2: boolean): Headers => {
  // Sized once: a request's list lives as long as its scope, and one grown
  // by `push` has 17 or more slots (curl's three fields: 152 bytes of slots
  // where 40 do). An HTTP/2 head's pseudo-header fields come first (RFC
  // 9113 §8.3; nghttp2 refuses a head that breaks it), so the size is known
  // after them. Setting a list's length is a call into V8's runtime (~600
  // instructions, bench/in-process.ts --only h2 --instructions), left to
  // the rare list that shrinks: a pseudo-header field out of place, or
  // cookie fields joined.
  let start = 0
  while (start < raw.length && raw[start]!.charCodeAt(0) === 58 /* ':' */) start += 2
  const size = (raw.length - start) >> 1
  const out = new Array<Header>(size)
  let n = 0
  let cookieAt = -1
  for (let i = start; i < raw.length; i += 2) {
    const rawName = raw[i]!
    if (rawName.charCodeAt(0) === 58 /* ':' */) continue
    const name = http2 ? rawName : rawName.toLowerCase()
    const value = raw[i + 1]!
    if (http2 && name === "cookie") {
      if (cookieAt >= 0) {
        out[cookieAt] = ["cookie", out[cookieAt]![1] + "; " + value]
        continue
      }
      cookieAt = n
    }
    out[n++] = [name, value]
  }
  if (n !== size) out.length = n
  return out
}

/**
 * The value of the first field called `name` (give it lower-case, as the
 * list holds names), or `undefined` when there is none. Later fields of the
 * same name are not joined (spec.md §3.4).
 *
 * @since 0.1.0
 * @category getters
 */
export const get = (headers: Headers, name: string): string | undefined => {
  for (let i = 0; i < headers.length; i++) {
    const h = headers[i]!
    if (h[0] === name) return h[1]
  }
  return undefined
}
