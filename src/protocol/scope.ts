/**
 * Scopes: what an app is told about the stream it serves (spec.md §3, §4.1, §6.1).
 *
 * A scope is created once per stream (HTTP) or once per server (lifespan) and
 * never changes after the app starts. Every scope carries the correlator
 * (`connectionId`, `streamId`) that its events carry too (rule CORE-2).
 *
 * @since 0.1.0
 */
import { LocalProtocolError } from "./errors.ts"
import type { HttpExtensions } from "./extensions.ts"
import type { Headers } from "./headers.ts"

/**
 * `scope.egi.version`: the version of the interface's shape — the app
 * signature, the correlator, how fields and bytes are represented
 * (spec.md §3.5). It stays `"0.1"` while an app written for 0.1 runs
 * unchanged.
 *
 * @since 0.1.0
 * @category constants
 */
export const EGI_VERSION = "0.1" as const

/**
 * `scope.egi.specVersion` for each scope type: the version of spec.md whose
 * rules for that protocol a server implements (spec.md §3.5, rule CORE-10).
 * Compare them numerically, major then minor.
 *
 * @since 0.4.0
 * @category constants
 */
export const SPEC_VERSIONS = { http: "0.4", websocket: "0.4", lifespan: "0.4" } as const

/**
 * `scope.egi` (spec.md §3.5): the interface version, and the spec version
 * of the scope's protocol. `specVersion` is absent in scopes from servers
 * older than spec.md 0.4; an app treats its absence as "before 0.4".
 *
 * @since 0.1.0
 * @category models
 */
export interface EgiInfo {
  readonly version: typeof EGI_VERSION
  /** The spec version of this scope type's protocol (`SPEC_VERSIONS`), e.g. `"0.4"`. @since 0.4.0 */
  readonly specVersion?: string
}

/**
 * The lifespan scope's `egi` (spec.md §3.5): also the spec version of every
 * scope type the server will call the app with — an app that needs
 * WebSockets checks `specVersions.websocket` at startup. A type the server
 * never calls the app with is absent.
 *
 * @since 0.4.0
 * @category models
 */
export interface LifespanEgiInfo extends EgiInfo {
  readonly specVersions?: { readonly http?: string; readonly websocket?: string; readonly lifespan?: string }
}

/**
 * The `egi` of every `websocket` scope of a server of spec.md 0.4.
 *
 * @since 0.4.0
 * @category constants
 */
export const websocketEgi: EgiInfo = Object.freeze({ version: EGI_VERSION, specVersion: SPEC_VERSIONS.websocket })

/**
 * The `egi` of the lifespan scope of a server that calls the app with all
 * three scope types (spec.md §3.5).
 *
 * @since 0.4.0
 * @category constants
 */
export const lifespanEgi: LifespanEgiInfo = Object.freeze({
  version: EGI_VERSION,
  specVersion: SPEC_VERSIONS.lifespan,
  specVersions: Object.freeze({ ...SPEC_VERSIONS })
})

/**
 * Extensions the runner supports on this stream, by name, each with its own
 * fields (at least `version`). An app MUST NOT use an extension that is not
 * listed (rule CORE-7). spec.md §7; the `http` ones are typed in
 * `HttpExtensions`.
 *
 * @since 0.1.0
 * @category models
 */
export type Extensions = Readonly<Record<string, { readonly version: string } & Readonly<Record<string, unknown>>>>

/**
 * The per-stream correlator (spec.md §3.2): `connectionId` numbers the
 * runner's connections from 1; `streamId` is the RFC 9113 stream identifier on
 * HTTP/2 and the request's position on the connection (1, 2, 3…) on HTTP/1.x.
 * Lifespan uses 0/0.
 *
 * @since 0.1.0
 * @category models
 */
export interface Correlator {
  readonly connectionId: number
  readonly streamId: number
}

/**
 * An `http` scope (spec.md §4.1): one request/response exchange on one
 * stream (an HTTP/2 stream, or one request of an HTTP/1.x connection).
 *
 * - `httpVersion`: `"1.0"`, `"1.1"` or `"2"`.
 * - `method`: as received (ByteString, case kept).
 * - `scheme`: `"http"` or `"https"` (`:scheme` on HTTP/2).
 * - `authority`: `:authority` on HTTP/2, the `host` field on HTTP/1.x, or `null`.
 * - `path`: the path, percent-decoded and then UTF-8-decoded; when the octets
 *   are not UTF-8 it is `rawPath` unchanged.
 * - `rawPath`: the path octets exactly as received (ByteString), no query.
 * - `queryString`: the octets after `?` as received (ByteString), `""` if none.
 * - `rootPath`: the mount point, `""` unless configured.
 * - `headers`: see spec.md §3.4.
 * - `client`/`server`: `[host, port]` of the peer and of the local socket.
 * - `extensions`: what the stream supports beyond the core (spec.md §7).
 * - `state`: a shallow copy of the lifespan state (spec.md §6.4).
 *
 * @since 0.1.0
 * @category models
 */
export interface HttpScope extends RequestFields {
  readonly type: "http"
  readonly httpVersion: "1.0" | "1.1" | "2"
  readonly method: string
  readonly scheme: "http" | "https"
  readonly extensions: HttpExtensions
}

/**
 * What the `http` and `websocket` scopes share: the request's target,
 * fields and addresses (spec.md §4.1, §11.1). Strings are ByteStrings
 * (one code unit per octet, spec.md §3.4) except `path`, which is decoded
 * (rule HTTP-13); `client` and `server` are `[host, port]` (a TCP port
 * number) or `null` when unknown; `state` is the lifespan state, copied
 * (§6.4).
 *
 * @since 0.3.0
 * @category models
 */
export interface RequestFields extends Correlator {
  readonly egi: EgiInfo
  readonly authority: string | null
  readonly path: string
  readonly rawPath: string
  readonly queryString: string
  readonly rootPath: string
  readonly headers: Headers
  readonly client: readonly [host: string, port: number] | null
  readonly server: readonly [host: string, port: number] | null
  readonly state: Record<string, unknown>
}

/**
 * The `lifespan` scope (spec.md §6.1): one per server run, correlator 0/0.
 * `state` is a mutable object the app may fill during startup; each `http`
 * scope gets a shallow copy.
 *
 * @since 0.1.0
 * @category models
 */
export interface LifespanScope extends Correlator {
  readonly type: "lifespan"
  readonly egi: LifespanEgiInfo
  readonly state: Record<string, unknown>
}

/**
 * The `websocket` scope (spec.md §11.1): one per WebSocket, over an
 * HTTP/1.1 Upgrade (RFC 6455 §4) or an HTTP/2 extended CONNECT (RFC 8441).
 * The request fields are those of {@link RequestFields}; besides them:
 *
 * - `httpVersion`: `"1.1"` (Upgrade) or `"2"` (extended CONNECT);
 * - `scheme`: `"ws"`, or `"wss"` over TLS;
 * - `subprotocols`: the client's `sec-websocket-protocol` offers, in order
 *   (the app picks one in `websocket.accept`);
 * - `extensions`: none are defined for WebSockets in this release.
 *
 * @since 0.3.0
 * @category models
 */
export interface WebSocketScope extends RequestFields {
  readonly type: "websocket"
  readonly httpVersion: "1.1" | "2"
  readonly scheme: "ws" | "wss"
  /** The client's `sec-websocket-protocol` offers, in order. */
  readonly subprotocols: ReadonlyArray<string>
  readonly extensions: Extensions
}

/**
 * Any scope an app can be called with, told apart by `type`: `"http"`
 * (spec.md §4.1), `"websocket"` (§11.1), `"lifespan"` (§6.1). An app MUST
 * fail on a scope type it does not know (rule CORE-4, `unsupportedScope`),
 * so that a runner can tell lifespan is unsupported.
 *
 * @since 0.1.0
 * @category models
 */
export type EgiScope = HttpScope | LifespanScope | WebSocketScope

/**
 * The `LocalProtocolError` (rule CORE-3) for an outbound event whose
 * correlator, when it carries one, differs from its scope's; else undefined.
 *
 * @since 0.1.0
 * @category validation
 */
export const checkCorrelator = (
  event: { readonly connectionId?: number; readonly streamId?: number },
  scope: Correlator
): LocalProtocolError | undefined =>
  (event.connectionId !== undefined && event.connectionId !== scope.connectionId) ||
    (event.streamId !== undefined && event.streamId !== scope.streamId)
    ? new LocalProtocolError({
      rule: "CORE-3",
      detail: `event correlator ${event.connectionId}/${event.streamId} does not match the scope's ${scope.connectionId}/${scope.streamId}`
    })
    : undefined

/**
 * The request target as received: `rawPath`, then `?queryString` when there
 * is one (spec.md §3.4) — for log lines and the classic `REQUEST_URI`.
 *
 * @since 0.4.0
 * @category accessors
 */
export const targetOf = (scope: { readonly rawPath: string; readonly queryString: string }): string =>
  scope.queryString === "" ? scope.rawPath : `${scope.rawPath}?${scope.queryString}`

const NEEDS_DECODING = /[%\x80-\xff]/
const HEX = /^[0-9a-fA-F]{2}$/
const utf8 = new TextDecoder("utf-8", { fatal: true })

/**
 * `scope.path` from `scope.rawPath` (spec.md §3.4, rule HTTP-13): the
 * ByteString's octets, with `%XX` escapes turned into the octets they name,
 * decoded as UTF-8. Returns `rawPath` unchanged when the octets are not valid
 * UTF-8 (a malformed `%` escape is kept as the literal `%`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const decodePath = (rawPath: string): string => {
  if (!NEEDS_DECODING.test(rawPath)) return rawPath
  const bytes = new Uint8Array(rawPath.length)
  let n = 0
  for (let i = 0; i < rawPath.length; i++) {
    const c = rawPath.charCodeAt(i)
    if (c === 37 /* % */ && HEX.test(rawPath.slice(i + 1, i + 3))) {
      bytes[n++] = parseInt(rawPath.slice(i + 1, i + 3), 16)
      i += 2
    } else bytes[n++] = c & 0xff
  }
  try {
    return utf8.decode(bytes.subarray(0, n))
  } catch {
    return rawPath
  }
}
