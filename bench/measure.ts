/**
 * Benchmark measurements: h2load runs, and a server's CPU time and memory
 * read from /proc (Linux).
 */
import { execFile } from "node:child_process"
import { readdirSync, readFileSync } from "node:fs"

/** The result of one h2load run: requests per second, the failed-request count, and how many answers were 2xx. */
export interface H2loadResult {
  readonly rps: number
  readonly failed: number
  readonly status2xx: number
}

/**
 * Runs `h2load -n n -c c -m m [--h1] [-d data] url` (h2load from PATH) and
 * parses its requests/s, failed count and 2xx count; rejects if it cannot run or its
 * output cannot be parsed. With `cpu`, h2load runs on that core alone (`taskset`).
 */
export const h2load = (url: string, n: number, c: number, m: number, data?: string, h1 = false, cpu?: number): Promise<H2loadResult> =>
  new Promise((resolve, reject) => {
    const args = ["-n", String(n), "-c", String(c), "-m", String(m), ...(h1 ? ["--h1"] : []), ...(data === undefined ? [] : ["-d", data]), url]
    const [command, argv] = cpu === undefined ? ["h2load", args] : ["taskset", ["-c", String(cpu), "h2load", ...args]]
    execFile(command, argv, { maxBuffer: 1 << 20 }, (err, stdout) => {
      if (err) return reject(err)
      const rps = /finished in [^,]+, ([\d.]+) req\/s/.exec(stdout)
      const failed = /requests: \d+ total, \d+ started, \d+ done, \d+ succeeded, (\d+) failed/.exec(stdout)
      const ok = /status codes: (\d+) 2xx/.exec(stdout)
      if (rps === null || failed === null || ok === null) return reject(new Error(`cannot parse h2load output:\n${stdout}`))
      resolve({ rps: Number(rps[1]), failed: Number(failed[1]), status2xx: Number(ok[1]) })
    })
  })

/** h2load's version line (e.g. `h2load nghttp2/1.52.0`), or undefined if h2load is not on PATH. */
export const h2loadVersion = (): Promise<string | undefined> =>
  new Promise((resolve) => {
    execFile("h2load", ["--version"], (err, stdout) => resolve(err ? undefined : stdout.trim().split("\n")[0]))
  })

/** The fields of /proc/<pid>/stat after the command name (field 3, the state, is index 0). */
const statFields = (pid: number): Array<string> => {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ")
}

/** CPU time (user + system, all threads) of a process in µs, from /proc (clock ticks of 10 ms). */
export const cpuMicros = (pid: number): number => {
  const fields = statFields(pid)
  return (Number(fields[11]) + Number(fields[12])) * 10_000
}

/**
 * A process and its live descendants (found by scanning /proc for parent
 * ids: /proc/<pid>/task/<tid>/children is not always available).
 */
export const processTree = (pid: number): Array<number> => {
  const parents = new Map<number, Array<number>>()
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const ppid = Number(statFields(Number(entry))[1])
      parents.set(ppid, [...(parents.get(ppid) ?? []), Number(entry)])
    } catch {
      // exited while scanning
    }
  }
  const tree = [pid]
  for (let i = 0; i < tree.length; i++) tree.push(...(parents.get(tree[i]!) ?? []))
  return tree
}

/** CPU time (user + system) in µs of a process and its live descendants (e.g. a Python server's workers). */
export const treeCpuMicros = (pid: number): number => processTree(pid).reduce((sum, p) => sum + cpuMicros(p), 0)

/** Resident memory of a process tree in bytes: now (sum of VmRSS) and peak (sum of each process's VmHWM). */
export interface Rss {
  readonly rss: number
  readonly peak: number
}

/** VmRSS and VmHWM (bytes) of a process and its live descendants, from /proc/<pid>/status. */
export const treeRss = (pid: number): Rss => {
  let rss = 0
  let peak = 0
  for (const p of processTree(pid)) {
    const status = readFileSync(`/proc/${p}/status`, "utf8")
    rss += Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) * 1024
    peak += Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) * 1024
  }
  return { rss, peak }
}

/** The median of a non-empty list (the upper middle one for an even count). */
export const median = (xs: ReadonlyArray<number>): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

/**
 * The order in which round `round` (from 0) measures `items`, with their
 * indices: round r starts at item r (mod the count) and wraps around, so
 * that over the rounds every server runs in every position and none runs
 * twice in a row across a round's end (as reversing every round would
 * make the first and the last do). The machines these benchmarks run on
 * drift within a run (a round's raw figure can double from the first round
 * to the last), and a fixed order put one server always first after a
 * pause and another always last.
 */
export const roundOrder = <T>(items: ReadonlyArray<T>, round: number): Array<readonly [number, T]> => {
  const entries = items.map((item, i) => [i, item] as const)
  const start = items.length === 0 ? 0 : round % items.length
  return [...entries.slice(start), ...entries.slice(0, start)]
}
