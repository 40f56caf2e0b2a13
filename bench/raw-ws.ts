/**
 * The plain `ws` echo server the WebSocket benchmark compares EGI with
 * (bench/ws.ts): `node bench/raw-ws.ts PORT [--no-deflate]`. Same library,
 * same permessage-deflate offer, no EGI in between.
 */
import { WebSocketServer } from "ws"

const port = Number(process.argv[2] ?? 9200)
const wss = new WebSocketServer({ host: "127.0.0.1", port, perMessageDeflate: !process.argv.includes("--no-deflate") })
wss.on("connection", (ws) => ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary })))
wss.on("listening", () => process.stderr.write(`listening on ws://127.0.0.1:${port}\n`))
process.on("SIGTERM", () => process.exit(0))
