/**
 * Planning of a file response (`http.response.pathsend`, fd responses):
 * from the request's header fields, the app's status and header list and the
 * file's stat, decide the status, the full response header list and the byte
 * range to send — before any byte of the file is touched. Pure: no I/O, no
 * node: imports. The runner then reads and sends `length` bytes from
 * `offset` (spec.md §7.9, HTTP-29).
 *
 * Covers RFC 9110 validators (§8.8), conditional requests (§13.1, evaluated
 * in the order of §13.2.2) and single byte-range requests (§14).
 *
 * (Its length is RFC 9110's: three date formats, entity-tag lists, byte
 * ranges and the precedence of five conditional fields, each with the edge
 * cases the tests pin down; they belong together as one decision.)
 *
 * @since 0.1.0
 */
import type { Header, Headers } from "./headers.ts"

/**
 * What the planner needs from the file's stat: its size in bytes and its
 * modification time in milliseconds since the epoch (`fs.Stats#mtimeMs`,
 * possibly fractional).
 *
 * @since 0.1.0
 * @category models
 */
export interface FileStat {
  readonly size: number
  readonly mtimeMs: number
}

/**
 * The decided response: `status` (200, 206, 304, 412, 416, or the app's own
 * non-200 status), the full header list to send (names lower-case, each
 * single-value field this module manages at most once), and the byte range
 * of the file to send: `length` bytes from byte `offset`. `length` is 0 for
 * 304, 412, 416 and for every HEAD response (whose `content-length` still
 * gives the size a GET would have sent, RFC 9110 §8.6).
 *
 * @since 0.1.0
 * @category models
 */
export interface FilePlan {
  readonly status: number
  readonly headers: Headers
  readonly offset: number
  readonly length: number
}

/**
 * The weak entity-tag (RFC 9110 §8.8.3, §8.8.1) of a file:
 * `W/"<size hex>-<whole milliseconds of mtime, hex>"`. Weak because a
 * size and a timestamp do not prove byte-for-byte identity.
 *
 * @since 0.1.0
 * @category constructors
 */
export const etagOf = (stat: FileStat): string => `W/"${stat.size.toString(16)}-${Math.floor(stat.mtimeMs).toString(16)}"`

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"] as const
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"] as const
const LONG_DAYS = "(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
const DAY = "(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
const MONTH = "(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
const TIME = "(\\d{2}):(\\d{2}):(\\d{2})"
// RFC 9110 §5.6.7; day-name, month and "GMT" are case-sensitive.
const IMF_FIXDATE = new RegExp(`^${DAY}, (\\d{2}) ${MONTH} (\\d{4}) ${TIME} GMT$`)
const RFC850_DATE = new RegExp(`^${LONG_DAYS}, (\\d{2})-${MONTH}-(\\d{2}) ${TIME} GMT$`)
const ASCTIME_DATE = new RegExp(`^${DAY} ${MONTH} ( \\d|\\d{2}) ${TIME} (\\d{4})$`)

const pad = (n: number, width: number): string => String(n).padStart(width, "0")

/**
 * Formats whole seconds since the epoch as an IMF-fixdate (RFC 9110 §5.6.7),
 * e.g. `Sun, 06 Nov 1994 08:49:37 GMT`; `undefined` when the time is not
 * finite or its year is outside 0000–9999 (not representable).
 *
 * @since 0.1.0
 * @category formatting
 */
export const formatHttpDate = (seconds: number): string | undefined => {
  if (!Number.isFinite(seconds)) return undefined
  const d = new Date(seconds * 1000)
  const year = d.getUTCFullYear()
  if (!(year >= 0 && year <= 9999)) return undefined
  return `${DAYS[d.getUTCDay()]}, ${pad(d.getUTCDate(), 2)} ${MONTHS[d.getUTCMonth()]} ${pad(year, 4)} ` +
    `${pad(d.getUTCHours(), 2)}:${pad(d.getUTCMinutes(), 2)}:${pad(d.getUTCSeconds(), 2)} GMT`
}

/**
 * Parses an HTTP-date in any of the three forms of RFC 9110 §5.6.7
 * (IMF-fixdate, obsolete RFC 850, asctime) to whole seconds since the epoch;
 * `undefined` when `value` is none of them or names no real date. A
 * two-digit RFC 850 year more than 50 years after `nowMs` is read as the
 * most recent past year with those digits (§5.6.7). The day name is not
 * checked against the date. Stricter than `Date.parse`, which accepts many
 * strings that are not HTTP-dates.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseHttpDate = (value: string, nowMs: number = Date.now()): number | undefined => {
  let day: string, month: string, year: number, time: number
  let m = IMF_FIXDATE.exec(value)
  if (m !== null) {
    day = m[1]!, month = m[2]!, year = Number(m[3]), time = 4
  } else if ((m = RFC850_DATE.exec(value)) !== null) {
    day = m[1]!, month = m[2]!, time = 4
    const nowYear = new Date(nowMs).getUTCFullYear()
    year = Math.floor(nowYear / 100) * 100 + Number(m[3])
    // The year with these digits nearest to now, at most 50 years ahead.
    if (year > nowYear + 50) year -= 100
    else if (year <= nowYear - 50) year += 100
  } else if ((m = ASCTIME_DATE.exec(value)) !== null) {
    month = m[1]!, day = m[2]!, year = Number(m[6]), time = 3
  } else {
    return undefined
  }
  const mon = MONTHS.indexOf(month as (typeof MONTHS)[number])
  const dd = Number(day), hh = Number(m[time]), mm = Number(m[time + 1]), ss = Number(m[time + 2])
  if (dd < 1 || hh > 23 || mm > 59 || ss > 60) return undefined
  // setUTCFullYear, unlike Date.UTC, takes years 0–99 literally; a day past
  // the month's end rolls into the next month, which refuses it.
  const d = new Date(0)
  d.setUTCFullYear(year, mon, dd)
  if (d.getUTCMonth() !== mon) return undefined
  return d.getTime() / 1000 + (hh * 60 + mm) * 60 + ss
}

/** All fields called `name`, joined with ", " (RFC 9110 §5.3); trimmed; `undefined` if none or empty. */
const field = (headers: Headers, name: string): string | undefined => {
  let out: string | undefined
  for (let i = 0; i < headers.length; i++) {
    const h = headers[i]!
    if (h[0] === name) out = out === undefined ? h[1] : out + ", " + h[1]
  }
  if (out === undefined) return undefined
  out = out.trim()
  return out === "" ? undefined : out
}

/** The value of the first field called `name`, or `undefined`. */
const first = (headers: Headers, name: string): string | undefined => {
  for (let i = 0; i < headers.length; i++) if (headers[i]![0] === name) return headers[i]![1]
  return undefined
}

interface EntityTag {
  readonly weak: boolean
  readonly opaque: string
}

// RFC 9110 §8.8.3: entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE,
// etagc = %x21 / %x23-7E / obs-text.
const ENTITY_TAG = /^(W\/)?"([\x21\x23-\x7e\x80-\xff]*)"/

/** One entity-tag, the whole of `value`, or `undefined`. */
const parseEntityTag = (value: string): EntityTag | undefined => {
  const m = ENTITY_TAG.exec(value)
  return m !== null && m[0].length === value.length ? { weak: m[1] !== undefined, opaque: m[2]! } : undefined
}

/**
 * An If-Match / If-None-Match list (RFC 9110 §13.1.1, §13.1.2):
 * `"*"` or the entity-tags up to the first malformed element (a malformed
 * list matches nothing it did not list before the error).
 */
const parseTagList = (value: string): "*" | Array<EntityTag> => {
  if (value === "*") return "*"
  const tags: Array<EntityTag> = []
  let rest = value
  for (;;) {
    rest = rest.replace(/^[ \t,]+/, "")
    if (rest === "") return tags
    const m = ENTITY_TAG.exec(rest)
    if (m === null) return tags
    tags.push({ weak: m[1] !== undefined, opaque: m[2]! })
    rest = rest.slice(m[0].length).replace(/^[ \t]+/, "")
    if (rest !== "" && rest[0] !== ",") return tags
  }
}

/** Strong comparison (RFC 9110 §8.8.3.2): neither weak, same opaque-tag. */
const strongMatch = (a: EntityTag, b: EntityTag): boolean => !a.weak && !b.weak && a.opaque === b.opaque

/** Weak comparison (RFC 9110 §8.8.3.2): same opaque-tag. */
const weakMatch = (a: EntityTag, b: EntityTag): boolean => a.opaque === b.opaque

const listMatches = (list: "*" | Array<EntityTag>, current: EntityTag | undefined, match: (a: EntityTag, b: EntityTag) => boolean): boolean =>
  list === "*" || (current !== undefined && list.some((t) => match(t, current)))

/** A satisfiable byte range: bytes `first` through `last`, inclusive. */
interface Span {
  readonly first: number
  readonly last: number
}

const DIGITS = /^\d+$/

/** A decimal of 1*DIGIT within Number.MAX_SAFE_INTEGER, or `undefined`. */
const safeInt = (s: string): number | undefined => {
  if (!DIGITS.test(s)) return undefined
  const n = Number(s)
  return Number.isSafeInteger(n) ? n : undefined
}

/**
 * Resolves a `Range` field value against a representation of `size` bytes
 * (RFC 9110 §14.1.1, §14.1.2, §14.2):
 * - `"ignore"` — not a valid `bytes` ranges-specifier (other unit, bad
 *   syntax, last-pos < first-pos, a number beyond MAX_SAFE_INTEGER), or
 *   several ranges that do not coalesce into one; the server MAY ignore a
 *   Range (§14.2) and sends the whole representation;
 * - `"unsatisfiable"` — valid, but no range-spec selects any byte (416);
 * - a span — the one range to send, clamped to the representation (206);
 *   several ranges that overlap or abut are coalesced into it (§14.2).
 *
 * @since 0.1.0
 * @category parsing
 */
export const resolveRange = (value: string, size: number): Span | "ignore" | "unsatisfiable" => {
  const eq = value.indexOf("=")
  if (eq < 0 || value.slice(0, eq).toLowerCase() !== "bytes") return "ignore"
  const spans: Array<Span> = []
  let specs = 0
  for (const raw of value.slice(eq + 1).split(",")) {
    const spec = raw.replace(/^[ \t]+|[ \t]+$/g, "")
    if (spec === "") continue // empty list elements are allowed (RFC 9110 §5.6.1.2)
    specs++
    const dash = spec.indexOf("-")
    if (dash < 0) return "ignore"
    const a = spec.slice(0, dash), b = spec.slice(dash + 1)
    if (a === "") {
      // suffix-range: the last n bytes (§14.1.1)
      const n = safeInt(b)
      if (n === undefined) return "ignore"
      if (n > 0 && size > 0) spans.push({ first: Math.max(0, size - n), last: size - 1 })
    } else {
      const from = safeInt(a)
      const to = b === "" ? Number.MAX_SAFE_INTEGER : safeInt(b)
      if (from === undefined || to === undefined || to < from) return "ignore"
      if (from < size) spans.push({ first: from, last: Math.min(to, size - 1) })
    }
  }
  if (specs === 0) return "ignore"
  if (spans.length === 0) return "unsatisfiable"
  spans.sort((x, y) => x.first - y.first)
  let span = spans[0]!
  for (let i = 1; i < spans.length; i++) {
    const next = spans[i]!
    if (next.first > span.last + 1) return "ignore" // disjoint: multipart not offered
    if (next.last > span.last) span = { first: span.first, last: next.last }
  }
  return span
}

/** Fields this module writes itself; any the app sent are replaced or deduplicated. */
const MANAGED: ReadonlySet<string> = new Set(["content-length", "content-range", "etag", "last-modified", "accept-ranges"])

/** The app's fields minus the managed ones and minus `drop`. */
const keep = (appHeaders: Headers, drop?: (name: string) => boolean): Array<Header> => {
  const out: Array<Header> = []
  for (let i = 0; i < appHeaders.length; i++) {
    const h = appHeaders[i]!
    if (!MANAGED.has(h[0]) && (drop === undefined || !drop(h[0]))) out.push(h)
  }
  return out
}

/** Representation metadata a 304 does not carry (RFC 9110 §15.4.5): content-* other than content-location. */
const notIn304 = (name: string): boolean => name.startsWith("content-") && name !== "content-location"

/** Fields describing content that a 412/416 with no content does not carry. */
const notInEmptyError = (name: string): boolean => name === "content-type" || name === "content-encoding"

/**
 * Plans the response to `request` when the app answered `appStatus` with
 * `appHeaders` and the file whose stat is `stat`.
 *
 * When `appStatus` is not 200, conditionals and ranges do not apply: the
 * plan is that status with the app's header list, its `content-length`
 * replaced by the file size (left out for 1xx, 204 and 304, RFC 9110 §8.6),
 * and the whole file (nothing for HEAD, 1xx, 204 and 304, §6.4.1); of the
 * fields this module manages, only the first of each name is kept.
 *
 * When `appStatus` is 200, the app's header list is kept, with `etag`
 * (etagOf), `last-modified` (IMF-fixdate of mtime in whole seconds, §8.8.2,
 * §5.6.7) and `accept-ranges: bytes` (§14.3) added unless the app sent them
 * — the app's `etag`/`last-modified` are then the validators compared — and
 * `content-length` (§8.6) always set by the plan. Preconditions are then
 * evaluated in the order of §13.2.2:
 * 1. If-Match (§13.1.1, strong comparison; `*` matches) false → 412;
 * 2. else If-Unmodified-Since (§13.1.4; ignored when not a valid date or no
 *    modification date is known) false → 412;
 * 3. If-None-Match (§13.1.2, weak comparison; `*` matches) matching → 304
 *    for GET/HEAD, 412 otherwise;
 * 4. else, for GET/HEAD, If-Modified-Since (§13.1.3; ignored when not a
 *    valid date) not modified → 304;
 * 5. for GET with a Range (§14.2): If-Range (§13.1.5) must match — an
 *    entity-tag strongly (so never the weak etagOf), a date by equalling
 *    Last-Modified — or the Range is ignored; then a satisfiable range → 206
 *    with `content-range: bytes first-last/size` (§14.4, §15.3.7), none → 416
 *    with `content-range: bytes *\/size` (§15.5.17); an invalid, non-bytes or
 *    multi-part Range is ignored → 200 with the whole file. An
 *    `accept-ranges` from the app that does not list `bytes` turns ranges off.
 *
 * A 304 keeps the app's fields except content metadata (`content-*` but
 * `content-location`, and `accept-ranges`), plus etag and last-modified
 * (§15.4.5). 412 and 416 drop `content-type`/`content-encoding` and carry
 * `content-length: 0`. Field values compared are those of every field of the
 * name, joined with ", "; an empty value counts as absent.
 *
 * @since 0.1.0
 * @category planning
 */
export const planFile = (
  request: { readonly method: string; readonly headers: Headers },
  appStatus: number,
  appHeaders: Headers,
  stat: FileStat
): FilePlan => {
  const size = stat.size
  const method = request.method
  const head = method === "HEAD"
  if (appStatus !== 200) {
    // §6.4.1: no content for 1xx, 204, 304; §8.6: no content-length on 1xx
    // or 204, and none needed on 304.
    const noContent = appStatus < 200 || appStatus === 204 || appStatus === 304
    const headers = dedupeManaged(appHeaders)
    if (!noContent) headers.push(["content-length", String(size)])
    return { status: appStatus, headers, offset: 0, length: noContent || head ? 0 : size }
  }

  const appEtag = first(appHeaders, "etag")
  const appLastModified = first(appHeaders, "last-modified")
  const appAcceptRanges = first(appHeaders, "accept-ranges")
  const etag = appEtag ?? etagOf(stat)
  const lastModified = appLastModified ?? formatHttpDate(Math.floor(stat.mtimeMs / 1000))
  const acceptRanges = appAcceptRanges ?? "bytes"
  const current = parseEntityTag(etag)
  const modified = lastModified === undefined ? undefined : parseHttpDate(lastModified)
  const validators: Array<Header> = [["etag", etag]]
  if (lastModified !== undefined) validators.push(["last-modified", lastModified])

  const reqHeaders = request.headers
  const getOrHead = method === "GET" || head

  const failed = (): FilePlan => ({
    status: 412,
    headers: [...keep(appHeaders, notInEmptyError), ...validators, ["accept-ranges", acceptRanges], ["content-length", "0"]],
    offset: 0,
    length: 0
  })
  const notModified = (): FilePlan => ({
    status: 304,
    headers: [...keep(appHeaders, notIn304), ...validators],
    offset: 0,
    length: 0
  })

  // §13.2.2 step 1–2
  const ifMatch = field(reqHeaders, "if-match")
  if (ifMatch !== undefined) {
    if (!listMatches(parseTagList(ifMatch), current, strongMatch)) return failed()
  } else {
    const ius = field(reqHeaders, "if-unmodified-since")
    const date = ius === undefined ? undefined : parseHttpDate(ius)
    if (date !== undefined && modified !== undefined && modified > date) return failed()
  }
  // §13.2.2 step 3–4
  const ifNoneMatch = field(reqHeaders, "if-none-match")
  if (ifNoneMatch !== undefined) {
    if (listMatches(parseTagList(ifNoneMatch), current, weakMatch)) return getOrHead ? notModified() : failed()
  } else if (getOrHead) {
    const ims = field(reqHeaders, "if-modified-since")
    const date = ims === undefined ? undefined : parseHttpDate(ims)
    if (date !== undefined && modified !== undefined && modified <= date) return notModified()
  }

  const base = [...keep(appHeaders), ...validators, ["accept-ranges", acceptRanges] as const]
  const whole = (): FilePlan => ({
    status: 200,
    headers: [...base, ["content-length", String(size)]],
    offset: 0,
    length: head ? 0 : size
  })

  // §13.2.2 step 5, §14.2: Range only on GET, only if If-Range holds.
  const range = method === "GET" ? field(reqHeaders, "range") : undefined
  if (range === undefined || !listsBytes(acceptRanges)) return whole()
  const ifRange = field(reqHeaders, "if-range")
  if (ifRange !== undefined && !ifRangeHolds(ifRange, current, modified)) return whole()
  const span = resolveRange(range, size)
  if (span === "ignore") return whole()
  if (span === "unsatisfiable") {
    return {
      status: 416,
      headers: [...keep(appHeaders, notInEmptyError), ...validators, ["accept-ranges", acceptRanges], ["content-range", `bytes */${size}`], ["content-length", "0"]],
      offset: 0,
      length: 0
    }
  }
  const length = span.last - span.first + 1
  return {
    status: 206,
    headers: [...base, ["content-range", `bytes ${span.first}-${span.last}/${size}`], ["content-length", String(length)]],
    offset: span.first,
    length
  }
}

/** The app's list with each managed field kept once (its first occurrence) and content-length left out. */
const dedupeManaged = (appHeaders: Headers): Array<Header> => {
  const out: Array<Header> = []
  const seen = new Set<string>()
  for (let i = 0; i < appHeaders.length; i++) {
    const h = appHeaders[i]!
    if (MANAGED.has(h[0])) {
      if (h[0] === "content-length" || seen.has(h[0])) continue
      seen.add(h[0])
    }
    out.push(h)
  }
  return out
}

/** True when an Accept-Ranges value (RFC 9110 §14.3) lists the `bytes` unit. */
const listsBytes = (value: string): boolean => value.split(",").some((u) => u.trim().toLowerCase() === "bytes")

/**
 * RFC 9110 §13.1.5: an entity-tag If-Range holds when it strongly matches
 * the current etag; a date holds when it equals Last-Modified (at whole
 * seconds); anything else does not hold.
 */
const ifRangeHolds = (value: string, current: EntityTag | undefined, modified: number | undefined): boolean => {
  if (value.startsWith("\"") || value.startsWith("W/")) {
    const tag = parseEntityTag(value)
    return tag !== undefined && current !== undefined && strongMatch(tag, current)
  }
  const date = parseHttpDate(value)
  return date !== undefined && modified !== undefined && date === modified
}
