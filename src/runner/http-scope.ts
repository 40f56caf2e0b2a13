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
}

/** What one request brings, in either protocol. */
export interface RequestHead {
  readonly httpVersion: HttpScope["httpVersion"]
  readonly method: string
  readonly scheme: HttpScope["scheme"]
  readonly authority: string | null
  /** The request target as received: `:path` or the HTTP/1.1 request-target. */
  readonly target: string
  /** Node's flat raw header list `[name, value, …]`. */
  readonly rawHeaders: ReadonlyArray<string>
  readonly streamId: number
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
 * the connection's correlator and addresses (CORE-2), and the extensions
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
  const extensions = extend(headers)
  bindConnection(extensions, conn.streams)
  return {
    type: "http",
    egi: egiInfo,
    httpVersion: head.httpVersion,
    method: head.method,
    scheme: head.scheme,
    authority: head.authority,
    path: decodePath(rawPath),
    rawPath,
    queryString: q < 0 ? "" : target.slice(q + 1),
    rootPath: defaults.rootPath,
    headers,
    client: conn.client,
    server: conn.server,
    connectionId: conn.id,
    streamId: head.streamId,
    extensions,
    state: defaults.state()
  }
}
