/**
 * EGI's own cost per request and per WebSocket message, in one process and
 * without sockets, for telling whether a change to the runner's hot path
 * helps.
 *
 * - `h2`: the hello (examples/hello.ts) through the HTTP/2 server's own
 *   `stream` listener (makeH2Server) on stand-in node:http2 streams whose
 *   `respond`, `write` and `end` do nothing, each closed after its
 *   response as node closes it; beside the same stand-ins answered by
 *   plain calls (the stand-ins' own cost) and by an effect fiber making
 *   those calls (bench/effect-floor.ts's `hello`). Nothing of node:http2,
 *   nghttp2 or the socket is measured.
 * - `h1`: the hello through the runner's own HTTP/1.1 codec
 *   (http1/connection.ts) on one keep-alive connection whose stand-in
 *   socket's writes go nowhere, a request at a time. No floor beside it: a
 *   stand-in socket has no parser to compare with.
 * - `ws`: text messages through `--sessions` WebSocket sessions
 *   (WebSocketSession and examples/ws-echo.ts), round robin, on stand-in
 *   `ws` sockets whose `send` does nothing; beside an effect fiber per
 *   stand-in that waits for each message and sends it back
 *   (bench/effect-floor.ts's `ws`). Nothing of `ws`'s framing or the socket,
 *   nor the HTTP/1.1 turn cork (turn-cork.ts) that corks a real
 *   connection's socket before each message: the stand-in handshake has
 *   no transport.
 *
 * Two measures:
 * - time (the default): the median of `--rounds` rounds in ns per request
 *   or message. Rounds of a run agree within a few per cent, runs mostly
 *   within 5–10 % (now and then one is off by a third) on a shared machine:
 *   compare several alternating runs of two versions.
 * - `--instructions`: machine instructions per request or message, counted
 *   by valgrind's callgrind (bash scripts/setup.sh --bench-tools installs
 *   it): each case runs in its own process, twice — N and 3N items after
 *   the same warm-up — and the difference is divided by 2N, so start-up and
 *   warm-up cancel out. V8 runs `--predictable` with fixed seeds and the
 *   address space unrandomised (`setarch -R`): the same build counts the
 *   same within ~0.1 % whatever else the machine does, where time swings
 *   by tens of per cent. It counts work (the garbage collector's
 *   included), not cache misses or what a loaded server's scattered memory
 *   costs; ~50× slower than running natively (a few minutes). With
 *   `--by-function`, each function's own instructions per item too
 *   (callgrind-functions.ts): where to look next.
 *
 * The socket benchmarks (bench/run.ts, bench/ws.ts) put these costs in the
 * context of a whole server; in a loaded server the same code costs more
 * (its objects are no longer in the caches).
 *
 * Runs under V8's allocation-site pretenuring off, as `egi` runs
 * (bin/egi.mjs); started without `--no-allocation-site-pretenuring` it
 * runs itself again with it.
 *
 *     node bench/in-process.ts [--only h2|h1|ws] [--instructions [--by-function]] [--requests N] [--messages N] [--sessions 1000] [--rounds 7]
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import { spawn, spawnSync } from "node:child_process"
import { rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { EventEmitter } from "node:events"
import type * as http2 from "node:http2"
import { parseArgs } from "node:util"
import { functionCounts, perItem } from "./callgrind-functions.ts"
import { echoFiber, hello, helloFiber, helloHead } from "./floor-apps.ts"
import { helpIfAsked } from "./usage.ts"

helpIfAsked(`node bench/in-process.ts [--only h2|h1|ws] [--instructions [--by-function]] [--requests N] [--messages N] [--sessions 1000] [--rounds 7]

EGI's own cost in one process, without sockets: per hello request through the HTTP/2 server's stream
listener on stand-in streams (h2) and through the runner's HTTP/1.1 codec on a stand-in socket (h1), per
text message through WebSocket sessions on stand-in sockets (ws); beside the stand-ins' own cost and an
effect fiber doing the same calls (h2, ws).

  (default)        time: median of --rounds rounds in ns; --requests/--messages a round (200000)
  --instructions   machine instructions per item, counted by valgrind's callgrind (bench tools:
                   bash scripts/setup.sh --bench-tools): each case in its own process at N and 3N
                   items (--requests/--messages, default 20000); repeatable within ~0.1 %
  --by-function    with --instructions: also each function's own instructions per item, top 40 per
                   case (compiled JavaScript named from node's --perf-basic-prof map)`)

if (!process.execArgv.includes("--no-allocation-site-pretenuring")) {
  const again = spawnSync(process.execPath, ["--no-allocation-site-pretenuring", ...process.execArgv, ...process.argv.slice(1)], { stdio: "inherit" })
  process.exit(again.status ?? 1)
}

const { values } = parseArgs({
  options: {
    only: { type: "string" },
    instructions: { type: "boolean", default: false },
    "by-function": { type: "boolean", default: false },
    requests: { type: "string" },
    messages: { type: "string" },
    sessions: { type: "string", default: "1000" },
    rounds: { type: "string", default: "7" },
    // Internal: one case, `--count` items after the warm-up, for a callgrind child.
    case: { type: "string" },
    count: { type: "string" }
  }
})
const defaultCount = values.instructions ? "20000" : "200000"
const rounds = Number(values.rounds)
const requests = Number(values.requests ?? defaultCount)
const messages = Number(values.messages ?? defaultCount)
const sessionCount = Number(values.sessions)
if (![rounds, requests, messages, sessionCount].every((n) => Number.isInteger(n) && n > 0)) {
  process.stderr.write("--rounds, --requests, --messages and --sessions take positive integers\n")
  process.exit(2)
}
if (values.only !== undefined && values.only !== "h2" && values.only !== "h1" && values.only !== "ws") {
  process.stderr.write(`--only takes h2, h1 or ws, not ${values.only}\n`)
  process.exit(2)
}

const { makeH2Server } = await import("../src/runner/h2-server.ts")
const { Supervisor } = await import("../src/runner/supervisor.ts")
const { defaults } = await import("../src/runner/options.ts")
const { runnerLog } = await import("../src/runner/log.ts")
const { connectionTagger } = await import("../src/runner/connection.ts")
const { Http1Connection } = await import("../src/runner/http1/connection.ts")
const { HttpDate } = await import("../src/runner/http-date.ts")
const { WebSocketSession } = await import("../src/runner/websocket/session.ts")
const { makeWebSocketScope } = await import("../src/runner/websocket/scope.ts")
const helloApp = (await import("../examples/hello.ts")).default
const wsEcho = (await import("../examples/ws-echo.ts")).default

const context = Context.empty() as Context.Context<unknown>
const opts = { ...defaults, accessLog: false, headerTimeout: 0, runnerLog: runnerLog(false, context) }
const scopeDefaults = { rootPath: "", state: () => ({}), draining: () => false, forwarded: undefined }
const socket = Object.assign(new EventEmitter(), { remoteAddress: "127.0.0.1", remotePort: 50000, localAddress: "127.0.0.1", localPort: 8000 })
const conn = connectionTagger()(socket as never, "http")

/** One thing measured: `prepare` sets it up and gives the call that handles item `i` (a request or a message). */
interface Case {
  readonly name: string
  readonly label: string
  readonly group: "h2" | "h1" | "ws"
  readonly prepare: () => Promise<(i: number) => void>
}

const session = Object.assign(new EventEmitter(), { socket, closed: false, destroyed: false, remoteSettings: { enablePush: true }, close() {}, goaway() {}, destroy() {} })
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

/** A TCP socket as far as the HTTP/1.1 codec uses it; its writes go nowhere. */
const standInTcp = () =>
  Object.assign(new EventEmitter(), {
    remoteAddress: "127.0.0.1",
    remotePort: 50001,
    localAddress: "127.0.0.1",
    localPort: 8000,
    destroyed: false,
    writableLength: 0,
    allowHalfOpen: true,
    write(_chunk: unknown, _cb?: unknown) {
      return true
    },
    cork() {},
    uncork() {},
    pause() {},
    resume() {},
    end() {},
    destroy() {},
    setTimeout() {}
  })
const h1Request = Buffer.from("GET / HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nUser-Agent: h2load nghttp2/1.52.0\r\n\r\n")

/** A `ws` WebSocket as far as the session uses it; its sends go nowhere. */
const standInSocket = () => Object.assign(new EventEmitter(), { bufferedAmount: 0, readyState: 1, send(_data: unknown, _options?: unknown) {}, close() {}, pause() {}, resume() {}, ping() {}, terminate() {} })
const data = Buffer.from("x".repeat(32))
/** `--sessions` stand-in sockets, each with EGI's session and examples/ws-echo.ts or with the floor's echo fiber; a message to socket `i % sessions`. */
const openSockets = (egi: boolean) => async (): Promise<(i: number) => void> => {
  const limits = { sendBuffer: opts.writeBufferSize, receiveQueue: 16, receiveQueueBytes: opts.wsMaxQueuedBytes, pingInterval: 0, pingTimeout: 0 }
  const head = { authority: "127.0.0.1:8000", target: "/", rawHeaders: ["host", "127.0.0.1:8000", "upgrade", "websocket"] }
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
  await new Promise((resolve) => setImmediate(resolve))
  return (i) => void sockets[i % sessionCount]!.emit("message", data, false)
}

/** A floor case of `h2`: each stand-in stream gets an `error` listener (as node's servers need) and `answer`. */
const standInCase = (name: string, label: string, answer: (s: StandInStream) => void): Case => ({
  name,
  label,
  group: "h2",
  prepare: async () =>
    request((s) => {
      s.on("error", ignore)
      answer(s)
    })
})

const cases: ReadonlyArray<Case> = [
  standInCase("h2-plain", "stand-in stream, plain calls", (s) => {
    s.respond(helloHead)
    s.end(hello)
  }),
  standInCase("h2-fiber", "stand-in stream, an effect fiber", (s) => void Effect.runFork(helloFiber(s))),
  {
    name: "h2-egi",
    label: "EGI: the stream listener, examples/hello.ts",
    group: "h2",
    prepare: async () => {
      const supervisor = new Supervisor(helloApp as never, opts, context)
      const server = makeH2Server(opts, supervisor, scopeDefaults, new Set())
      server.emit("session", session)
      return request((s) => void server.emit("stream", s as unknown as http2.ServerHttp2Stream, headers, flags, raw))
    }
  },
  {
    name: "h1-egi",
    label: "EGI: its HTTP/1.1 codec, examples/hello.ts",
    group: "h1",
    prepare: async () => {
      const supervisor = new Supervisor(helloApp as never, opts, context)
      const tcp = standInTcp()
      connectionTagger()(tcp as never, "http")
      const host = {
        opts,
        supervisor,
        defaults: scopeDefaults,
        date: new HttpDate(),
        headExpired() {},
        handOff() {
          throw new Error("the hello request is one the codec serves itself")
        },
        forget() {}
      }
      new Http1Connection(tcp as never, host)
      // One keep-alive connection, a request at a time: each is answered before the next arrives.
      return () => void tcp.emit("data", h1Request)
    }
  },
  { name: "ws-fiber", label: "stand-in socket, an effect fiber echo", group: "ws", prepare: openSockets(false) },
  { name: "ws-egi", label: "EGI: the session, examples/ws-echo.ts", group: "ws", prepare: openSockets(true) }
]
const countOf = (c: Case): number => (c.group === "ws" ? messages : requests)
const WARM_UP = 20_000

/** A callgrind child: the warm-up, then `count` items, yielding to the event loop every 1,000 so that what they scheduled runs. */
const runCase = async (c: Case, count: number): Promise<void> => {
  const one = await c.prepare()
  let i = 0
  const items = async (n: number): Promise<void> => {
    for (const end = i + n; i < end; i++) {
      one(i)
      if (i % 1000 === 999) await new Promise((resolve) => setImmediate(resolve))
    }
    for (let k = 0; k < 10; k++) await new Promise((resolve) => setImmediate(resolve))
  }
  await items(WARM_UP)
  await items(count)
}

/** Runs `one(i)` `n` times per round; the median of `rounds` rounds in ns per call, after a warm-up round. */
const measure = async (n: number, one: (i: number) => void): Promise<number> => {
  const round = (count: number): number => {
    const started = process.hrtime.bigint()
    for (let i = 0; i < count; i++) one(i)
    return Number(process.hrtime.bigint() - started) / count
  }
  round(Math.min(n, WARM_UP))
  const ns: Array<number> = []
  for (let r = 0; r < rounds; r++) {
    ns.push(round(n))
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  return ns.sort((a, b) => a - b)[Math.floor(ns.length / 2)]!
}

/**
 * The instructions callgrind counted in one child running `c` over `count`
 * items after the warm-up; with `byFunction`, also each function's own
 * (callgrind-functions.ts), from a full callgrind output and node's
 * `--perf-basic-prof` symbol map, both removed after reading.
 */
const instructionsOf = (c: Case, count: number, byFunction: boolean): Promise<{ total: number; functions: Map<string, number> | undefined }> =>
  new Promise((resolve, reject) => {
    const out = join(tmpdir(), `egi-callgrind-${process.pid}-${c.name}-${count}.out`)
    const child = spawn("setarch", [
      "-R", "valgrind", "--tool=callgrind", ...(byFunction ? ["--dump-instr=yes", "--compress-pos=no", "--compress-strings=no", `--callgrind-out-file=${out}`] : ["--callgrind-out-file=/dev/null"]),
      process.execPath, "--no-allocation-site-pretenuring", "--predictable", "--random-seed=1", "--hash-seed=1", ...(byFunction ? ["--perf-basic-prof"] : []),
      process.argv[1]!, "--case", c.name, "--count", String(count), "--sessions", String(sessionCount)
    ], { stdio: ["ignore", "ignore", "pipe"] })
    let err = ""
    child.stderr.on("data", (chunk: Buffer) => void (err += chunk.toString()))
    child.on("error", reject)
    child.on("close", (code) => {
      const refs = /I\s+refs:\s+([\d,]+)/.exec(err)
      if (code !== 0 || refs === null) return reject(new Error(`${c.name} under callgrind exited ${code}:\n${err.split("\n").slice(-15).join("\n")}`))
      const total = Number(refs[1]!.replaceAll(",", ""))
      if (!byFunction) return resolve({ total, functions: undefined })
      // setarch and valgrind exec in turn: node runs as the child's pid, and names its map after it.
      const symbols = `/tmp/perf-${child.pid}.map`
      try {
        resolve({ total, functions: functionCounts(out, symbols, fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "")) })
      } finally {
        rmSync(out, { force: true })
        rmSync(symbols, { force: true })
      }
    })
  })

const line = (name: string, value: number, unit: string, note = ""): void =>
  void process.stdout.write(`  ${name.padEnd(44)} ${value.toFixed(0).padStart(6)} ${unit}${note}\n`)
const heading = (c: Case, measure: string): string =>
  c.group === "h2"
    ? `\nhello over HTTP/2, ${measure} per request\n`
    : c.group === "h1"
    ? `\nhello over HTTP/1.1 (one keep-alive connection; no floor: a stand-in socket has no parser), ${measure} per request\n`
    : `\nWebSocket text messages of 32 B over ${sessionCount} sessions, round robin, ${measure} per message\n`

if (values.case !== undefined) {
  const c = cases.find((k) => k.name === values.case)
  if (c === undefined) throw new Error(`no case ${values.case}`)
  await runCase(c, Number(values.count))
  process.exit(0)
}

const selected = cases.filter((c) => values.only === undefined || c.group === values.only)
if (values.instructions) {
  const found = spawnSync("valgrind", ["--version"])
  if (found.error !== undefined || found.status !== 0) {
    process.stderr.write("--instructions needs valgrind: bash scripts/setup.sh --bench-tools installs it\n")
    process.exit(2)
  }
}
const byFunction = values["by-function"]
if (byFunction && !values.instructions) {
  process.stderr.write("--by-function goes with --instructions\n")
  process.exit(2)
}
/** Per case with --by-function: each function's own instructions per item, largest first. */
const byFunctionOf = new Map<string, ReadonlyArray<readonly [string, number]>>()
const results = new Map<string, number>()
let group: Case["group"] | undefined
for (const c of selected) {
  const n = countOf(c)
  if (c.group !== group) {
    group = c.group
    process.stdout.write(
      heading(c, values.instructions ? `instructions (callgrind; ${n} and ${3 * n} items after ${WARM_UP} to warm up)` : `${n} a round, median of ${rounds} rounds, ns`)
    )
  }
  let value: number
  if (values.instructions) {
    // Both counts at once: one process a core.
    const [few, many] = await Promise.all([instructionsOf(c, n, byFunction), instructionsOf(c, 3 * n, byFunction)])
    value = (many.total - few.total) / (2 * n)
    if (few.functions !== undefined && many.functions !== undefined) byFunctionOf.set(c.name, perItem(few.functions, many.functions, 2 * n))
  } else {
    value = await measure(n, await c.prepare())
  }
  results.set(c.name, value)
  const plain = results.get(`${c.group}-plain`)
  const fiber = results.get(`${c.group}-fiber`)
  const over = (base: number | undefined, what: string) => (base === undefined || c.name.endsWith(what) ? "" : `${what === "plain" ? "+" : "over the fiber +"}${(value - base).toFixed(0)}`)
  const notes = [over(plain, "plain"), c.name.endsWith("-egi") ? over(fiber, "fiber") : ""].filter((x) => x !== "")
  line(c.label, value, values.instructions ? "instr" : "ns", notes.length > 0 ? `  (${notes.join("; ")})` : "")
}
for (const [name, functions] of byFunctionOf) {
  process.stdout.write(`\n${name}: the functions with the most instructions of their own per item (callgrind, --perf-basic-prof names)\n`)
  for (const [fn, n] of functions.slice(0, 40)) process.stdout.write(`  ${n.toFixed(0).padStart(7)}  ${fn}\n`)
}
process.exit(0)
