/**
 * Per-stream memory (issue 19): how much a server's RSS grows per open
 * HTTP/2 stream. `--connections` node:http2 sessions each open `--streams`
 * GETs that the server answers and then holds open (bench/hold-app.ts on
 * EGI, bench/raw-hold.ts on raw node:http2); once every response head has
 * arrived, the server's memory is read and compared with its memory
 * before, after a warm-up round of the same size that was closed: its JS
 * heap in use after a full GC plus external memory (bench/heap-probe.ts),
 * and its RSS (VmRSS, /proc; GC timing moves it by megabytes). The servers
 * run in turn, `--rounds` times alternating (each round starting one
 * server later than the one before); the medians are printed in KiB
 * per stream, with the excess over raw. A third server, raw node:http2 with
 * an effect fiber per stream that waits for the stream's close
 * (bench/effect-floor.ts `hold`), shows how much of EGI's excess a parked
 * Effect takes by itself.
 *
 * `--baseline DIR` holds the same streams on another checkout of EGI too
 * (a git worktree with node_modules linked), in the same rounds.
 *
 *     node bench/streams.ts [--connections 100] [--streams 100] [--rounds 3] [--baseline DIR]
 */
import type { ChildProcess } from "node:child_process"
import * as http2 from "node:http2"
import { readFileSync } from "node:fs"
import { parseArgs } from "node:util"
import { roundOrder } from "./measure.ts"
import { checkoutPrefix, startServer, stopServers } from "./servers.ts"

const { values } = parseArgs({
  options: {
    connections: { type: "string", default: "100" },
    streams: { type: "string", default: "100" },
    rounds: { type: "string", default: "3" },
    baseline: { type: "string" },
    help: { type: "boolean", default: false }
  }
})
if (values.help) {
  process.stdout.write("node bench/streams.ts [--connections 100] [--streams 100 (≤ 128)] [--rounds 3] [--baseline DIR (another checkout of EGI)]\n")
  process.exit(0)
}
const connections = Number(values.connections)
const streams = Number(values.streams)
const rounds = Number(values.rounds)
const baseline = checkoutPrefix(values.baseline)

/** VmRSS of a process, in KiB. */
const rssKiB = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1])

/** Opens `connections` × `streams` held streams on `port`; resolves once every response head arrived, with a function that closes them all. */
const openHeld = async (port: number): Promise<() => Promise<void>> => {
  const sessions: Array<http2.ClientHttp2Session> = []
  const heads: Array<Promise<void>> = []
  for (let c = 0; c < connections; c++) {
    const session = http2.connect(`http://127.0.0.1:${port}`)
    session.on("error", () => {})
    sessions.push(session)
    for (let s = 0; s < streams; s++) {
      const req = session.request({ ":path": "/" }, { endStream: true })
      req.on("error", () => {})
      heads.push(new Promise((resolve, reject) => {
        req.once("response", () => resolve())
        req.once("close", () => reject(new Error("stream closed before its response")))
      }))
    }
  }
  await Promise.all(heads)
  return async () => {
    await Promise.all(sessions.map((s) => new Promise<void>((resolve) => {
      s.destroy()
      s.once("close", () => resolve())
    })))
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** The server's heap in use after a full GC plus external memory, in KiB (bench/heap-probe.ts answers SIGUSR2). */
const heapKiB = (child: ChildProcess): Promise<number> =>
  new Promise((resolve) => {
    const onData = (d: Buffer | string): void => {
      const m = /heap (\d+)/.exec(String(d))
      if (m === null) return
      child.stderr!.off("data", onData)
      resolve(Number(m[1]) / 1024)
    }
    child.stderr!.on("data", onData)
    child.kill("SIGUSR2")
  })

const probe = ["--expose-gc", "--import", "./bench/heap-probe.ts"]
const targets = [
  { name: "raw node:http2", args: [...probe, "bench/raw-hold.ts", "9180"], port: 9180, heap: [] as Array<number>, rss: [] as Array<number> },
  // Raw with an effect fiber per stream waiting for its close, no EGI (bench/effect-floor.ts): Effect's share of EGI's excess.
  { name: "raw + effect fiber", args: [...probe, "--no-allocation-site-pretenuring", "bench/effect-floor.ts", "hold", "9182"], port: 9182, heap: [] as Array<number>, rss: [] as Array<number> },
  { name: "egi --h2c", args: [...probe, "bin/egi.mjs", "serve", "bench/hold-app.ts", "--port", "9181", "--h2c", "--no-access-log"], port: 9181, heap: [] as Array<number>, rss: [] as Array<number> },
  ...(baseline === undefined ? [] : [{
    name: "egi --h2c (baseline)",
    args: [...probe, `${baseline}bin/egi.mjs`, "serve", `${baseline}bench/hold-app.ts`, "--port", "9183", "--h2c", "--no-access-log"],
    port: 9183,
    heap: [] as Array<number>,
    rss: [] as Array<number>
  }])
]
const children = await Promise.all(targets.map((t) => startServer(t.args)))
try {
  // Warm-up: one full round each, closed, so that lazily made code and pools are in the "before" figure.
  for (const t of targets) await (await openHeld(t.port))()
  await sleep(1000)
  for (let r = 0; r < rounds; r++) {
    for (const [i, t] of roundOrder(targets, r)) {
      const child = children[i]!
      const n = connections * streams
      const heapBefore = await heapKiB(child)
      const rssBefore = rssKiB(child.pid!)
      const close = await openHeld(t.port)
      await sleep(500)
      const heapAfter = await heapKiB(child)
      const rssAfter = rssKiB(child.pid!)
      await close()
      t.heap.push((heapAfter - heapBefore) / n)
      t.rss.push((rssAfter - rssBefore) / n)
      process.stderr.write(`round ${r + 1}/${rounds} ${t.name}: heap +${((heapAfter - heapBefore) / 1024).toFixed(1)} MiB, RSS +${((rssAfter - rssBefore) / 1024).toFixed(1)} MiB for ${n} streams\n`)
      await sleep(1000)
    }
  }
} finally {
  await stopServers(children)
}
const median = (xs: Array<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const [raw] = targets
for (const t of targets) {
  const heap = median(t.heap)
  const rss = median(t.rss)
  const over = t === raw ? "" : ` (+${(heap - median(raw!.heap)).toFixed(2)} heap, +${(rss - median(raw!.rss)).toFixed(2)} RSS over raw)`
  process.stdout.write(`${t.name.padEnd(18)} heap ${heap.toFixed(2).padStart(6)} KiB, RSS ${rss.toFixed(2).padStart(6)} KiB per stream${over}\n`)
}
