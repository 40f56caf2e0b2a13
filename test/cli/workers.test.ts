/**
 * Several worker processes (spec.md §8.13, RUN-21): the primary supervises
 * them — workers share the listener, a worker killed by an exception
 * outside Effect is replaced, SIGHUP replaces them one at a time without a
 * failed request, `maxRequests` recycles one, SIGTERM drains all and exits
 * 0. A real cluster (test/fixtures/cluster.ts) in a child process.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as http from "node:http"
import { afterEach, describe, expect, it } from "vitest"
import { freePort } from "../support/clients.ts"
import { ROOT, runCli } from "../support/cli.ts"


interface Cluster {
  readonly child: ChildProcess
  readonly port: number
  readonly log: () => string
  readonly waitFor: (re: RegExp, ms?: number) => Promise<void>
  readonly exit: Promise<number | null>
}

let running: Cluster | undefined
afterEach(async () => {
  if (running !== undefined && running.child.exitCode === null) {
    running.child.kill("SIGKILL")
    await running.exit
  }
  running = undefined
})

const startCluster = async (plan: object): Promise<Cluster> => {
  const port = await freePort()
  const child = spawn(process.execPath, ["test/fixtures/cluster.ts"], {
    cwd: ROOT,
    env: { ...process.env, EGI_TEST_PLAN: JSON.stringify({ maxRequests: undefined, maxRequestsJitter: 0, maxWorkerMemory: undefined, drainTimeout: 1000, ...plan }), EGI_TEST_PORT: String(port) },
    stdio: ["ignore", "ignore", "pipe"]
  })
  let log = ""
  const listeners = new Set<() => void>()
  child.stderr!.setEncoding("utf8").on("data", (d: string) => {
    log += d
    for (const l of listeners) l()
  })
  const exit = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
  const waitFor = (re: RegExp, ms = 30_000) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (!re.test(log)) return
        clearTimeout(timer)
        listeners.delete(check)
        resolve()
      }
      const timer = setTimeout(() => {
        listeners.delete(check)
        reject(new Error(`no ${re} within ${ms} ms:\n${log}`))
      }, ms)
      listeners.add(check)
      check()
    })
  running = { child, port, log: () => log, waitFor, exit }
  return running
}

/** GET `path` on a new connection (`connection: close`): the answering worker's pid, as text. */
const get = (port: number, path = "/"): Promise<string> =>
  new Promise((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port, path, agent: false, timeout: 30_000 }, (res) => {
      let body = ""
      res.setEncoding("utf8").on("data", (d: string) => (body += d))
      res.on("end", () => resolve(body))
    })
    req.on("timeout", () => req.destroy(new Error("timed out")))
    req.on("error", reject)
  })

const count = (text: string, re: RegExp): number => text.match(new RegExp(re, "g"))?.length ?? 0

// Each test starts processes that each load the runner: slow on a loaded 2-core machine.
describe("RUN-21: worker processes", { timeout: 120_000 }, () => {
  it("RUN-21: two workers share the listener; one killed by an exception outside Effect is replaced, the other keeps serving; SIGTERM drains both and the primary exits 0", async () => {
    const c = await startCluster({ workers: 2 })
    await c.waitFor(/(listening on[^\n]*\n[^]*){2}/)
    const pids = new Set<string>()
    for (let i = 0; i < 64 && pids.size < 2; i++) pids.add(await get(c.port))
    expect(pids.size).toBe(2)
    await get(c.port, "/crash").catch(() => "")
    await c.waitFor(/worker \d \(pid \d+\) died \(exit code 1\)[^\n]*respawning/)
    await c.waitFor(/(listening on[^\n]*\n[^]*){3}/)
    for (let i = 0; i < 6; i++) expect(await get(c.port)).toMatch(/^\d+$/)
    c.child.kill("SIGTERM")
    expect(await c.exit).toBe(0)
    expect(c.log()).toMatch(/SIGTERM received: draining 2 worker\(s\)[^]*all workers stopped/)
  })

  it("RUN-21: SIGHUP replaces the workers one at a time; requests sent all along never fail, and are then answered by new pids", async () => {
    const c = await startCluster({ workers: 2 })
    await c.waitFor(/(listening on[^\n]*\n[^]*){2}/)
    const before = new Set<string>()
    for (let i = 0; i < 64 && before.size < 2; i++) before.add(await get(c.port))
    let failures = 0
    let sent = 0
    let going = true
    const load = (async () => {
      while (going) {
        sent++
        await get(c.port).catch(() => void failures++)
      }
    })()
    c.child.kill("SIGHUP")
    await c.waitFor(/all workers replaced/, 60_000)
    going = false
    await load
    expect(failures).toBe(0)
    expect(sent).toBeGreaterThan(10)
    const after = new Set<string>()
    for (let i = 0; i < 64 && after.size < 2; i++) after.add(await get(c.port))
    expect([...after].filter((p) => before.has(p))).toEqual([])
    c.child.kill("SIGTERM")
    expect(await c.exit).toBe(0)
  })

  it("RUN-21: maxRequests recycles a worker after that many requests, without a failed request", async () => {
    const c = await startCluster({ workers: 1, maxRequests: 5 })
    await c.waitFor(/listening on/)
    const first = await get(c.port)
    for (let i = 0; i < 4; i++) expect(await get(c.port)).toBe(first)
    await c.waitFor(/served 5 requests \(max-requests\); replacing it/)
    await c.waitFor(/(listening on[^\n]*\n[^]*){2}/)
    let other = first
    for (let i = 0; i < 20 && other === first; i++) other = await get(c.port)
    expect(other).not.toBe(first)
    expect(count(c.log(), /died/)).toBe(0)
    c.child.kill("SIGTERM")
    expect(await c.exit).toBe(0)
  })

  it("RUN-21: egi serve --workers 2 serves from two processes and drains on SIGTERM (exit 0); a module that cannot be loaded stops the primary with exit 2 instead of respawning forever", async () => {
    const cli = runCli(["serve", "examples/hello.ts", "--workers", "2", "--port", "0", "--no-access-log"])
    try {
      const { port } = await cli.listening(60_000)
      await cli.waitFor("stderr", /(listening on[^\n]*\n[^]*){2}/, 60_000)
      expect(cli.stderr()).toMatch(/primary \(pid \d+\): starting 2 worker\(s\)/)
      expect(await get(port)).toBe("Hello, world!")
      cli.signal("SIGTERM")
      expect((await cli.exit).code).toBe(0)
      expect(cli.stderr()).toMatch(/all workers stopped/)
    } finally {
      await cli.dispose()
    }
    const broken = runCli(["serve", "examples/hello.ts:nope", "--workers", "2", "--port", "0"])
    try {
      expect((await broken.exit).code).toBe(2)
      expect(broken.stderr()).toMatch(/failed to start \(exit code 2\)/)
      expect(broken.stderr()).not.toMatch(/respawning/)
    } finally {
      await broken.dispose()
    }
  })

  it("RUN-21: --max-requests without --workers is a usage error (exit 2, one line)", async () => {
    const cli = runCli(["serve", "examples/hello.ts", "--max-requests", "10", "--port", "0"])
    try {
      expect((await cli.exit).code).toBe(2)
      expect(cli.stderr()).toMatch(/^egi: --max-requests and --max-worker-memory recycle worker processes: they need --workers\n$/)
    } finally {
      await cli.dispose()
    }
  })
})
