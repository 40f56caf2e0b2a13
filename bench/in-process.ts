/**
 * EGI's own cost per request and per WebSocket message, in one process and
 * without sockets: a steadier figure than the socket benchmarks give on a
 * shared machine (the rounds of a run agree within a few per cent, runs
 * mostly within 5–10 %, now and then one off by a third, where whole
 * servers swing by tens of per cent), for telling whether a change to the
 * runner's hot path helps: compare several alternating runs of the two
 * versions.
 *
 * - `h2`: the hello (examples/hello.ts) through the HTTP/2 server's own
 *   `stream` listener (makeH2Server) on stand-in node:http2 streams whose
 *   `respond`, `write` and `end` do nothing, each closed after its
 *   response as node closes it; beside the same stand-ins answered by
 *   plain calls (the stand-ins' own cost) and by an effect fiber making
 *   those calls (bench/effect-floor.ts's `hello`). Nothing of node:http2,
 *   nghttp2 or the socket is measured.
 * - `ws`: text messages through `--sessions` WebSocket sessions
 *   (WebSocketSession and examples/ws-echo.ts), round robin, on stand-in
 *   `ws` sockets whose `send` does nothing; beside an effect fiber per
 *   stand-in that waits for each message and sends it back
 *   (bench/effect-floor.ts's `ws`). Nothing of `ws`'s framing or the socket,
 *   nor the HTTP/1.1 turn cork (turn-cork.ts) that corks a real
 *   connection's socket before each message: the stand-in handshake has
 *   no transport.
 *
 * Prints the median of `--rounds` rounds in ns per request or message. The
 * socket benchmarks (bench/run.ts, bench/ws.ts) put these costs in the
 * context of a whole server; in a loaded server the same code costs more
 * (its objects are no longer in the caches).
 *
 * Runs under V8's allocation-site pretenuring off, as `egi` runs
 * (bin/egi.mjs); started without `--no-allocation-site-pretenuring` it
 * runs itself again with it.
 *
 *     node bench/in-process.ts [--only h2|ws] [--requests 200000] [--messages 200000] [--sessions 1000] [--rounds 7]
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import { spawnSync } from "node:child_process"
import { EventEmitter } from "node:events"
import type * as http2 from "node:http2"
import { parseArgs } from "node:util"
import { echoFiber, hello, helloFiber, helloHead } from "./floor-apps.ts"
import { helpIfAsked } from "./usage.ts"

helpIfAsked(`node bench/in-process.ts [--only h2|ws] [--requests 200000] [--messages 200000] [--sessions 1000] [--rounds 7]

EGI's own cost in one process, without sockets, in ns: per hello request through the HTTP/2 server's
stream listener on stand-in streams (h2), per text message through WebSocket sessions on stand-in
sockets (ws); beside the stand-ins' own cost and an effect fiber doing the same calls. Medians of rounds.`)

if (!process.execArgv.includes("--no-allocation-site-pretenuring")) {
  const again = spawnSync(process.execPath, ["--no-allocation-site-pretenuring", ...process.execArgv, ...process.argv.slice(1)], { stdio: "inherit" })
  process.exit(again.status ?? 1)
}

const { values } = parseArgs({
  options: {
    only: { type: "string" },
    requests: { type: "string", default: "200000" },
    messages: { type: "string", default: "200000" },
    sessions: { type: "string", default: "1000" },
    rounds: { type: "string", default: "7" }
  }
})
const rounds = Number(values.rounds)
const requests = Number(values.requests)
const messages = Number(values.messages)
const sessionCount = Number(values.sessions)
if (![rounds, requests, messages, sessionCount].every((n) => Number.isInteger(n) && n > 0)) {
  process.stderr.write("--rounds, --requests, --messages and --sessions take positive integers\n")
  process.exit(2)
}
if (values.only !== undefined && values.only !== "h2" && values.only !== "ws") {
  process.stderr.write(`--only takes h2 or ws, not ${values.only}\n`)
  process.exit(2)
}

const { makeH2Server } = await import("../src/runner/h2-server.ts")
const { Supervisor } = await import("../src/runner/supervisor.ts")
const { defaults } = await import("../src/runner/options.ts")
const { runnerLog } = await import("../src/runner/log.ts")
const { connectionTagger } = await import("../src/runner/connection.ts")
const { WebSocketSession } = await import("../src/runner/websocket/session.ts")
const { makeWebSocketScope } = await import("../src/runner/websocket/scope.ts")
const helloApp = (await import("../examples/hello.ts")).default
const wsEcho = (await import("../examples/ws-echo.ts")).default

/** Runs `one(i)` `n` times per round; the median of `rounds` rounds in ns per call, after a warm-up round. */
const measure = async (n: number, one: (i: number) => void): Promise<number> => {
  const round = (count: number): number => {
    const started = process.hrtime.bigint()
    for (let i = 0; i < count; i++) one(i)
    return Number(process.hrtime.bigint() - started) / count
  }
  round(Math.min(n, 20_000))
  const ns: Array<number> = []
  for (let r = 0; r < rounds; r++) {
    ns.push(round(n))
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  return ns.sort((a, b) => a - b)[Math.floor(ns.length / 2)]!
}

const context = Context.empty() as Context.Context<unknown>
const opts = { ...defaults, accessLog: false, headerTimeout: 0, runnerLog: runnerLog(false, context) }
const scopeDefaults = { rootPath: "", state: () => ({}), draining: () => false, forwarded: undefined }
const socket = Object.assign(new EventEmitter(), { remoteAddress: "127.0.0.1", remotePort: 50000, localAddress: "127.0.0.1", localPort: 8000 })
const conn = connectionTagger()(socket as never, "http")
const line = (name: string, ns: number, note = ""): void => void process.stdout.write(`  ${name.padEnd(44)} ${ns.toFixed(0).padStart(6)} ns${note}\n`)

if (values.only !== "ws") {
  const session = Object.assign(new EventEmitter(), { socket, closed: false, destroyed: false, close() {}, goaway() {}, destroy() {} })
  /** A node:http2 server stream as far as the runner uses it; its writes go nowhere. */
  class StandInStream extends EventEmitter {
    readonly session = session
    id = 1
    destroyed = false
    closed = false
    headersSent = false
    writableLength = 0
    writableEnded = false
    writableFinished = false
    readableEnded = true
    pushAllowed = true
    rstCode = 0
    respond(_headers: unknown, _options?: unknown): void {
      this.headersSent = true
    }
    write(_chunk: unknown): boolean {
      return true
    }
    end(_chunk?: unknown): void {
      this.writableEnded = this.writableFinished = true
    }
    close(): void {}
    additionalHeaders(): void {}
  }
  const supervisor = new Supervisor(helloApp as never, opts, context)
  const server = makeH2Server(opts, supervisor, scopeDefaults, new Set())
  server.emit("session", session)
  const headers = { ":method": "GET", ":path": "/", ":scheme": "http", ":authority": "127.0.0.1:8000", "user-agent": "h2load nghttp2/1.52.0" }
  const raw = [":method", "GET", ":path", "/", ":scheme", "http", ":authority", "127.0.0.1:8000", "user-agent", "h2load nghttp2/1.52.0"]
  const flags = 0x5 // END_STREAM | END_HEADERS: a GET without a body
  const ignore = (): void => {}
  /** One stream: `answer` it, then close it as node does after the response. */
  const request = (answer: (stream: StandInStream) => void) => (i: number): void => {
    const stream = new StandInStream()
    stream.id = 2 * i + 1
    answer(stream)
    stream.closed = true
    stream.emit("close")
  }
  process.stdout.write(`\nhello over HTTP/2, ${requests} requests a round, median of ${rounds} rounds, ns per request\n`)
  const standIn = await measure(requests, request((s) => {
    s.on("error", ignore)
    s.respond(helloHead)
    s.end(hello)
  }))
  line("stand-in stream, plain calls", standIn)
  const fiber = await measure(requests, request((s) => {
    s.on("error", ignore)
    Effect.runFork(helloFiber(s))
  }))
  line("stand-in stream, an effect fiber", fiber, `  (+${(fiber - standIn).toFixed(0)})`)
  const egi = await measure(requests, request((s) => void server.emit("stream", s as unknown as http2.ServerHttp2Stream, headers, flags, raw)))
  line("EGI: the stream listener, examples/hello.ts", egi, `  (+${(egi - standIn).toFixed(0)}; over the fiber +${(egi - fiber).toFixed(0)})`)
}

if (values.only !== "h2") {
  /** A `ws` WebSocket as far as the session uses it; its sends go nowhere. */
  const standInSocket = () => Object.assign(new EventEmitter(), { bufferedAmount: 0, readyState: 1, send(_data: unknown, _options?: unknown) {}, close() {}, pause() {}, resume() {}, ping() {}, terminate() {} })
  const data = Buffer.from("x".repeat(32))
  const limits = { sendBuffer: opts.writeBufferSize, receiveQueue: 16, receiveQueueBytes: opts.wsMaxQueuedBytes, pingInterval: 0, pingTimeout: 0 }
  const head = { authority: "127.0.0.1:8000", target: "/", rawHeaders: ["host", "127.0.0.1:8000", "upgrade", "websocket"] }
  const open = async (egi: boolean): Promise<Array<EventEmitter>> => {
    const sockets: Array<EventEmitter> = []
    for (let k = 0; k < sessionCount; k++) {
      const ws = standInSocket()
      sockets.push(ws)
      if (egi) {
        const scope = makeWebSocketScope(head, "1.1", conn, k + 1, scopeDefaults)
        const handshake = { accept: () => Promise.resolve(ws as never), deny() {}, denyBody() {}, onGone() {} }
        const session = new WebSocketSession(scope, handshake, limits)
        Effect.runFork(wsEcho(scope, session.receive, session.send) as Effect.Effect<void, unknown>)
      } else {
        Effect.runFork(echoFiber(ws))
      }
    }
    // The accepts resolve in microtasks: every session is open after a turn.
    await new Promise((resolve) => setTimeout(resolve, 10))
    return sockets
  }
  process.stdout.write(`\nWebSocket text messages of 32 B over ${sessionCount} sessions, round robin, ${messages} a round, median of ${rounds} rounds, ns per message\n`)
  const floorSockets = await open(false)
  const fiber = await measure(messages, (i) => void floorSockets[i % sessionCount]!.emit("message", data, false))
  line("stand-in socket, an effect fiber echo", fiber)
  const egiSockets = await open(true)
  const egi = await measure(messages, (i) => void egiSockets[i % sessionCount]!.emit("message", data, false))
  line("EGI: the session, examples/ws-echo.ts", egi, `  (over the fiber +${(egi - fiber).toFixed(0)})`)
}
process.exit(0)
