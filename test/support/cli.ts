/**
 * Test support: runs the real `egi` CLI (bin/egi.mjs) as a child process on
 * the Node running the tests, and watches its stdout/stderr.
 */
import { type ChildProcessByStdio, spawn } from "node:child_process"
import type { Readable } from "node:stream"
import { fileURLToPath } from "node:url"
import { afterEach, expect } from "vitest"

export const ROOT = fileURLToPath(new URL("../../", import.meta.url))
const BIN = fileURLToPath(new URL("../../bin/egi.mjs", import.meta.url))

export interface Exit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  /** Date.now() when the process exited. */
  readonly at: number
}

export interface Cli {
  readonly child: ChildProcessByStdio<null, Readable, Readable>
  readonly stdout: () => string
  readonly stderr: () => string
  /** Resolves with the first match of `re` in the stream (already seen or to come); rejects after `ms` or on exit. */
  readonly waitFor: (which: "stdout" | "stderr", re: RegExp, ms?: number) => Promise<RegExpExecArray>
  /** Waits for "listening on <url> (<protocols>)" on stderr. */
  readonly listening: (ms?: number) => Promise<{ readonly url: string; readonly port: number; readonly protocols: string }>
  readonly exit: Promise<Exit>
  /** Sends `signal` and records when (Date.now()). */
  readonly signal: (signal: NodeJS.Signals) => number
  /** SIGKILLs the process if it is still running and waits for its exit. */
  readonly dispose: () => Promise<void>
}

/** `node bin/egi.mjs ...args` with cwd = the repository root; `env`: variables added to the test's environment. */
export const runCli = (args: ReadonlyArray<string>, options: { readonly env?: Readonly<Record<string, string>> } = {}): Cli => {
  const env = options.env === undefined ? undefined : { ...process.env, ...options.env }
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], ...(env === undefined ? {} : { env }) })
  let out = ""
  let err = ""
  let exited: Exit | undefined
  const listeners = new Set<() => void>()
  const notify = () => {
    for (const l of listeners) l()
  }
  child.stdout.setEncoding("utf8").on("data", (d: string) => {
    out += d
    notify()
  })
  child.stderr.setEncoding("utf8").on("data", (d: string) => {
    err += d
    notify()
  })
  const exit = new Promise<Exit>((resolve) => {
    child.on("close", (code, signal) => {
      exited = { code, signal, at: Date.now() }
      notify()
      resolve(exited)
    })
  })

  const waitFor = (which: "stdout" | "stderr", re: RegExp, ms = 5000): Promise<RegExpExecArray> =>
    new Promise((resolve, reject) => {
      const check = (): boolean => {
        const m = re.exec(which === "stdout" ? out : err)
        if (m !== null) {
          done()
          resolve(m)
          return true
        }
        if (exited !== undefined) {
          done()
          reject(new Error(`egi exited (${exited.code ?? exited.signal}) before ${which} matched ${re}\nstdout: ${out}\nstderr: ${err}`))
          return true
        }
        return false
      }
      const timer = setTimeout(() => {
        done()
        reject(new Error(`timed out after ${ms} ms waiting for ${which} to match ${re}\nstdout: ${out}\nstderr: ${err}`))
      }, ms)
      const listener = () => void check()
      const done = () => {
        clearTimeout(timer)
        listeners.delete(listener)
      }
      listeners.add(listener)
      check()
    })

  return {
    child,
    stdout: () => out,
    stderr: () => err,
    waitFor,
    listening: async (ms = 8000) => {
      const m = await waitFor("stderr", /listening on (https?:\/\/127\.0\.0\.1:(\d+)) \(([^)]*)\)/, ms)
      return { url: m[1]!, port: Number(m[2]), protocols: m[3]! }
    },
    exit,
    signal: (signal) => {
      const at = Date.now()
      child.kill(signal)
      return at
    },
    dispose: async () => {
      if (exited === undefined) child.kill("SIGKILL")
      await exit
    }
  }
}

/** The stderr lines without their ISO timestamp prefix. */
export const logLines = (stderr: string): Array<string> =>
  stderr
    .split("\n")
    .filter((l) => l.length > 0)
    .map((l) => l.replace(/^\d{4}-\d{2}-\d{2}T[\d:.]+Z /, ""))

/** Index of the first line containing `needle`, -1 if none. */
export const lineIndex = (lines: ReadonlyArray<string>, needle: string): number => lines.findIndex((l) => l.includes(needle))

/**
 * `cli(args, env?)`: `runCli` whose processes are disposed (SIGKILLed if
 * still running) after each test of the file.
 */
export const useClis = (): ((args: ReadonlyArray<string>, env?: Record<string, string>) => Cli) => {
  const started: Array<Cli> = []
  afterEach(async () => {
    await Promise.all(started.splice(0).map((c) => c.dispose()))
  })
  return (args, env) => {
    const c = runCli(args, env === undefined ? {} : { env })
    started.push(c)
    return c
  }
}

/** The `egi: …` lines of the CLI's stderr (its own errors, not the server's log). */
export const egiLines = (stderr: string): Array<string> => stderr.split("\n").filter((l) => l.startsWith("egi:"))

/** The CLI exits 2 with exactly one `egi:` line matching `needle`, never listening (a refused flag or variable). */
export const refused = async (c: Cli, needle: RegExp): Promise<void> => {
  const exit = await c.exit
  expect(exit.code, c.stderr()).toBe(2)
  const lines = egiLines(c.stderr())
  expect(lines, c.stderr()).toHaveLength(1)
  expect(lines[0]).toMatch(needle)
  expect(c.stderr()).not.toContain("listening on")
}
