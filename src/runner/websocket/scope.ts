/**
 * Building a `websocket` scope (spec.md §11.1) from the handshake request.
 */
import { type WebSocketScope, websocketEgi } from "../../protocol/scope.ts"
import type { ConnectionInfo } from "../connection.ts"
import { makeHttpScope, type ScopeDefaults } from "../http-scope.ts"

/** What a handshake request brings, in either protocol. */
export interface HandshakeHead {
  readonly authority: string | null
  /** The request target (`:path`, or the HTTP/1.1 request-target). */
  readonly target: string
  /** Node's flat raw header list `[name, value, …]` (pseudo-headers included on HTTP/2). */
  readonly rawHeaders: ReadonlyArray<string>
}

/**
 * The scope of the WebSocket a handshake asks for: path, query and headers
 * as for an `http` scope, `scheme` `ws`/`wss`, `egi.specVersion` the
 * websocket protocol's (spec.md §3.5), and the offered subprotocols in
 * order (`sec-websocket-protocol`, comma-separated, RFC 6455 §11.3.4).
 */
export const makeWebSocketScope = (
  req: HandshakeHead,
  httpVersion: WebSocketScope["httpVersion"],
  conn: ConnectionInfo,
  streamId: number,
  defaults: ScopeDefaults
): WebSocketScope => {
  const http = makeHttpScope(
    { httpVersion, method: "GET", scheme: conn.scheme, authority: req.authority, target: req.target, rawHeaders: req.rawHeaders, streamId },
    conn,
    defaults,
    () => ({})
  )
  const offered = http.headers.filter(([n]) => n === "sec-websocket-protocol").flatMap(([, v]) => v.split(","))
  return {
    type: "websocket",
    egi: websocketEgi,
    httpVersion,
    scheme: http.scheme === "https" ? "wss" : "ws",
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
