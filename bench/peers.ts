/**
 * The peer benchmark (a script, not a test): the same hello served by EGI,
 * by raw node:http2 / node:http, and by the servers a user would pick
 * instead — Fastify 5, @effect/platform-node's NodeHttpServer, Hono on
 * @hono/node-server, Hypercorn and uvicorn — measured by h2load in the same
 * run, alternating rounds (each starting one server later than the one
 * before), medians. Per server: requests/s, the ratio to the raw Node
 * server of its protocol, server CPU per request (µs, from /proc)
 * and RSS (idle after start, peak after the run). Writes the figures
 * (docs/bench-peers.json) and a chart drawn from them (docs/bench-peers.svg).
 *
 *     node bench/peers.ts [--rounds 5] [--requests 50000] [--only h2c|h1]
 *     node bench/peers.ts --chart-only docs/bench-peers.json
 *
 * Needs h2load (nghttp2-client); Hypercorn and uvicorn are Debian's, run by
 * /usr/bin/python3 (`bash scripts/setup.sh --bench-tools` installs them all).
 * A peer that is not installed is skipped with one line.
 */
import { readFileSync, writeFileSync } from "node:fs"
import { availableParallelism, cpus, release, type } from "node:os"
import { setTimeout as sleep } from "node:timers/promises"
import { parseArgs } from "node:util"
import { h2load, h2loadVersion, median, roundOrder, treeCpuMicros, treeRss } from "./measure.ts"
import { renderChart } from "./peers/chart.ts"
import { startCommand, stopAll, stopOnSignals } from "./peers/process.ts"
import type { Report, Row } from "./peers/report.ts"
import { table, thousands, micros } from "./peers/report.ts"
import { type Protocol, type Server, servers as serversFor } from "./peers/servers.ts"

const usage = `usage: node bench/peers.ts [options]

  --rounds N          alternating rounds; medians are over them (default 5)
  --requests N        requests per h2load run, every server, every round (default 50000)
  --only h2c|h1       one protocol only (default both)
  --json FILE         where the figures go (default docs/bench-peers.json)
  --svg FILE          where the chart goes (default docs/bench-peers.svg)
  --chart-only FILE   no benchmark: redraw the chart from a figures file
  --help              this text

h2c: h2load -c 16 -m 16; HTTP/1.1: h2load --h1 -c 16 (keep-alive). Servers on
127.0.0.1:9300 and up. Needs h2load; Hypercorn and uvicorn from Debian for
/usr/bin/python3 (bash scripts/setup.sh --bench-tools installs them).
`

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "5" },
    requests: { type: "string", default: "50000" },
    only: { type: "string" },
    json: { type: "string", default: "docs/bench-peers.json" },
    svg: { type: "string", default: "docs/bench-peers.svg" },
    "chart-only": { type: "string" },
    help: { type: "boolean", default: false }
  }
})

const fail = (message: string): never => {
  process.stderr.write(`bench/peers.ts: ${message}\n`)
  process.exit(1)
}

/** The h2load options per protocol: 16 connections; 16 streams each over h2c, one request at a time over HTTP/1.1. */
const load: Record<Protocol, { readonly c: number; readonly m: number; readonly h1: boolean; readonly label: string }> = {
  h2c: { c: 16, m: 16, h1: false, label: "-c 16 -m 16" },
  h1: { c: 16, m: 1, h1: true, label: "--h1 -c 16" }
}

const writeOutputs = (report: Report): void => {
  writeFileSync(values.svg, renderChart(report))
  process.stdout.write(`\n${table(report)}\nwrote ${values.svg}\n`)
}

if (values.help) {
  process.stdout.write(usage)
  process.exit(0)
}
if (values["chart-only"] !== undefined) {
  const report = JSON.parse(readFileSync(values["chart-only"], "utf8")) as Report
  if (report.format !== "egi-bench-peers/1") fail(`${values["chart-only"]}: not a bench/peers.ts figures file`)
  writeOutputs(report)
  process.exit(0)
}

const rounds = Number(values.rounds)
const requests = Number(values.requests)
if (!Number.isInteger(rounds) || rounds < 1) fail(`--rounds must be a positive integer, not ${values.rounds}`)
if (!Number.isInteger(requests) || requests < 100) fail(`--requests must be an integer ≥ 100, not ${values.requests}`)
if (values.only !== undefined && values.only !== "h2c" && values.only !== "h1") fail(`--only takes h2c or h1, not ${values.only}`)
const protocols: ReadonlyArray<Protocol> = values.only === undefined ? ["h2c", "h1"] : [values.only as Protocol]

const h2loadLine = await h2loadVersion()
if (h2loadLine === undefined) fail("h2load not found on PATH (Debian: nghttp2-client); install it: bash scripts/setup.sh --bench-tools")

const { servers, skipped } = serversFor(protocols)
for (const s of skipped) process.stdout.write(`skip ${s.name} (${s.protocol}): ${s.reason}\n`)

interface Running {
  readonly server: Server
  readonly pid: number
  readonly url: string
  rssIdle: number
  readonly rps: Array<number>
  readonly cpu: Array<number>
}

const measure = async (r: Running, n: number): Promise<{ rps: number; cpu: number }> => {
  const { c, m, h1 } = load[r.server.protocol]
  const before = treeCpuMicros(r.pid)
  const res = await h2load(r.url, n, c, m, undefined, h1)
  const cpu = (treeCpuMicros(r.pid) - before) / n
  if (res.failed > 0 || res.status2xx !== n) {
    throw new Error(`${r.server.name} (${r.server.protocol}): ${res.failed} of ${n} requests failed, ${res.status2xx} answered 2xx`)
  }
  return { rps: res.rps, cpu }
}

stopOnSignals()
try {
  const running: Array<Running> = []
  for (const [i, server] of servers.entries()) {
    const port = 9300 + i
    process.stdout.write(`start ${server.name} (${server.protocol}) on 127.0.0.1:${port}: ${server.implementation}\n`)
    const child = await startCommand(server.command(port))
    running.push({ server, pid: child.pid!, url: `http://127.0.0.1:${port}/`, rssIdle: 0, rps: [], cpu: [] })
  }
  await sleep(1000) // let start-up settle before reading idle memory
  for (const r of running) r.rssIdle = treeRss(r.pid).rss
  const warmup = Math.min(requests, 10_000)
  for (const r of running) {
    process.stdout.write(`warm-up ${r.server.name} (${r.server.protocol}), ${warmup} requests\n`)
    await measure(r, warmup)
  }
  for (let round = 1; round <= rounds; round++) {
    for (const [, r] of roundOrder(running, round - 1)) {
      const { rps, cpu } = await measure(r, requests)
      r.rps.push(rps)
      r.cpu.push(cpu)
      process.stdout.write(
        `round ${round}/${rounds}  ${r.server.protocol.padEnd(3)}  ${r.server.name.padEnd(36)} ${thousands(rps).padStart(8)} req/s  ${micros(cpu).padStart(6)} µs/req\n`
      )
    }
  }
  const reference = new Map(running.filter((r) => r.server.kind === "raw").map((r) => [r.server.protocol, median(r.rps)]))
  const rows: Array<Row> = running.map((r) => {
    const after = treeRss(r.pid)
    const rps = median(r.rps)
    return {
      server: r.server.name,
      protocol: r.server.protocol,
      kind: r.server.kind,
      implementation: r.server.implementation,
      rps,
      ratio: rps / reference.get(r.server.protocol)!,
      cpuMicrosPerRequest: median(r.cpu),
      rssIdleBytes: r.rssIdle,
      rssPeakBytes: after.peak,
      rssAfterBytes: after.rss,
      rounds: { rps: r.rps, cpuMicrosPerRequest: r.cpu }
    }
  })
  const report: Report = {
    format: "egi-bench-peers/1",
    date: new Date().toISOString(),
    machine: { cpu: cpus()[0]?.model ?? "unknown CPU", cores: availableParallelism(), os: `${type()} ${release()}` },
    node: process.version,
    h2load: h2loadLine!,
    rounds,
    requests,
    load: Object.fromEntries(protocols.map((p) => [p, load[p].label])),
    rows,
    skipped
  }
  writeFileSync(values.json, JSON.stringify(report, null, 2) + "\n")
  process.stdout.write(`wrote ${values.json}\n`)
  writeOutputs(report)
} finally {
  await stopAll()
}
