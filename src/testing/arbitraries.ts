/**
 * fast-check arbitraries for EGI (spec.md §3.4, §4.1, §11): scopes with
 * realistic and odd-but-legal headers, request bodies cut into arbitrary
 * chunks, disconnects at arbitrary points, WebSocket message sequences.
 * Everything they produce passes `validate` (the scopes) or is what a
 * client may legally send. Importing them needs fast-check (an optional
 * peer dependency): without it `egi/testing` fails at import with
 * `MissingPeerDependencyError`.
 *
 * @since 0.3.0
 */
import type { Arbitrary } from "fast-check"
import type { Headers } from "../protocol/headers.ts"
import { type HttpScope, lifespanEgi, type LifespanScope, websocketEgi, type WebSocketScope } from "../protocol/scope.ts"
import { testScope } from "./client.ts"
import { fc } from "./fast-check.ts"

const TCHAR = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz"

/**
 * A lower-case field name (an RFC 9110 §5.1 token, spec.md rule HTTP-5),
 * 1–20 characters: common names, and odd but legal ones (`x-a.b`, `~`,
 * digits only).
 *
 * @since 0.3.0
 * @category arbitraries
 */
export const fieldName: Arbitrary<string> = fc.oneof(
  fc.constantFrom("accept", "user-agent", "cookie", "x-request-id", "content-type", "cache-control"),
  fc.string({ unit: fc.constantFrom(...TCHAR), minLength: 1, maxLength: 20 })
)

/**
 * A field value, a ByteString of 0–40 octets: visible ASCII and obs-text
 * bytes, with inner spaces and tabs, no leading or trailing whitespace;
 * possibly empty (RFC 9110 §5.5, spec.md rule HTTP-6).
 *
 * @since 0.3.0
 * @category arbitraries
 */
export const fieldValue: Arbitrary<string> = fc
  .array(fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 0x21, max: 0x7e }) }, fc.constantFrom(0x20, 0x09), fc.integer({ min: 0x80, max: 0xff })), {
    maxLength: 40
  })
  .map((codes) => String.fromCharCode(...codes).trim())

/**
 * A header list of 0–12 `[fieldName, fieldValue]` pairs, repeats kept in
 * order (spec.md §3.4).
 *
 * @since 0.3.0
 * @category arbitraries
 */
export const headers: Arbitrary<Headers> = fc.array(fc.tuple(fieldName, fieldValue), { maxLength: 12 })

const segment = fc.string({ unit: fc.constantFrom(..."abcxyz019-._~%20"), maxLength: 8 }).map((s) => s.replace(/%(?![0-9A-F]{2})/g, "%25"))

/**
 * A request target: an absolute path of 0–4 segments (percent-escapes
 * included) and an optional query.
 *
 * @since 0.3.0
 * @category arbitraries
 */
export const target: Arbitrary<string> = fc
  .tuple(fc.array(segment, { maxLength: 4 }), fc.option(fc.string({ unit: fc.constantFrom(..."ab=&%20+"), maxLength: 12 }), { nil: undefined }))
  .map(([segments, query]) => "/" + segments.join("/") + (query === undefined ? "" : `?${query}`))

/**
 * An `http` scope (spec.md §4.1) as `testScope` builds it (connection 1,
 * stream 1): a method among GET, POST, PUT, DELETE, PATCH, OPTIONS, HEAD
 * and PROPFIND, a `target`, `headers`, and HTTP version 1.0, 1.1 or 2.
 *
 * @since 0.3.0
 * @category arbitraries
 */
export const httpScope: Arbitrary<HttpScope> = fc
  .record({
    method: fc.constantFrom("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "PROPFIND"),
    path: target,
    headers,
    httpVersion: fc.constantFrom("1.0" as const, "1.1" as const, "2" as const)
  })
  .map((r) => testScope(r))

/**
 * A `websocket` scope (spec.md §11.1) over HTTP/1.1 with a `target`,
 * `headers` and 0–3 offered subprotocols.
 *
 * @since 0.3.0
 * @category arbitraries
 */
export const websocketScope: Arbitrary<WebSocketScope> = fc
  .record({ path: target, headers, subprotocols: fc.array(fc.constantFrom("chat", "v2.chat", "mqtt"), { maxLength: 3 }) })
  .map(({ path, headers, subprotocols }) => {
    const base = testScope({ path, headers })
    return { ...base, type: "websocket", egi: websocketEgi, httpVersion: "1.1", scheme: "ws", subprotocols, extensions: {} }
  })

/**
 * The `lifespan` scope (spec.md §6.1; correlator 0/0, empty state).
 *
 * @since 0.3.0
 * @category arbitraries
 */
export const lifespanScope: Arbitrary<LifespanScope> = fc.constant({
  type: "lifespan",
  egi: lifespanEgi,
  connectionId: 0,
  streamId: 0,
  state: {}
})

/**
 * `bytes` cut into 1–11 chunks at up to 10 arbitrary points (empty chunks
 * included; the chunks are views of `bytes`, concatenated they are
 * `bytes`): how a client's writes may arrive (spec.md rule HTTP-14).
 *
 * @since 0.3.0
 * @category arbitraries
 */
export const chunked = (bytes: Uint8Array): Arbitrary<Array<Uint8Array>> =>
  fc.array(fc.integer({ min: 0, max: bytes.length }), { maxLength: 10 }).map((cuts) => {
    const points = [...cuts].sort((a, b) => a - b)
    const out: Array<Uint8Array> = []
    let from = 0
    for (const p of [...points, bytes.length]) {
      out.push(bytes.subarray(from, p))
      from = p
    }
    return out
  })

/**
 * A request body of 0–20 000 bytes and its chunking (`chunked`), with
 * possibly a disconnect after chunk `disconnectAfter` (an index into
 * `chunks`; for `request`'s `disconnectAfter`, spec.md §4.4).
 *
 * @since 0.3.0
 * @category arbitraries
 */
export const requestBody: Arbitrary<{ readonly chunks: Array<Uint8Array>; readonly disconnectAfter: number | undefined }> = fc
  .uint8Array({ maxLength: 20_000 })
  .chain((bytes) => fc.tuple(chunked(bytes), fc.option(fc.nat({ max: 10 }), { nil: undefined })))
  .map(([chunks, cut]) => ({ chunks, disconnectAfter: cut === undefined || cut >= chunks.length ? undefined : cut }))

/**
 * A WebSocket message sequence of 0–20 messages (spec.md §11.2): text (any
 * Unicode, up to `min(maxSize, 2000)` graphemes) and binary (0 up to
 * `maxSize` bytes, default 65 536).
 *
 * @since 0.3.0
 * @category arbitraries
 */
export const websocketMessages = (maxSize = 65_536): Arbitrary<Array<{ readonly text: string } | { readonly bytes: Uint8Array }>> =>
  fc.array(
    fc.oneof(
      fc.string({ unit: "grapheme", maxLength: Math.min(maxSize, 2000) }).map((text) => ({ text })),
      fc.uint8Array({ maxLength: maxSize }).map((bytes) => ({ bytes }))
    ),
    { maxLength: 20 }
  )
