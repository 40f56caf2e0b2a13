/**
 * WebSockets over HTTP/2 (RFC 8441, spec.md §11.6): an extended CONNECT
 * with `:protocol websocket` becomes a `websocket` scope on its stream; the
 * app's accept answers 200 and the stream then carries WebSocket frames.
 * Other `:protocol` values get 501.
 */
import type * as http2 from "node:http2"
import type { Headers } from "../../protocol/headers.ts"
import { type ConnectionInfo } from "../connection.ts"
import type { ScopeDefaults } from "../http-scope.ts"
import type { ResolvedOptions } from "../options.ts"
import type { Supervisor } from "../supervisor.ts"
import { answerStatus } from "../h2-server.ts"
import { makeWebSocketScope } from "./scope.ts"
import { type Handshake, sessionLimits, WebSocketSession } from "./session.ts"
import { type Negotiated, negotiateExtensions, serverWebSocketOver, socketLimits } from "./ws-over-stream.ts"

const fieldsOf = (headers: Headers): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const [n, v] of headers) out[n] = n in out ? `${out[n]}, ${v}` : v
  return out
}

/**
 * Serves an extended CONNECT: `:protocol websocket` with
 * `sec-websocket-version: 13` runs the app with a `websocket` scope; another
 * protocol gets 501, a bad version 400 (rule WS-9). A stream the client
 * reset before this ran (while the machinery loaded, load.ts) is left.
 */
export const admitExtendedConnect = (
  stream: http2.ServerHttp2Stream,
  headers: http2.IncomingHttpHeaders,
  raw: ReadonlyArray<string>,
  conn: ConnectionInfo,
  opts: ResolvedOptions,
  supervisor: Supervisor,
  defaults: ScopeDefaults
): void => {
  if (stream.destroyed) return
  const protocol = String(headers[":protocol"])
  if (protocol.toLowerCase() !== "websocket" || headers["sec-websocket-version"] !== "13") {
    const status = protocol.toLowerCase() === "websocket" ? 400 : 501
    opts.runnerLog.error(`extended CONNECT for ${JSON.stringify(protocol)}: ${status}`, { connectionId: conn.id, streamId: stream.id })
    return answerStatus(stream, status)
  }
  const scope = makeWebSocketScope(
    { authority: headers[":authority"] ?? null, target: headers[":path"] ?? "/", rawHeaders: raw },
    "2",
    conn,
    stream.id ?? 0,
    defaults
  )
  const offer = headers["sec-websocket-extensions"]
  let negotiated: Negotiated
  try {
    negotiated = negotiateExtensions(typeof offer === "string" ? offer : undefined, opts.wsPerMessageDeflate, opts.wsMaxMessageSize)
  } catch (cause) {
    // A sec-websocket-extensions value that does not parse: 400, as on HTTP/1.1 (rule WS-15).
    opts.runnerLog.error(`malformed sec-websocket-extensions (${String((cause as Error).message)}): 400`, { connectionId: conn.id, streamId: stream.id })
    return answerStatus(stream, 400)
  }
  const handshake: Handshake = {
    accept: (subprotocol, extra) =>
      new Promise((resolve, reject) => {
        if (stream.destroyed || stream.closed) return reject(new Error("stream gone"))
        stream.respond({
          ...fieldsOf(extra),
          ":status": 200,
          ...(subprotocol === undefined ? {} : { "sec-websocket-protocol": subprotocol }),
          ...(negotiated.header === undefined ? {} : { "sec-websocket-extensions": negotiated.header })
        })
        resolve(serverWebSocketOver(stream, { ...socketLimits(opts), protocol: subprotocol, negotiated }))
      }),
    deny: (status, fields) => {
      if (!stream.destroyed && !stream.headersSent) stream.respond({ ...fieldsOf(fields), ":status": status })
    },
    denyBody: (body, last) => {
      if (stream.destroyed) return
      if (last) stream.end(body)
      else stream.write(body)
    },
    onGone: (listener) => void stream.once("close", listener)
  }
  supervisor.admitWebSocket(new WebSocketSession(scope, handshake, sessionLimits(opts)))
}
