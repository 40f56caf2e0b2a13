/**
 * The cross-thread part of a classic environ (spec.md §10.2): the main
 * thread flattens an `http` scope into a {@link RequestData} tuple (cheap to
 * post), the worker builds the CGI keys from it. Pure.
 */
import { EGI_VERSION, type HttpScope, targetOf } from "../protocol/scope.ts"
import type { EnvironData, RequestData } from "./wire.ts"

/** What of `scope` a worker needs, flat (headers as `[name, value, name, value, …]`). */
export const requestData = (scope: HttpScope): RequestData => {
  const headers: Array<string> = []
  for (const [name, value] of scope.headers) headers.push(name, value)
  return [
    scope.method,
    scope.scheme,
    scope.httpVersion,
    scope.authority,
    scope.path,
    scope.rawPath,
    scope.queryString,
    scope.rootPath,
    headers,
    scope.client?.[0] ?? null,
    scope.client?.[1] ?? 0,
    scope.server?.[0] ?? null,
    scope.server?.[1] ?? 0,
    scope.connectionId,
    scope.streamId
  ]
}

/**
 * `egi.version` and `egi.spec_version` of the classic environ (spec.md
 * §10.2): the same form as a scope's `egi.version` and `egi.specVersion`
 * (§3.5) — the interface version, and the version of spec.md whose §10 the
 * shim implements.
 */
export const CLASSIC_VERSION = EGI_VERSION
export const CLASSIC_SPEC_VERSION = "0.4" as const

const cgiName = (name: string): string => "HTTP_" + name.toUpperCase().replaceAll("-", "_")

/**
 * The CGI keys and the data-only `egi.*` keys for a request (in the worker).
 *
 * - `SCRIPT_NAME` is `rootPath`; `PATH_INFO` the decoded path below it.
 * - `REQUEST_URI` and `RAW_URI` are the target as received (`rawPath`, then
 *   `?` and the query if there is one).
 * - Each request header `x-y` becomes `HTTP_X_Y`, repeats joined with `, `
 *   (`cookie` with `; `); `content-type`/`content-length` become
 *   `CONTENT_TYPE`/`CONTENT_LENGTH` (after a hand-off, `handOff` has set
 *   `content-length` to what is left, spec.md §10.6). A name with `_` in
 *   it is left out: it would collide with its `-` twin. On HTTP/2
 *   `:authority` gives `HTTP_HOST` when there is no `host` field.
 */
export const environData = (request: RequestData, multiprocess: boolean): EnvironData => {
  const [method, scheme, httpVersion, authority, path, rawPath, queryString, root, headers, clientHost, clientPort, serverHost, serverPort, connectionId, streamId] = request
  const target = targetOf({ rawPath, queryString })
  const pathInfo = root !== "" && path.startsWith(root) ? path.slice(root.length) : path
  const env: Record<string, EnvironData[string]> = {
    REQUEST_METHOD: method,
    SCRIPT_NAME: root,
    PATH_INFO: pathInfo,
    QUERY_STRING: queryString,
    SERVER_PROTOCOL: httpVersion === "2" ? "HTTP/2" : `HTTP/${httpVersion}`,
    REQUEST_URI: target,
    RAW_URI: target,
    "egi.version": CLASSIC_VERSION,
    "egi.spec_version": CLASSIC_SPEC_VERSION,
    "egi.url_scheme": scheme,
    "egi.input_terminated": true,
    "egi.multithread": false,
    "egi.multiprocess": multiprocess,
    "egi.run_once": false,
    "egi.correlator": { connectionId, streamId }
  }
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!
    const value = headers[i + 1]!
    if (name.includes("_")) continue
    const key = name === "content-type" ? "CONTENT_TYPE" : name === "content-length" ? "CONTENT_LENGTH" : cgiName(name)
    const prior = env[key]
    env[key] = prior === undefined ? value : `${prior as string}${name === "cookie" ? "; " : ", "}${value}`
  }
  if (env.HTTP_HOST === undefined && authority !== null) env.HTTP_HOST = authority
  const host = authority ?? serverHost ?? ""
  const m = /^(\[[^\]]*\]|[^:]*)(?::(\d+))?$/.exec(host)
  env.SERVER_NAME = m?.[1] ?? host
  env.SERVER_PORT = m?.[2] ?? (serverHost === null ? (scheme === "https" ? "443" : "80") : String(serverPort))
  if (clientHost !== null) {
    env.REMOTE_ADDR = clientHost
    env.REMOTE_PORT = String(clientPort)
  }
  return env
}
