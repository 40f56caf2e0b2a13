/**
 * Building a `websocket` scope (spec.md §11.1) from the handshake request.
 */
import type * as http from "node:http"
import type { WebSocketScope } from "../protocol/scope.ts"
import type { ConnectionInfo } from "../runner/connection.ts"
import { makeHttpScope, type ScopeDefaults } from "../runner/http-scope.ts"

/**
 * The scope of the WebSocket `req` asks for: path, query and headers as for
 * an `http` scope, `scheme` `ws`/`wss`, and the offered subprotocols in
 * order (`sec-websocket-protocol`, comma-separated, RFC 6455 §11.3.4).
 */
export const makeWebSocketScope = (
  req: http.IncomingMessage,
  httpVersion: WebSocketScope["httpVersion"],
  conn: ConnectionInfo,
  streamId: number,
  defaults: ScopeDefaults
): WebSocketScope => {
  const http = makeHttpScope(
    { httpVersion, method: "GET", scheme: conn.scheme, authority: req.headers.host ?? null, target: req.url ?? "/", rawHeaders: req.rawHeaders, streamId },
    conn,
    defaults,
    () => ({})
  )
  const offered = http.headers.filter(([n]) => n === "sec-websocket-protocol").flatMap(([, v]) => v.split(","))
  return {
    type: "websocket",
    egi: http.egi,
    httpVersion,
    scheme: conn.scheme === "https" ? "wss" : "ws",
    authority: http.authority,
    path: http.path,
    rawPath: http.rawPath,
    queryString: http.queryString,
    rootPath: http.rootPath,
    headers: http.headers,
    subprotocols: offered.map((p) => p.trim()).filter((p) => p !== ""),
    client: http.client,
    server: http.server,
    connectionId: http.connectionId,
    streamId: http.streamId,
    extensions: {},
    state: http.state
  }
}
