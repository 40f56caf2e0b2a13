/**
 * Building an `http` scope (spec.md §4.1) from what node:http or node:http2
 * parsed, the same way for both protocols, and what every scope of a server
 * shares.
 */
import type { HttpExtensions } from "../protocol/extensions.ts"
import { fromRaw, type Headers } from "../protocol/headers.ts"
import { decodePath, EGI_VERSION, type EgiInfo, type HttpScope, SPEC_VERSIONS } from "../protocol/scope.ts"
import type { ConnectionInfo } from "./connection.ts"
import { bindConnection } from "./extensions.ts"
import { type ForwardedTrust, forwardedView } from "./forwarded.ts"

/** `scope.egi` of EGI 0.1, shared by every scope. */
export const egiInfo: EgiInfo = Object.freeze({ version: EGI_VERSION, specVersion: SPEC_VERSIONS.http })

/** Per-server values the protocol servers read for every request. */
export interface ScopeDefaults {
  /** `scope.rootPath`. */
  readonly rootPath: string
  /** A fresh shallow copy of the lifespan state (spec.md §6.4). */
  readonly state: () => Record<string, unknown>
  /** True once graceful shutdown began. */
  readonly draining: () => boolean
  /** With `proxyHeaders`: the peers whose proxy fields the scope takes (spec.md §8.12); undefined without. */
  readonly forwarded: ForwardedTrust | undefined
}

/** What one request brings, in either protocol. */
export interface RequestHead {
  readonly httpVersion: HttpScope["httpVersion"]
  readonly method: string
  readonly scheme: HttpScope["scheme"]
  readonly authority: string | null
  /**
   * The request target: `:path`, or the HTTP/1.x request-target in origin
   * or asterisk form (an absolute-form one reduced to its path and query by
   * `requestTarget`).
   */
  readonly target: string
  /** Node's flat raw header list `[name, value, …]`. */
  readonly rawHeaders: ReadonlyArray<string>
  readonly streamId: number
}

/** An absolute-form target's scheme, authority and the rest (path, query), RFC 9112 §3.2.2. */
const ABSOLUTE_FORM = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)(.*)$/s

/**
 * An HTTP/1.x request-target as the scope takes it: its path and query
 * (`target`, split later as HTTP-13 says) and the request's authority —
 * rule HTTP-36. An origin-form or asterisk-form target is kept as is, with
 * the `host` field as authority. An absolute-form target
 * (`http://host/where?query`) gives its own authority, which replaces
 * `host` (RFC 9112 §3.2.2), and its path and query octets as received, the
 * path `"/"` when empty (RFC 9110 §4.2.3). Undefined for an absolute-form
 * target that is no http or https URI with a valid authority (none,
 * userinfo — RFC 9110 §4.2.4 —, a bad host or port): the runner answers
 * 400.
 */
export const requestTarget = (
  target: string,
  host: string | null
): { readonly target: string; readonly authority: string | null } | undefined => {
  if (target.startsWith("/") || target === "*") return { target, authority: host }
  const m = ABSOLUTE_FORM.exec(target)
  if (m === null) return undefined
  const scheme = m[1]!.toLowerCase()
  const authority = m[2]!
  const rest = m[3]!
  if (scheme !== "http" && scheme !== "https") return undefined
  if (authority === "" || authority.includes("@") || !URL.canParse(`${scheme}://${authority}/`)) return undefined
  return { target: rest.startsWith("/") ? rest : `/${rest}`, authority }
}

/** A Content-Length field value as a number of bytes, or -1 (absent or not a number). */
export const parseContentLength = (value: string | undefined): number => {
  if (value === undefined) return -1
  const n = Number(value)
  return Number.isFinite(n) && n >= 0 ? n : -1
}

/**
 * The `http` scope of one request: target split at the first `?`
 * (HTTP-13), headers lower-cased with cookies joined on HTTP/2 (HTTP-12),
 * the connection's correlator and addresses (CORE-2) — client, scheme and
 * authority from a trusted proxy's fields with `proxyHeaders` (§8.12) —,
 * and the extensions
 * `extend` builds from the request's headers (spec.md §7), its connection
 * view bound to the connection's stream registry (§7.10).
 */
export const makeHttpScope = (
  head: RequestHead,
  conn: ConnectionInfo,
  defaults: ScopeDefaults,
  extend: (headers: Headers) => HttpExtensions
): HttpScope => {
  const target = head.target
  const q = target.indexOf("?")
  const rawPath = q < 0 ? target : target.slice(0, q)
  const headers = fromRaw(head.rawHeaders, head.httpVersion === "2")
  // Behind a trusted proxy, its fields say who the client is and what it asked for (spec.md §8.12).
  const view = defaults.forwarded === undefined ? undefined : forwardedView(headers, conn.client?.[0] ?? null, defaults.forwarded)
  const extensions = extend(headers)
  // A verified client certificate: the same value on every stream of the connection (spec.md §7.11).
  if (conn.clientCertificate !== undefined) (extensions as { "tls.client_certificate"?: unknown })["tls.client_certificate"] = conn.clientCertificate
  bindConnection(extensions, conn.streams)
  return {
    type: "http",
    egi: egiInfo,
    httpVersion: head.httpVersion,
    method: head.method,
    scheme: view?.scheme ?? head.scheme,
    authority: view?.authority ?? head.authority,
    path: decodePath(rawPath),
    rawPath,
    queryString: q < 0 ? "" : target.slice(q + 1),
    rootPath: defaults.rootPath,
    headers,
    client: view?.client === undefined ? conn.client : view.client,
    server: conn.server,
    connectionId: conn.id,
    streamId: head.streamId,
    extensions,
    state: defaults.state()
  }
}
