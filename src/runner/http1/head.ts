/**
 * The HTTP/1.1 request head, parsed from bytes (RFC 9112 §2–§6): the first
 * piece of the runner's own HTTP/1.1 codec. node:http's parser and its
 * request and response objects cost about 9 µs per request over a plain
 * socket (a keep-alive hello, pinned: raw node:http 23.0 µs against 14.3 µs
 * for a prototype on node:net), more than everything EGI adds (issue 19).
 *
 * Strict where leniency lets two parsers disagree about where a message
 * ends (request smuggling): lines end in CRLF only, no obs-fold, no space
 * before a field's colon, one Host, one Content-Length value, Transfer-
 * Encoding only as `chunked` last and never beside Content-Length or in
 * HTTP/1.0. Each refusal says its status and the RFC rule.
 *
 * Pure: no I/O, no allocation beyond the strings of the head.
 *
 * @since 0.7.0
 */
import * as Data from "effect/Data"

/**
 * A request head the runner refuses, with the status it answers before
 * closing the connection: 400 (malformed, RFC 9112 §2–§6), 431 (longer than
 * the limit, RFC 6585 §5), 501 (a transfer coding it does not implement,
 * RFC 9112 §6.1), 505 (an HTTP major version other than 1, RFC 9110
 * §15.6.6), 417 (an expectation other than 100-continue, RFC 9110 §10.1.1).
 * `rule` names the section broken.
 *
 * @since 0.7.0
 * @category errors
 */
export class HeadError extends Data.TaggedError("HeadError")<{
  readonly status: 400 | 417 | 431 | 501 | 505
  readonly rule: string
  readonly detail: string
}> {
  override get message(): string {
    return `${this.status} (${this.rule}): ${this.detail}`
  }
}

/**
 * How the request's body is delimited (RFC 9112 §6.3): none, `length`
 * bytes (Content-Length), or chunked (Transfer-Encoding: chunked).
 *
 * @since 0.7.0
 * @category models
 */
export type BodyFraming =
  | { readonly kind: "none" }
  | { readonly kind: "length"; readonly length: number }
  | { readonly kind: "chunked" }

/**
 * A parsed request head. `rawHeaders` is `[name, value, …]` as received
 * (names in their case, values without surrounding whitespace, both
 * latin1-decoded, as node:http's `rawHeaders`). `keepAlive`: the connection
 * persists after this exchange (RFC 9112 §9.3). `upgrade`: Connection names
 * `upgrade` and an Upgrade field is present (RFC 9110 §7.8).
 *
 * @since 0.7.0
 * @category models
 */
export interface RequestHead {
  readonly method: string
  readonly target: string
  readonly httpVersion: "1.0" | "1.1"
  readonly rawHeaders: ReadonlyArray<string>
  readonly host: string | null
  readonly framing: BodyFraming
  readonly keepAlive: boolean
  readonly expectContinue: boolean
  readonly upgrade: boolean
}

const CR = 13
const LF = 10
const SP = 32
const HTAB = 9
const COLON = 58

/** tchar (RFC 9110 §5.6.2): a token's octets. */
const TCHAR = new Uint8Array(256)
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1
for (let c = 48; c <= 57; c++) TCHAR[c] = 1
for (let c = 65; c <= 90; c++) TCHAR[c] = 1
for (let c = 97; c <= 122; c++) TCHAR[c] = 1

/** Octets of a field value (RFC 9110 §5.5): VCHAR, obs-text, SP, HTAB. */
const FIELD = new Uint8Array(256)
for (let c = 0x21; c <= 0xff; c++) if (c !== 0x7f) FIELD[c] = 1
FIELD[SP] = 1
FIELD[HTAB] = 1

/** Octets of a request-target (RFC 9112 §3.2): visible, and obs-text as node:http takes it (kept as latin1). */
const TARGET = new Uint8Array(256)
for (let c = 0x21; c <= 0xff; c++) if (c !== 0x7f) TARGET[c] = 1

/**
 * `bytes[from, to)` as a latin1 string. A head is decoded once, as one
 * string, and its short parts are taken from it with `slice`: a call into
 * node's Buffer binding costs ~600 instructions (argument checks, the
 * string's creation), a `slice` a few dozen (bench/in-process.ts
 * --instructions). A part of 13 characters or more is decoded on its own
 * instead: V8 makes such a `slice` a view that keeps the whole head alive
 * as long as the part lives, and an app may keep a header value for long.
 */
const latin1Slice: (this: Uint8Array, from: number, to: number) => string = Buffer.prototype.latin1Slice
/** V8's shortest sliced string (SlicedString::kMinLength): a shorter `slice` is a copy. */
const SHORT = 13
/** `bytes[from, to)` as a latin1 string (one octet, one character): the codec's one way to decode bytes. */
export const latin1 = (bytes: Uint8Array, from: number, to: number): string => latin1Slice.call(bytes, from, to)
/** `bytes[from, to)` from `text`, the same bytes decoded from `base` on; a copy either way (see `latin1Slice`). */
const part = (bytes: Uint8Array, text: string, base: number, from: number, to: number): string =>
  to - from < SHORT ? text.slice(from - base, to - base) : latin1(bytes, from, to)

/**
 * Where the head in `bytes` ends: the index just past its empty line
 * (CRLF CRLF), or -1 when it has not arrived yet. `from` is where the last
 * search stopped (the caller keeps it, so bytes trickled in one by one are
 * each looked at a bounded number of times, not the whole head again).
 *
 * @since 0.7.0
 */
export const headEnd = (bytes: Uint8Array, from: number): number => {
  for (let i = Math.max(0, from - 3); i + 3 < bytes.length; i++) {
    if (bytes[i + 3] !== LF) {
      // Not an end here; skip ahead by what cannot start one.
      if (bytes[i + 3] !== CR) i += 3
      continue
    }
    if (bytes[i] === CR && bytes[i + 1] === LF && bytes[i + 2] === CR) return i + 4
  }
  return -1
}

/**
 * The number of empty lines (CRLF) at `from` that precede a request-line:
 * RFC 9112 §2.2 says a server SHOULD ignore at least one.
 *
 * @since 0.7.0
 */
export const leadingEmptyLines = (bytes: Uint8Array, from: number): number => {
  let i = from
  while (i + 1 < bytes.length && bytes[i] === CR && bytes[i + 1] === LF) i += 2
  return i - from
}

const bad = (rule: string, detail: string): HeadError => new HeadError({ status: 400, rule, detail })

/** The end of the line starting at `from` (the index of its CR); -1 for a bare CR or LF inside it. */
const lineEnd = (bytes: Uint8Array, from: number, end: number): number => {
  for (let i = from; i < end; i++) {
    const c = bytes[i]
    if (c === CR) return bytes[i + 1] === LF ? i : -1
    if (c === LF) return -1
  }
  return -1
}

/**
 * `s` without its optional whitespace (OWS: SP and HTAB only, RFC 9110
 * §5.6.3). Not `String.prototype.trim`, which also strips U+00A0 — the
 * obs-text octet 0xA0 here — and so would read `\xa00\xa0` as `0`.
 */
const trimOws = (s: string): string => {
  let a = 0
  let b = s.length
  while (a < b && (s.charCodeAt(a) === SP || s.charCodeAt(a) === HTAB)) a++
  while (b > a && (s.charCodeAt(b - 1) === SP || s.charCodeAt(b - 1) === HTAB)) b--
  return a === 0 && b === s.length ? s : s.slice(a, b)
}

/** True when the comma-separated list `value` has `member` (case-insensitive, RFC 9110 §5.6.1). */
const listHas = (value: string, member: string): boolean => {
  for (const part of value.split(",")) if (trimOws(part).toLowerCase() === member) return true
  return false
}

/** Field lines a head may have: node:http's `maxHeadersCount`, refused past it here (431) rather than cut. */
export const MAX_FIELDS = 2000

/**
 * Parses the head in `bytes[from, end)`, `end` as `headEnd` gave it (just
 * past CRLF CRLF; leading empty lines already skipped). The head, or the
 * `HeadError` to answer.
 *
 * @since 0.7.0
 */
export const parseHead = (bytes: Uint8Array, from: number, end: number): RequestHead | HeadError => {
  // request-line = method SP request-target SP HTTP-version CRLF (RFC 9112 §3)
  const lineStop = lineEnd(bytes, from, end)
  if (lineStop < 0) return bad("RFC 9112 §2.2", "a line of the head does not end in CRLF")
  let i = from
  while (i < lineStop && TCHAR[bytes[i]!] === 1) i++
  if (i === from || bytes[i] !== SP) return bad("RFC 9112 §3.1", "the method is no token followed by one space")
  // The whole head as one string; its short parts are taken from it (`part`).
  const text = latin1(bytes, from, end)
  const method = part(bytes, text, from, from, i)
  const targetFrom = ++i
  while (i < lineStop && TARGET[bytes[i]!] === 1) i++
  if (i === targetFrom || bytes[i] !== SP) return bad("RFC 9112 §3.2", "the request-target is empty, has a control octet, or is not followed by one space")
  const target = part(bytes, text, from, targetFrom, i)
  i++
  // HTTP-version = "HTTP/" DIGIT "." DIGIT (RFC 9112 §2.3)
  if (
    lineStop - i !== 8 || bytes[i] !== 72 || bytes[i + 1] !== 84 || bytes[i + 2] !== 84 || bytes[i + 3] !== 80 ||
    bytes[i + 4] !== 47 || bytes[i + 6] !== 46 || !isDigit(bytes[i + 5]!) || !isDigit(bytes[i + 7]!)
  ) return bad("RFC 9112 §2.3", "the HTTP-version is not HTTP/DIGIT.DIGIT")
  if (bytes[i + 5] !== 49) return new HeadError({ status: 505, rule: "RFC 9110 §15.6.6", detail: `HTTP/${bytes[i + 5]! - 48}.x over HTTP/1.1` })
  // A higher 1.x minor version is taken as the highest this server speaks (RFC 9112 §2.5).
  const httpVersion = bytes[i + 7] === 48 ? "1.0" : "1.1"

  const rawHeaders: Array<string> = []
  const fieldError = parseFieldLines(bytes, lineStop + 2, end, rawHeaders, text, from)
  if (fieldError !== undefined) return fieldError
  // The fields that decide framing and the connection's fate (RFC 9112 §6, §9).
  let host: string | null = null
  let hosts = 0
  let contentLength = -1
  let transferEncoding: string | undefined
  let connection: string | undefined
  let expect: string | undefined
  let upgradeField = false
  for (let f = 0; f < rawHeaders.length; f += 2) {
    const name = rawHeaders[f]!
    const value = rawHeaders[f + 1]!
    switch (name.length) {
      case 4:
        if (name.toLowerCase() === "host") {
          hosts++
          host = value
        }
        break
      case 6:
        if (name.toLowerCase() === "expect") expect = expect === undefined ? value : `${expect}, ${value}`
        break
      case 7:
        if (name.toLowerCase() === "upgrade") upgradeField = true
        break
      case 10:
        if (name.toLowerCase() === "connection") connection = connection === undefined ? value : `${connection}, ${value}`
        break
      case 14:
        if (name.toLowerCase() === "content-length") {
          const length = parseLength(value)
          if (length < 0) return bad("RFC 9112 §6.3", `content-length ${JSON.stringify(value)} is not one non-negative integer`)
          if (contentLength >= 0 && contentLength !== length) return bad("RFC 9112 §6.3", "content-length fields disagree")
          contentLength = length
        }
        break
      case 17:
        if (name.toLowerCase() === "transfer-encoding") {
          transferEncoding = transferEncoding === undefined ? value : `${transferEncoding}, ${value}`
        }
        break
    }
  }
  if (httpVersion === "1.1" && hosts === 0) return bad("RFC 9112 §3.2", "an HTTP/1.1 request without host")
  if (hosts > 1) return bad("RFC 9112 §3.2", "more than one host field")

  let framing: BodyFraming
  if (transferEncoding !== undefined) {
    if (httpVersion === "1.0") return bad("RFC 9112 §6.1", "transfer-encoding in an HTTP/1.0 request")
    if (contentLength >= 0) return bad("RFC 9112 §6.1", "both transfer-encoding and content-length")
    const codings = transferEncoding.split(",").map((c) => trimOws(c).toLowerCase()).filter((c) => c !== "")
    if (codings.length === 0 || codings[codings.length - 1] !== "chunked") {
      return bad("RFC 9112 §6.3", "transfer-encoding does not end in chunked")
    }
    if (codings.length > 1) {
      return codings.slice(0, -1).includes("chunked")
        ? bad("RFC 9112 §7", "chunked applied more than once")
        : new HeadError({ status: 501, rule: "RFC 9112 §6.1", detail: `transfer coding ${codings.slice(0, -1).join(", ")} is not implemented` })
    }
    framing = { kind: "chunked" }
  } else framing = contentLength > 0 ? { kind: "length", length: contentLength } : NO_BODY

  let expectContinue = false
  if (expect !== undefined) {
    for (const part of expect.split(",")) {
      const e = trimOws(part).toLowerCase()
      if (e === "") continue
      if (e !== "100-continue") return new HeadError({ status: 417, rule: "RFC 9110 §10.1.1", detail: `expectation ${JSON.stringify(trimOws(part))}` })
      // An HTTP/1.0 client cannot wait for 100 Continue: the server ignores the expectation (RFC 9110 §10.1.1).
      expectContinue = httpVersion === "1.1"
    }
  }
  const keepAlive = connection === undefined
    ? httpVersion === "1.1"
    : httpVersion === "1.1" ? !listHas(connection, "close") : listHas(connection, "keep-alive") && !listHas(connection, "close")
  const upgrade = upgradeField && connection !== undefined && listHas(connection, "upgrade")
  return { method, target, httpVersion, rawHeaders, host, framing, keepAlive, expectContinue, upgrade }
}

/**
 * Parses the field lines in `bytes[at, end)` (`end` just past the empty
 * line that closes them) into `out` as `[name, value, …]`: a name is a
 * token right before its colon, a value has no control octet and loses
 * its surrounding whitespace, a line ends in CRLF and is never folded
 * (RFC 9112 §5). A request head's fields and a chunked body's trailer
 * section (§7.1.2) alike; the `HeadError` (400) of the first bad line, or
 * undefined. `text`: the same bytes as a latin1 string from `base` on, when
 * the caller has it; short names and values are taken from it (`part`).
 *
 * @since 0.7.0
 */
export const parseFieldLines = (
  bytes: Uint8Array,
  at: number,
  end: number,
  out: Array<string>,
  text: string = latin1(bytes, at, end),
  base: number = at
): HeadError | undefined => {
  // One pass over each line: the name's octets up to its colon, the value's up to the first octet that is not a
  // field octet, which must be the CR of the line's CRLF (CR, LF and every other control octet are not field octets).
  while (at < end - 2) {
    const first = bytes[at]!
    if (first === SP || first === HTAB) return bad("RFC 9112 §5.2", "a field line is folded (obs-fold)")
    let n = at
    while (n < end && TCHAR[bytes[n]!] === 1) n++
    if (n === at || bytes[n] !== COLON) {
      const c = bytes[n]
      if (c === CR || c === LF) return bad("RFC 9112 §5.1", "a field line has no colon")
      return bad("RFC 9112 §5.1", n === at ? "a field line has no name" : "a field name is no token, or whitespace precedes its colon")
    }
    let v = n + 1
    while (v < end && (bytes[v] === SP || bytes[v] === HTAB)) v++
    let stop = v
    while (stop < end && FIELD[bytes[stop]!] === 1) stop++
    if (bytes[stop] !== CR || bytes[stop + 1] !== LF || stop + 1 >= end) {
      const c = bytes[stop]
      return c === CR || c === LF || stop >= end
        ? bad("RFC 9112 §2.2", "a line of the head does not end in CRLF")
        : bad("RFC 9110 §5.5", "a field value has a control octet")
    }
    let e = stop
    while (e > v && (bytes[e - 1] === SP || bytes[e - 1] === HTAB)) e--
    if (out.length >= 2 * MAX_FIELDS) return new HeadError({ status: 431, rule: "RFC 6585 §5", detail: `more than ${MAX_FIELDS} field lines` })
    out.push(part(bytes, text, base, at, n), part(bytes, text, base, v, e))
    at = stop + 2
  }
  return undefined
}

const NO_BODY: BodyFraming = Object.freeze({ kind: "none" })

const isDigit = (c: number): boolean => c >= 48 && c <= 57

/**
 * A Content-Length value as bytes: `1*DIGIT`, or a list of one value
 * repeated (RFC 9112 §6.3 lets a recipient take `5, 5` as 5); -1 for
 * anything else, or past 2^53 − 1.
 */
const parseLength = (value: string): number => {
  let result = -1
  for (const part of value.split(",")) {
    const s = trimOws(part)
    if (s === "" || s.length > 16) return -1
    for (let k = 0; k < s.length; k++) if (!isDigit(s.charCodeAt(k))) return -1
    const n = Number(s)
    if (!Number.isSafeInteger(n) || (result >= 0 && n !== result)) return -1
    result = n
  }
  return result
}
