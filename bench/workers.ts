/**
 * `egi serve --workers N` (spec.md §8.13): throughput of hello with 1 and 2
 * worker processes in the same run, alternating rounds, and each worker's
 * idle memory. The load generator is pinned to the last core with
 * `taskset` when there is one, so that on a machine with more cores than
 * two the workers have cores of their own; on this 2-core machine the
 * second worker shares a core with h2load, and the figure says how much
 * that still gains.
 *
 *     node bench/workers.ts [--rounds 3] [--requests 60000]
 */
import { execFile, execFileSync, spawn, type ChildProcess } from "node:child_process"
import { once } from "node:events"
import { readFileSync } from "node:fs"
import { availableParallelism } from "node:os"
import { parseArgs } from "node:util"
import { helpIfAsked } from "./usage.ts"

helpIfAsked(`node bench/workers.ts [--rounds 3] [--requests 60000]

hello with egi serve --workers 1 and --workers 2 in the same run, h2load pinned to the last core;
each worker's idle memory.`)
const { values } = parseArgs({ options: { rounds: { type: "string", default: "3" }, requests: { type: "string", default: "60000" } } })
const rounds = Number(values.rounds)
const requests = Number(values.requests)
const root = new URL("..", import.meta.url).pathname
const cores = availableParallelism()
const hasTaskset = (() => {
  try {
    execFileSync("taskset", ["-c", "0", "true"])
    return true
  } catch {
    return false
  }
})()

/** Resident set size of a process, bytes. */
const rss = (pid: number): number => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) * 1024

/** The PIDs of `pid`'s child processes (the workers of a primary). */
const children = (pid: number): Array<number> => {
  const out: Array<number> = []
  for (const task of readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/)) if (task !== "") out.push(Number(task))
  return out
}

const startWorkers = async (workers: number, port: number): Promise<ChildProcess> => {
  const child = spawn(process.execPath, ["bin/egi.mjs", "serve", "examples/hello.ts", "--workers", String(workers), "--port", String(port), "--no-access-log"], { cwd: root, stdio: ["ignore", "ignore", "pipe"] })
  let err = ""
  child.stderr!.setEncoding("utf8")
  await new Promise<void>((resolve, reject) => {
    child.stderr!.on("data", (d: string) => {
      err += d
      if ((err.match(/listening on/g) ?? []).length >= workers) resolve()
    })
    child.once("exit", (code) => reject(new Error(`exited ${code}: ${err}`)))
  })
  return child
}

const h2load = (args: ReadonlyArray<string>): Promise<number> =>
  new Promise((resolve, reject) => {
    const [cmd, pre] = hasTaskset ? ["taskset", ["-c", String(cores - 1), "h2load"]] : ["h2load", []]
    execFile(cmd, [...pre, ...args], { maxBuffer: 1 << 20 }, (e, stdout) => {
      if (e) return reject(e)
      const m = /finished in [^,]+, ([\d.]+) req\/s/.exec(stdout)
      const failed = /(\d+) failed/.exec(stdout)
      if (m === null || failed === null || failed[1] !== "0") return reject(new Error(`h2load: ${stdout}`))
      resolve(Number(m[1]))
    })
  })

const kinds = [
  { name: "HTTP/1.1, -c 32", args: (port: number) => ["--h1", "-n", String(requests), "-c", "32", "-m", "1", `http://127.0.0.1:${port}/`] },
  { name: "h2c, -c 16 -m 16", args: (port: number) => ["-n", String(requests), "-c", "16", "-m", "16", `http://127.0.0.1:${port}/`] }
]

const servers = [{ workers: 1, port: 9180, child: await startWorkers(1, 9180) }, { workers: 2, port: 9181, child: await startWorkers(2, 9181) }]
try {
  await new Promise((r) => setTimeout(r, 1000))
  for (const s of servers) {
    const pids = children(s.child.pid!)
    process.stdout.write(`--workers ${s.workers}: idle RSS primary ${(rss(s.child.pid!) / 2 ** 20).toFixed(0)} MiB, workers ${pids.map((p) => `${(rss(p) / 2 ** 20).toFixed(0)} MiB`).join(", ")}\n`)
  }
  process.stdout.write(`hello, ${cores} cores, h2load ${hasTaskset ? `pinned to core ${cores - 1}` : "not pinned (no taskset)"}; median of ${rounds} alternating rounds\n`)
  for (const kind of kinds) {
    const results = new Map<number, Array<number>>(servers.map((s) => [s.workers, []]))
    for (const s of servers) await h2load(kind.args(s.port)) // warm-up
    for (let r = 0; r < rounds; r++) for (const s of servers) results.get(s.workers)!.push(await h2load(kind.args(s.port)))
    const median = (xs: Array<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
    const one = median(results.get(1)!)
    for (const s of servers) {
      const m = median(results.get(s.workers)!)
      process.stdout.write(`  ${kind.name.padEnd(18)} --workers ${s.workers}: ${m.toFixed(0).padStart(7)} req/s  ×${(m / one).toFixed(2)}  [${results.get(s.workers)!.map((x) => x.toFixed(0)).join(", ")}]\n`)
    }
  }
} finally {
  for (const s of servers) {
    s.child.kill("SIGTERM")
    if (s.child.exitCode === null) await once(s.child, "exit")
  }
}
