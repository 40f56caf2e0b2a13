/**
 * WebSockets over HTTP/1.1 (RFC 6455 §4, spec.md §11.6): the `upgrade`
 * requests node:http hands over, turned into `websocket` scopes whose
 * handshake the app answers; framing, masking, fragmentation, UTF-8 checks
 * and permessage-deflate are the `ws` library's.
 */
import type { IncomingMessage } from "node:http"
import type * as net from "node:net"
import { WebSocketServer } from "ws"
import type { Headers } from "../../protocol/headers.ts"
import { connectionOf, whereConnection } from "../connection.ts"
import type { ResolvedOptions } from "../options.ts"
import type { ScopeDefaults } from "../http-scope.ts"
import type { Supervisor } from "../supervisor.ts"
import { makeWebSocketScope } from "./scope.ts"
import { type Handshake, sessionLimits, WebSocketSession } from "./session.ts"
import { negotiateExtensions, socketLimits } from "./ws-over-stream.ts"
import { endRaw, lingerOf, rawErrorResponse, rawHead } from "../raw-response.ts"
import { peerName } from "../client-errors.ts"

/** The `sec-websocket-extensions` value (if any) parses, so `ws` will complete the handshake. */
const extensionsParse = (offer: string | undefined): boolean => {
  try {
    negotiateExtensions(offer, true, 1)
    return true
  } catch {
    return false
  }
}

/** A listener for node:http's `upgrade` event: the request, its socket, and the bytes read past its head. */
export type UpgradeListener = (req: IncomingMessage, socket: net.Socket, rest: Buffer) => void

/**
 * The listener for one server's WebSocket upgrades: a valid handshake (RFC
 * 6455 §4.2.1: GET, `sec-websocket-key`, version 13) runs the app with a
 * `websocket` scope; anything else gets 400. A socket the client closed
 * before the listener ran (while the machinery loaded, load.ts) is left.
 */
export const h1UpgradeListener = (opts: ResolvedOptions, supervisor: Supervisor, defaults: ScopeDefaults): UpgradeListener => {
  const wss = new WebSocketServer({
    noServer: true,
    ...socketLimits(opts),
    perMessageDeflate: opts.wsPerMessageDeflate,
    clientTracking: false,
    handleProtocols: (_offered, req) => chosen.get(req) ?? false
  })
  const chosen = new WeakMap<IncomingMessage, string>()
  const extra = new WeakMap<IncomingMessage, Headers>()
  wss.on("headers", (lines: Array<string>, req: IncomingMessage) => {
    for (const [n, v] of extra.get(req) ?? []) lines.push(`${n}: ${v}`)
  })

  return (req, socket, rest) => {
    if (socket.destroyed) return
    const conn = connectionOf(socket)
    const key = req.headers["sec-websocket-key"]
    const offer = req.headers["sec-websocket-extensions"]
    if (
      conn === undefined || req.method !== "GET" || typeof key !== "string" || req.headers["sec-websocket-version"] !== "13" ||
      !extensionsParse(offer)
    ) {
      const line = `malformed WebSocket handshake from ${peerName(conn?.client)}: 400`
      supervisor.clientErrors.malformed("WebSocket handshake", "400", line, whereConnection(conn))
      return endRaw(socket, rawErrorResponse(400), lingerOf(opts))
    }
    conn.requests += 1
    const scope = makeWebSocketScope(
      { authority: req.headers.host ?? null, target: req.url ?? "/", rawHeaders: req.rawHeaders },
      "1.1",
      conn,
      conn.requests,
      defaults
    )
    let denial: { status: number; headers: Headers; body: Array<Uint8Array> } | undefined
    const handshake: Handshake = {
      transport: socket,
      accept: (subprotocol, headers) =>
        new Promise((resolve, reject) => {
          if (socket.destroyed) return reject(new Error("client gone"))
          if (subprotocol !== undefined) chosen.set(req, subprotocol)
          extra.set(req, headers)
          const gone = () => reject(new Error("client gone"))
          socket.once("close", gone)
          wss.handleUpgrade(req, socket, rest, (ws) => {
            socket.off("close", gone)
            resolve(ws)
          })
        }),
      deny: (status, headers) => {
        denial = { status, headers, body: [] }
      },
      denyBody: (body, last) => {
        if (denial === undefined) return
        denial.body.push(body)
        if (!last) return
        const bytes = Buffer.concat(denial.body)
        if (!socket.destroyed) endRaw(socket, Buffer.concat([Buffer.from(rawHead(denial.status, denial.headers, bytes.length), "latin1"), bytes]), lingerOf(opts))
        denial = undefined
      },
      onGone: (listener) => void socket.once("close", listener)
    }
    supervisor.admitWebSocket(new WebSocketSession(scope, handshake, sessionLimits(opts)))
  }
}
