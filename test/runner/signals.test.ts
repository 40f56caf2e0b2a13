/**
 * Signals reach the server that the README's production command starts
 * (spec.md §8.4, rules RUN-7 and RUN-12): `node_modules/.bin/egi serve …`
 * (here a symlink to bin/egi.mjs, as npm installs it), run by its shebang.
 * On Node >= 22.19 that process is the server; on an older Node it is the
 * launcher, which re-executes the CLI under the Node 24 in .tools/ and must
 * pass signals on, and whose child must not outlive it.
 *
 * Each test spawns exactly that command, waits for its "listening on" line,
 * signals that pid only (or its process group, as a terminal or `timeout`
 * does), and checks that the port stops accepting and that no process of it
 * is left (its descendants, read from /proc before the signal).
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from "node:fs"
import * as net from "node:net"
import { tmpdir } from "node:os"
import { delimiter, dirname, join } from "node:path"
import { afterAll, afterEach, describe, expect, it } from "vitest"
import { ROOT } from "../support/cli.ts"
import { sleep, until } from "../support/clients.ts"

const linux = process.platform === "linux" && existsSync("/proc/self/stat")

/** `node_modules/.bin/egi` of a project that depends on egi: a symlink to bin/egi.mjs. */
const project = mkdtempSync(join(tmpdir(), "egi-signals-"))
mkdirSync(join(project, "node_modules", ".bin"), { recursive: true })
const EGI = join(project, "node_modules", ".bin", "egi")
symlinkSync(join(ROOT, "bin", "egi.mjs"), EGI)
afterAll(() => rmSync(project, { recursive: true, force: true }))

const versionOf = (node: string): [number, number] | undefined => {
  try {
    const v = execFileSync(node, ["--version"], { encoding: "utf8", timeout: 5000 }).trim()
    const m = /^v(\d+)\.(\d+)\./.exec(v)
    return m === null ? undefined : [Number(m[1]), Number(m[2])]
  } catch {
    return undefined
  }
}

/** A Node older than 22.19 on this machine (the launcher re-executes under it), if any. */
const oldNode = ((): string | undefined => {
  const candidates = [
    ...(process.env.PATH ?? "").split(delimiter).map((d) => join(d, "node")),
    "/usr/bin/node",
    "/usr/local/bin/node"
  ]
  for (const node of new Set(candidates)) {
    if (!existsSync(node)) continue
    const v = versionOf(node)
    if (v !== undefined && (v[0] < 22 || (v[0] === 22 && v[1] < 19))) return node
  }
  return undefined
})()

/** State and parent of a process from /proc/<pid>/stat; undefined when it is gone. */
const statOf = (pid: number): { readonly state: string; readonly ppid: number } | undefined => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return { state: rest[0]!, ppid: Number(rest[1]) }
  } catch {
    return undefined
  }
}

/** Running (not gone, not a zombie). */
const alive = (pid: number): boolean => {
  const s = statOf(pid)
  return s !== undefined && s.state !== "Z" && s.state !== "X"
}

/** Every live descendant of `pid`, from /proc. */
const descendants = (pid: number): Array<number> => {
  const children = new Map<number, Array<number>>()
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue
    const s = statOf(Number(name))
    if (s === undefined) continue
    children.set(s.ppid, [...(children.get(s.ppid) ?? []), Number(name)])
  }
  const out: Array<number> = []
  const walk = (p: number): void => {
    for (const c of children.get(p) ?? []) {
      out.push(c)
      walk(c)
    }
  }
  walk(pid)
  return out.filter(alive)
}

interface Run {
  readonly child: ChildProcess
  readonly stderr: () => string
  readonly port: number
  readonly exit: Promise<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>
}

/** Pids a test started (the command and its descendants). */
const running = new Set<number>()
const isEgi = (pid: number): boolean => {
  try {
    return alive(pid) && readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("egi")
  } catch {
    return false
  }
}
afterEach(() => {
  // Nothing may outlive a test, whatever it asserted.
  for (const pid of running) {
    if (!isEgi(pid)) continue
    try {
      process.kill(pid, "SIGKILL")
    } catch {
      // already gone
    }
  }
  running.clear()
})

/**
 * Runs `node_modules/.bin/egi serve <args>` with `nodeDir` first on PATH (its
 * shebang is `#!/usr/bin/env node`), in its own process group, and waits for
 * the listening line.
 */
const startEgi = async (nodeDir: string, args: ReadonlyArray<string>): Promise<Run> => {
  const child = spawn(EGI, ["serve", ...args, "--port", "0", "--no-access-log"], {
    cwd: ROOT,
    env: { ...process.env, PATH: `${nodeDir}${delimiter}${process.env.PATH ?? ""}` },
    stdio: ["ignore", "ignore", "pipe"],
    detached: true
  })
  running.add(child.pid!)
  let err = ""
  child.stderr!.setEncoding("utf8").on("data", (d: string) => void (err += d))
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal }))
  )
  let port = 0
  await until(() => {
    const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(err)
    if (m !== null) port = Number(m[1])
    return port !== 0 || child.exitCode !== null
  }, "the listening line", 15_000)
  expect(port, err).not.toBe(0)
  for (const pid of descendants(child.pid!)) running.add(pid)
  return { child, stderr: () => err, port, exit }
}

/** The port refuses connections. */
const refuses = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1")
    socket.on("connect", () => {
      socket.destroy()
      resolve(false)
    })
    socket.on("error", () => resolve(true))
  })

/** A streamed GET of `chunks` chunks `delay` ms apart: resolves with the body length and whether it completed. */
const slowGet = (port: number, chunks: number, delay: number): Promise<{ readonly bytes: number; readonly complete: boolean }> =>
  new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1")
    let text = ""
    socket.on("data", (d: Buffer) => void (text += d.toString("latin1")))
    socket.on("error", () => {})
    socket.on("close", () => resolve({ bytes: text.length, complete: text.endsWith("\r\n0\r\n\r\n") }))
    socket.write(`GET /?chunks=${chunks}&size=10&delay=${delay} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`)
  })

/** Waits (bounded) for the run to exit. */
const exited = (run: Run, ms = 10_000) =>
  Promise.race([run.exit, sleep(ms).then(() => ({ code: null, signal: null, timedOut: true }))])

describe.skipIf(!linux)("the production command gets the signals (RUN-7, RUN-12)", () => {
  const node24 = dirname(process.execPath)

  it("RUN-7 RUN-12: node_modules/.bin/egi on Node >= 22.19 gets SIGTERM itself: drains, exits 0, nothing left", async () => {
    const run = await startEgi(node24, ["examples/hello.ts"])
    const family = descendants(run.child.pid!)
    run.child.kill("SIGTERM")
    expect(await exited(run)).toEqual({ code: 0, signal: null })
    expect(run.stderr()).toContain("shutdown complete")
    expect(await refuses(run.port)).toBe(true)
    expect([run.child.pid!, ...family].filter(alive)).toEqual([])
  })

  describe.skipIf(oldNode === undefined)(`through the launcher (an old Node: ${oldNode ?? "none found"})`, () => {
    const old = dirname(oldNode ?? "/")

    it("RUN-12: SIGTERM to the launcher is passed on: the Node 24 child drains, both exit 0, nothing left", async () => {
      const run = await startEgi(old, ["examples/hello.ts"])
      const family = descendants(run.child.pid!)
      expect(family.length).toBeGreaterThan(0) // the re-executed CLI
      run.child.kill("SIGTERM")
      expect(await exited(run)).toEqual({ code: 0, signal: null })
      expect(run.stderr()).toContain("shutdown complete")
      expect(await refuses(run.port)).toBe(true)
      await until(() => [run.child.pid!, ...family].filter(alive).length === 0, "no egi process left", 5000)
    })

    it("RUN-12: SIGTERM to the whole process group (launcher and child both get it) drains once: the response in flight completes, exit 0", async () => {
      const run = await startEgi(old, ["examples/stream.ts"])
      const family = descendants(run.child.pid!)
      const response = slowGet(run.port, 6, 150)
      await sleep(200)
      process.kill(-run.child.pid!, "SIGTERM")
      expect(await response).toMatchObject({ complete: true })
      expect(await exited(run)).toEqual({ code: 0, signal: null })
      expect(run.stderr()).toContain("shutdown complete")
      expect(await refuses(run.port)).toBe(true)
      await until(() => [run.child.pid!, ...family].filter(alive).length === 0, "no egi process left", 5000)
    })

    it("RUN-12: a launcher that dies without passing anything on (SIGKILL) takes its child along: it drains and exits", async () => {
      const run = await startEgi(old, ["examples/hello.ts"])
      const family = descendants(run.child.pid!)
      expect(family.length).toBeGreaterThan(0)
      run.child.kill("SIGKILL")
      await run.exit
      await until(() => family.filter(alive).length === 0, "the orphaned child to exit", 8000)
      expect(await refuses(run.port)).toBe(true)
    })
  })
})
