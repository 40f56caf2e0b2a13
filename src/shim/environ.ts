/**
 * The cross-thread part of a classic environ, built from an `http` scope
 * (spec.md §10.2). Pure.
 */
import type { HttpScope } from "../protocol/scope.ts"
import type { EnvironData } from "./wire.ts"

/** `egi.version` of the classic interface. */
export const CLASSIC_VERSION: readonly [number, number] = [0, 1]

const cgiName = (name: string): string => "HTTP_" + name.toUpperCase().replaceAll("-", "_")

/**
 * The CGI keys and the data-only `egi.*` keys for `scope`.
 *
 * - `SCRIPT_NAME` is `rootPath`; `PATH_INFO` the decoded path below it.
 * - `REQUEST_URI` and `RAW_URI` are the target as received (`rawPath`, then
 *   `?` and the query if there is one).
 * - Each request header `x-y` becomes `HTTP_X_Y`, repeats joined with `, `
 *   (`cookie` with `; `); `content-type`/`content-length` become
 *   `CONTENT_TYPE`/`CONTENT_LENGTH`. A name with `_` in it is left out: it
 *   would collide with its `-` twin. On HTTP/2 `:authority` gives
 *   `HTTP_HOST` when there is no `host` field.
 */
export const environData = (scope: HttpScope, multiprocess: boolean): EnvironData => {
  const target = scope.queryString === "" ? scope.rawPath : `${scope.rawPath}?${scope.queryString}`
  const root = scope.rootPath
  const pathInfo = root !== "" && scope.path.startsWith(root) ? scope.path.slice(root.length) : scope.path
  const env: Record<string, EnvironData[string]> = {
    REQUEST_METHOD: scope.method,
    SCRIPT_NAME: root,
    PATH_INFO: pathInfo,
    QUERY_STRING: scope.queryString,
    SERVER_PROTOCOL: scope.httpVersion === "2" ? "HTTP/2" : `HTTP/${scope.httpVersion}`,
    REQUEST_URI: target,
    RAW_URI: target,
    "egi.version": CLASSIC_VERSION,
    "egi.url_scheme": scope.scheme,
    "egi.input_terminated": true,
    "egi.multithread": false,
    "egi.multiprocess": multiprocess,
    "egi.run_once": false,
    "egi.correlator": { connectionId: scope.connectionId, streamId: scope.streamId }
  }
  for (const [name, value] of scope.headers) {
    if (name.includes("_")) continue
    const key = name === "content-type" ? "CONTENT_TYPE" : name === "content-length" ? "CONTENT_LENGTH" : cgiName(name)
    const prior = env[key]
    env[key] = prior === undefined ? value : `${prior as string}${name === "cookie" ? "; " : ", "}${value}`
  }
  if (env.HTTP_HOST === undefined && scope.authority !== null) env.HTTP_HOST = scope.authority
  const host = scope.authority ?? (scope.server === null ? "" : scope.server[0])
  const m = /^(\[[^\]]*\]|[^:]*)(?::(\d+))?$/.exec(host)
  env.SERVER_NAME = m?.[1] ?? host
  env.SERVER_PORT = m?.[2] ?? (scope.server === null ? (scope.scheme === "https" ? "443" : "80") : String(scope.server[1]))
  if (scope.client !== null) {
    env.REMOTE_ADDR = scope.client[0]
    env.REMOTE_PORT = String(scope.client[1])
  }
  return env
}
