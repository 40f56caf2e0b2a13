/**
 * The `http` extensions of EGI (spec.md §7): their names, and the shape of
 * the value each puts in `scope.extensions`. A runner lists an extension only
 * where the stream supports it; an app sends an extension's events only when
 * it is listed (rule CORE-7). Pure: no Node imports.
 *
 * @since 0.2.0
 */
import type { Effect } from "effect"
import type { LocalProtocolError } from "./errors.ts"
import type { Priority } from "./priority.ts"

/**
 * The extension names (spec.md §7), each also the `type` of the event it
 * adds where it adds one.
 *
 * @since 0.2.0
 * @category constants
 */
export const Extension = {
  push: "http.response.push",
  earlyHint: "http.response.early_hint",
  requestTrailers: "http.request.trailers",
  responseTrailers: "http.response.trailers",
  reset: "http.response.reset",
  goaway: "http.goaway",
  pathsend: "http.response.pathsend",
  zerocopysend: "http.response.zerocopysend",
  headerIndexing: "http.response.header_indexing",
  flowControl: "http.flow_control",
  priority: "http.priority",
  connection: "http.connection",
  clientCertificate: "tls.client_certificate"
} as const

/**
 * The version every extension of this release reports.
 *
 * @since 0.2.0
 * @category constants
 */
export const EXTENSION_VERSION = "1" as const

/**
 * `http.response.push` (spec.md §7.1): `promise` is true when a
 * `http.response.push` becomes a PUSH_PROMISE (HTTP/2, the client allows
 * push, a client-initiated stream); false when it degrades to a
 * `link: <path>; rel=preload; as=…` field (§7.1).
 *
 * @since 0.2.0
 * @category models
 */
export interface PushExtension {
  readonly version: typeof EXTENSION_VERSION
  readonly promise: boolean
}

/**
 * `http.response.header_indexing` (spec.md §7.8, RFC 7541 §7.1.3, HTTP/2
 * only): `neverIndexed` lists the field names the runner always sends as
 * HPACK literals never indexed; an event's `neverIndex` adds more.
 * `requestNeverIndexed` lists the request fields that arrived that way.
 *
 * @since 0.2.0
 * @category models
 */
export interface HeaderIndexingExtension {
  readonly version: typeof EXTENSION_VERSION
  readonly neverIndexed: ReadonlyArray<string>
  /**
   * The names of the request head's fields that arrived as HPACK literals
   * never indexed (RFC 7541 §6.2.3), lower-case, each once, in order of
   * arrival; `[]` when none did (spec.md §7.8, rule HTTP-32). A sender marks
   * a field so because its value is sensitive; an app that forwards or
   * echoes one lists it in its event's `neverIndex`, as RFC 7541 §6.2.3 asks
   * of an intermediary.
   *
   * @since 0.4.0
   */
  readonly requestNeverIndexed: ReadonlyArray<string>
}

/**
 * Flow-control windows in bytes (RFC 9113 §6.9): what this endpoint may
 * still receive (`local`) on the stream and on the connection, and send
 * (`remote`) on the connection; `effectiveLocal` is the connection's receive
 * window as last advertised. `stream.queued` is the response bytes written
 * but not yet sent (waiting for window or socket). node:http2 does not
 * report a stream's send window.
 *
 * @since 0.2.0
 * @category models
 */
export interface FlowWindows {
  readonly stream: { readonly local: number; readonly queued: number }
  readonly connection: { readonly local: number; readonly remote: number; readonly effectiveLocal: number }
}

/**
 * `http.flow_control` (spec.md §7.6, HTTP/2 only): `windows` reads the
 * current windows; `setLocalWindowSize(bytes)` sets the connection's
 * receive window (0–2^31-1 bytes, RFC 9113 §6.9.1; fails with
 * `LocalProtocolError` rule HTTP-24 outside it, or once the connection closed).
 *
 * @since 0.2.0
 * @category models
 */
export interface FlowControlExtension {
  readonly version: typeof EXTENSION_VERSION
  readonly windows: Effect.Effect<FlowWindows>
  readonly setLocalWindowSize: (bytes: number) => Effect.Effect<void, LocalProtocolError>
}

/**
 * `http.priority` (spec.md §7.7, RFC 9218): `urgency` and `incremental` are
 * the request's `priority` field parsed (urgency 0–7, default 3;
 * incremental, default false) and never change. Since 0.4.0 the priority in
 * force is also readable as it changes: a client reprioritizes an HTTP/2
 * response with PRIORITY_UPDATE frames (RFC 9218 §7.1), and the app learns
 * of it without polling (rule HTTP-33).
 *
 * The Node runner cannot see PRIORITY_UPDATE frames (node:http2 drops them,
 * spec.md §7.7): there `current` always yields the request's priority.
 *
 * @since 0.2.0
 * @category models
 */
export interface PriorityExtension extends Priority {
  readonly version: typeof EXTENSION_VERSION
  /**
   * The priority in force: the request's, replaced whole by each
   * PRIORITY_UPDATE received for the stream, the last one winning (spec.md
   * §7.7, rule HTTP-33).
   *
   * @since 0.4.0
   */
  readonly current: Effect.Effect<Priority>
  /**
   * Completes with the priority in force as soon as it differs from `from`
   * (at once when it already does); never completes while it does not.
   * Pass the last priority seen, so that no change is missed:
   * `let p = ext; for (;;) { p = yield* ext.changed(p); … }`. Changes that
   * come in quick succession may be seen as one, the latest. Interrupting it
   * is harmless (spec.md §7.7, rule HTTP-33).
   *
   * @since 0.4.0
   */
  readonly changed: (from: Priority) => Effect.Effect<Priority>
}

/**
 * `http.connection` (spec.md §7.10): the correlator with what it connects
 * to — `pushedBy` is the stream that promised this one (null for a
 * client-initiated stream); `pushedStreams` the streams this one promised so
 * far, in order.
 *
 * Since 0.4.0 it is also a view of the whole connection (rule HTTP-31), so
 * that an app needs no map of its own keyed by `connectionId`:
 *
 * - `openStreams` yields the IDs of this connection's `http` streams whose
 *   app is running (called and not yet returned; this stream included while
 *   its app runs), ascending: HTTP/2 stream IDs, client and pushed; on
 *   HTTP/1.x the request's number on its connection (1, 2, …, as
 *   `scope.streamId`). It yields `[]` once the connection closed.
 * - `closed` completes when the connection's transport closed (the TCP or
 *   TLS connection, whichever side closed it), at once if it already has;
 *   it never fails. An app races it, or forks a fiber that awaits it to
 *   release what it keeps per connection. Interrupting it is safe.
 *
 * @since 0.2.0
 * @category models
 */
export interface ConnectionExtension {
  readonly version: typeof EXTENSION_VERSION
  readonly connectionId: number
  readonly streamId: number
  readonly httpVersion: "1.0" | "1.1" | "2"
  readonly pushedBy: number | null
  readonly pushedStreams: Effect.Effect<ReadonlyArray<number>>
  /**
   * The stream IDs of this connection whose app is running, ascending; `[]`
   * once the connection closed (spec.md §7.10, rule HTTP-31).
   *
   * @since 0.4.0
   */
  readonly openStreams: Effect.Effect<ReadonlyArray<number>>
  /**
   * Completes when the connection has closed (spec.md §7.10, rule HTTP-31).
   *
   * @since 0.4.0
   */
  readonly closed: Effect.Effect<void>
}

/**
 * `tls.client_certificate` (spec.md §7.11, rule TLS-1): the certificate the
 * client presented on this TLS connection and the server verified against
 * its CAs — listed only then; absent on cleartext, when the server asks for
 * none, and when the client sent none. The same value on every stream of
 * the connection.
 *
 * - `subject`, `issuer`: distinguished names in RFC 4514 form, most
 *   specific first (`CN=alice,O=Example,C=DE`), values escaped as RFC 4514
 *   says;
 * - `serialNumber`: the serial in upper-case hex (`1001`);
 * - `fingerprint256`: SHA-256 of the DER certificate, upper-case hex pairs
 *   joined by `:` (as `openssl x509 -fingerprint -sha256` prints it).
 *
 * @since 0.4.0
 * @category models
 */
export interface ClientCertificateExtension {
  readonly version: typeof EXTENSION_VERSION
  readonly subject: string
  readonly issuer: string
  readonly serialNumber: string
  readonly fingerprint256: string
}

/**
 * An extension that only says it is there.
 *
 * @since 0.2.0
 * @category models
 */
export interface PlainExtension {
  readonly version: typeof EXTENSION_VERSION
}

/**
 * `scope.extensions` of an `http` scope, typed by name (spec.md §7). Absent
 * keys are extensions the stream does not support.
 *
 * @since 0.2.0
 * @category models
 */
export interface HttpExtensions {
  readonly "http.response.push"?: PushExtension
  readonly "http.response.early_hint"?: PlainExtension
  readonly "http.request.trailers"?: PlainExtension
  readonly "http.response.trailers"?: PlainExtension
  readonly "http.response.reset"?: PlainExtension
  readonly "http.goaway"?: PlainExtension
  readonly "http.response.pathsend"?: PlainExtension
  readonly "http.response.zerocopysend"?: PlainExtension
  readonly "http.response.header_indexing"?: HeaderIndexingExtension
  readonly "http.flow_control"?: FlowControlExtension
  readonly "http.priority"?: PriorityExtension
  readonly "http.connection"?: ConnectionExtension
  readonly "tls.client_certificate"?: ClientCertificateExtension
}

/**
 * The field names always sent never-indexed (spec.md §7.8): credentials and
 * cookies, whose compression would let an attacker guess them (RFC 7541
 * §7.1.3).
 *
 * @since 0.2.0
 * @category constants
 */
export const defaultNeverIndexed: ReadonlyArray<string> = Object.freeze([
  "authorization",
  "cookie",
  "proxy-authorization",
  "set-cookie"
])
