/**
 * The plain echo servers the WebSocket benchmark compares EGI with
 * (bench/ws.ts): `node bench/raw-ws.ts PORT [--no-deflate]` serves a `ws`
 * WebSocketServer on PORT (HTTP/1.1) and, on PORT+1, node:http2 with
 * RFC 8441 handing each extended CONNECT straight to `ws` (through
 * src/runner/websocket/ws-over-stream.ts, as EGI does) — the same library and
 * permessage-deflate offer, no EGI session or Effect in between.
 */
import * as http2 from "node:http2"
import { WebSocketServer } from "ws"
import { negotiateExtensions, serverWebSocketOver } from "../src/runner/websocket/ws-over-stream.ts"

const port = Number(process.argv[2] ?? 9200)
const deflate = !process.argv.includes("--no-deflate")
const maxPayload = 16 * 1024 * 1024

const wss = new WebSocketServer({ host: "127.0.0.1", port, perMessageDeflate: deflate })
wss.on("connection", (ws) => ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary })))

const h2 = http2.createServer({ settings: { enableConnectProtocol: true } })
h2.on("stream", (stream, headers) => {
  if (headers[":method"] !== "CONNECT" || headers[":protocol"] !== "websocket") return stream.close(http2.constants.NGHTTP2_REFUSED_STREAM)
  const offer = headers["sec-websocket-extensions"]
  const negotiated = negotiateExtensions(typeof offer === "string" ? offer : undefined, deflate, maxPayload)
  stream.respond({ ":status": 200, ...(negotiated.header === undefined ? {} : { "sec-websocket-extensions": negotiated.header }) })
  const ws = serverWebSocketOver(stream, { maxPayload, protocol: undefined, negotiated })
  ws.on("message", (data, isBinary) => ws.send(data as Buffer, { binary: isBinary }))
})
h2.listen(port + 1, "127.0.0.1", () => process.stderr.write(`listening on ws://127.0.0.1:${port} and h2c ${port + 1}\n`))
process.on("SIGTERM", () => process.exit(0))
