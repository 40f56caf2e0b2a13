/**
 * Effect's floor (issue 19): the raw servers of the benchmarks with one
 * effect 4 fiber per stream or per WebSocket, and nothing of EGI. The gap
 * between a raw server and this one is what running the app as an Effect
 * costs (a fiber, its suspensions and resumptions); the gap between this one
 * and EGI is EGI's own (the scope, the exchange, the checks of every event,
 * the metrics). Three modes, each answering as its raw counterpart does:
 *
 * - `hello`: bench/raw-h2.ts's `/` (h2c); the fiber makes the two calls
 *   examples/hello.ts's two events make (`respond`, `end`), each an
 *   `Effect.sync`, in a generator as the example's is.
 * - `hold`: bench/raw-hold.ts (h2c, bench/streams.ts); after the head and
 *   a first chunk the fiber waits (`Effect.callback`) for the stream to
 *   close, as bench/hold-app.ts waits in `receive`.
 * - `ws`: bench/raw-ws.ts's HTTP/1.1 echo (`ws`, permessage-deflate off,
 *   bench/ws.ts); the fiber waits for each message (`Effect.callback`) and
 *   sends it back (`Effect.sync`), as examples/ws-echo.ts does.
 *
 * Run it as the benchmarks do, with V8's allocation-site pretenuring off
 * as `egi` turns it off (bin/egi.mjs): with it on, whether V8 pretenures
 * effect's fibers and primitives depends on the run, and the same loop of
 * Effect operations costs 350–450 or 1,300–1,600 ns a message from one
 * start to the next (an in-process loop of 1,000 fibers, each waiting for
 * and sending a message, after importing @effect/platform-node's
 * NodeServices; four starts of each, Node 24). Unlike `egi`, it leaves
 * V8's young generation to grow as V8 likes (the launcher holds it at
 * 32 MiB, which moves RSS more than CPU).
 *
 *     node --no-allocation-site-pretenuring bench/effect-floor.ts hello|hold|ws <port>
 */
import * as Effect from "effect/Effect"
import * as http2 from "node:http2"
import { WebSocketServer } from "ws"
import { echoFiber, helloFiber, holdFiber } from "./floor-apps.ts"
import { helpIfAsked } from "./usage.ts"

const usage = `node --no-allocation-site-pretenuring bench/effect-floor.ts hello|hold|ws <port>

A raw server with one effect fiber per stream (hello, hold: node:http2, h2c) or per WebSocket
(ws: ws on HTTP/1.1, permessage-deflate off), and nothing of EGI: Effect's floor, which
bench/run.ts (hello), bench/streams.ts (hold) and bench/ws.ts --no-deflate (ws) run beside raw and EGI.`
helpIfAsked(usage)

const [mode, portArg] = process.argv.slice(2)
const port = Number(portArg ?? 9000)
const listening = () => process.stderr.write(`listening (effect floor, ${mode}) on 127.0.0.1:${port}\n`)

if (mode === "hello" || mode === "hold") {
  const app = mode === "hello" ? helloFiber : holdFiber
  const server = http2.createServer(mode === "hold" ? { settings: { maxConcurrentStreams: 128 } } : {})
  server.on("stream", (stream) => {
    stream.on("error", () => {})
    Effect.runFork(app(stream))
  })
  server.listen(port, "127.0.0.1", listening)
} else if (mode === "ws") {
  const wss = new WebSocketServer({ host: "127.0.0.1", port, perMessageDeflate: false })
  wss.on("connection", (ws) => void Effect.runFork(echoFiber(ws)))
  wss.on("listening", listening)
} else {
  process.stderr.write(`${usage}\n`)
  process.exit(2)
}
process.on("SIGTERM", () => process.exit(0))
