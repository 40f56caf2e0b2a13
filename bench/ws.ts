/**
 * The WebSocket benchmark (a script, not a test): round trips of small
 * messages over one WebSocket — send one, wait for its echo, send the next —
 * against examples/ws-echo.ts served by the CLI, over HTTP/1.1 (the `ws`
 * client) and over HTTP/2 (undici over h2c, RFC 8441), beside plain echo
 * servers without EGI (bench/raw-ws.ts: `ws` on HTTP/1.1, node:http2 +
 * `ws` on HTTP/2) in the same run, alternating rounds (each starting one
 * server later than the one before). Ratios are to the
 * plain server of the same protocol.
 *
 *     node bench/ws.ts [--rounds 5] [--messages 10000] [--size 32] [--no-deflate]
 *     node bench/ws.ts --connections 200 --messages 100
 *
 * `--connections N` opens N WebSockets per server (before the rounds) and
 * runs the round trips on all of them at once: each round is N × messages
 * round trips, and the figure is the round's wall time and its round trips
 * per second.
 *
 * `--no-deflate` turns permessage-deflate off on EGI and the plain servers
 * (it is on by default in both, and each compressed message takes a trip
 * through zlib on libuv's thread pool, which dominates small-message
 * latency). With `--no-deflate` a third HTTP/1.1 server runs too: plain
 * `ws` with an effect fiber per connection that waits for each message and
 * sends it back, and no EGI (bench/effect-floor.ts `ws`): how much of
 * EGI's gap is Effect's own.
 *
 * Each row also gives the server's CPU time (user + system, from /proc) per
 * round trip, the steadier figure on a shared machine. `--pin` runs the
 * servers on the first core and this process (the clients) on the last.
 */
import { execFileSync } from "node:child_process"
import { availableParallelism } from "node:os"
import { parseArgs } from "node:util"
import { helpIfAsked } from "./usage.ts"
import { Agent, WebSocket as H2WebSocket } from "undici"
import WebSocket from "ws"
import { cpuMicros, roundOrder } from "./measure.ts"
import { startServer, stopServers } from "./servers.ts"

helpIfAsked(`node bench/ws.ts [--rounds 5] [--messages 10000] [--size 32] [--connections 1] [--no-deflate] [--pin]

WebSocket round trips against examples/ws-echo.ts (HTTP/1.1 Upgrade and HTTP/2, RFC 8441) and plain
ws / node:http2 + ws echo servers in the same run, alternating rounds; round trips/s and the server's
CPU time per round trip (µs, from /proc).
  --pin   the servers on the first core, the clients (this process) on the last (taskset)`)
const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "5" },
    messages: { type: "string", default: "10000" },
    size: { type: "string", default: "32" },
    connections: { type: "string", default: "1" },
    "no-deflate": { type: "boolean", default: false },
    pin: { type: "boolean", default: false }
  }
})
/** `--pin`: the servers' core; this process moves to the last core. */
const serverCore = values.pin ? 0 : undefined
if (values.pin) execFileSync("taskset", ["-cp", String(availableParallelism() - 1), String(process.pid)], { stdio: "ignore" })
const deflate = values["no-deflate"] !== true
const rounds = Number(values.rounds)
const messages = Number(values.messages)
const payload = "x".repeat(Number(values.size))
const connections = Math.max(1, Number(values.connections))

/** A connected client: `roundTrip` sends one message and resolves on its echo. */
interface Client {
  readonly roundTrip: () => Promise<void>
  readonly close: () => void
}

/** A client over `send`; its `echoed` is to be called on every message. */
const pingPong = (send: (data: string) => void, close: () => void): { readonly client: Client; readonly echoed: () => void } => {
  let waiting: (() => void) | undefined
  const roundTrip = () =>
    new Promise<void>((done) => {
      waiting = done
      send(payload)
    })
  return { client: { roundTrip, close }, echoed: () => waiting?.() }
}

const wsClient = (url: string): Promise<Client> =>
  new Promise((resolve, reject) => {
    const ws = new WebSocket(url)
    const { client, echoed } = pingPong((d) => ws.send(d), () => ws.close())
    ws.on("message", echoed)
    ws.once("error", reject)
    ws.once("open", () => resolve(client))
  })

/** Over HTTP/2 every WebSocket has a connection of its own (an Agent each): one connection's streams are bounded by SETTINGS_MAX_CONCURRENT_STREAMS. */
const h2Client = (url: string, dispatchers: Array<Agent>): Promise<Client> =>
  new Promise((resolve, reject) => {
    const dispatcher = new Agent({ allowH2: true, useH2c: true } as ConstructorParameters<typeof Agent>[0])
    dispatchers.push(dispatcher)
    const ws = new H2WebSocket(url, { dispatcher } as unknown as ConstructorParameters<typeof H2WebSocket>[1])
    const { client, echoed } = pingPong((d) => ws.send(d), () => ws.close())
    ws.onmessage = echoed
    ws.onerror = () => reject(new Error("h2 WebSocket failed"))
    ws.onopen = () => resolve(client)
  })

const measure = async (client: Client, n: number): Promise<number> => {
  const started = performance.now()
  for (let i = 0; i < n; i++) await client.roundTrip()
  return n / ((performance.now() - started) / 1000)
}

const egi = await startServer([
  "bin/egi.mjs",
  "serve",
  "examples/ws-echo.ts",
  "--port",
  "9202",
  "--no-access-log",
  ...(deflate ? ["--ws-deflate"] : ["--no-ws-deflate"])
], serverCore)
const raw = await startServer(["bench/raw-ws.ts", "9200", ...(deflate ? [] : ["--no-deflate"])], serverCore)
// Without deflate, plain ws with an effect fiber per connection and no EGI (bench/effect-floor.ts): Effect's share of the gap.
const floor = deflate ? undefined : await startServer(["--no-allocation-site-pretenuring", "bench/effect-floor.ts", "ws", "9203"], serverCore)
const dispatchers: Array<Agent> = []
try {
  // Each with the server process whose CPU time it reads (one target at a time is busy) and the row its ratios are to (the plain server of its protocol).
  const targets: ReadonlyArray<readonly [string, () => Promise<Client>, number, number]> = [
    ["plain ws, HTTP/1.1", () => wsClient("ws://127.0.0.1:9200/"), raw.pid!, 0],
    ...(floor === undefined ? [] : [["plain ws + effect fiber", () => wsClient("ws://127.0.0.1:9203/"), floor.pid!, 0] as const]),
    ["egi, HTTP/1.1 Upgrade", () => wsClient("ws://127.0.0.1:9202/"), egi.pid!, 0],
    ["plain ws, HTTP/2", () => h2Client("ws://127.0.0.1:9201/", dispatchers), raw.pid!, floor === undefined ? 2 : 3],
    ["egi, HTTP/2 (RFC 8441)", () => h2Client("ws://127.0.0.1:9202/", dispatchers), egi.pid!, floor === undefined ? 2 : 3]
  ]
  // Per target, `connections` clients, opened one after another (a burst of handshakes is not what is measured).
  const clients: Array<Array<Client>> = []
  for (const [, connect] of targets) {
    const mine: Array<Client> = []
    for (let c = 0; c < connections; c++) mine.push(await connect())
    clients.push(mine)
  }
  /** Round trips per second over all of `group` at once, and the wall time in ms. */
  const measureAll = async (group: ReadonlyArray<Client>, n: number): Promise<[number, number]> => {
    const started = performance.now()
    await Promise.all(group.map((client) => measure(client, n)))
    const ms = performance.now() - started
    return [(group.length * n) / (ms / 1000), ms]
  }
  for (const group of clients) await measureAll(group, Math.min(messages, 2000)) // warm-up
  const results = targets.map((): Array<number> => [])
  const times = targets.map((): Array<number> => [])
  const cpu = targets.map((): Array<number> => [])
  for (let r = 0; r < rounds; r++) {
    for (const [i, group] of roundOrder(clients, r)) {
      const pid = targets[i]![2]
      const cpuBefore = cpuMicros(pid)
      const [rate, ms] = await measureAll(group, messages)
      cpu[i]!.push((cpuMicros(pid) - cpuBefore) / (group.length * messages))
      results[i]!.push(rate)
      times[i]!.push(ms)
    }
  }
  const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
  // Each row against the plain server of its protocol.
  process.stdout.write(
    `\nWebSocket echo, ${connections > 1 ? `${connections} connections × ` : ""}${messages} round trips of ${payload.length} B, permessage-deflate ${deflate ? "on" : "off"}, median of ${rounds} rounds${serverCore === undefined ? "" : ", pinned"}\n`
  )
  for (const [i, [name, , , ref]] of targets.entries()) {
    const med = median(results[i]!)
    const base = median(results[ref]!)
    process.stdout.write(
      `  ${name.padEnd(28)} ${med.toFixed(0).padStart(7)} round trips/s  ratio ${(med / base).toFixed(3)}  ${(median(times[i]!) / 1000).toFixed(2)} s a round  ` +
        `CPU ${median(cpu[i]!).toFixed(1)} µs/round trip (${(median(cpu[i]!) / median(cpu[ref]!)).toFixed(3)}×)  [${results[i]!.map((x) => x.toFixed(0)).join(", ")}]\n`
    )
  }
  for (const group of clients) for (const client of group) client.close()
} finally {
  await Promise.all(dispatchers.map((d) => d.close()))
  await stopServers(floor === undefined ? [egi, raw] : [egi, raw, floor])
}
