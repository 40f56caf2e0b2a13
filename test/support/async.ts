/**
 * Test support: small promise utilities for tests that coordinate an app
 * running in the server with a client in the test.
 */
import { readFileSync } from "node:fs"
import { execFile } from "node:child_process"

/** A promise with its resolver exposed. */
export interface Deferred<A> {
  readonly promise: Promise<A>
  readonly resolve: (value: A) => void
  readonly isDone: () => boolean
}

export const deferred = <A = void>(): Deferred<A> => {
  let done = false
  let resolve!: (value: A) => void
  const promise = new Promise<A>((r) => {
    resolve = (value) => {
      done = true
      r(value)
    }
  })
  return { promise, resolve, isDone: () => done }
}

/** Rejects with `label` when `promise` does not settle within `ms`. */
export const within = <A>(promise: Promise<A>, ms: number, label: string): Promise<A> => {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${label}`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** What a finished child process left. */
export interface ProcResult {
  /** Exit code; `null` when killed by a signal (e.g. the timeout). */
  readonly code: number | null
  readonly stdout: Buffer
  readonly stderr: string
}

/** Runs `file args` (no shell) with a hard timeout; never rejects on a non-zero exit. */
export const run = (file: string, args: ReadonlyArray<string>, timeoutMs = 10_000): Promise<ProcResult> =>
  new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { encoding: "buffer", timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error !== null && typeof (error as NodeJS.ErrnoException).code === "string") {
          // spawn failure (ENOENT…), not an exit status
          return reject(error)
        }
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : null
        resolve({ code, stdout, stderr: stderr.toString("latin1") })
      }
    )
  })

/**
 * Waits until `read()` stops changing (same value 150 ms apart, at most ~3 s),
 * then returns two samples taken 500 ms apart: equal when something is held
 * still (backpressure), apart when it kept moving.
 */
export const settle = async (read: () => number): Promise<[number, number]> => {
  let prev = read()
  for (let i = 0; i < 20; i++) {
    await sleep(150)
    const now = read()
    if (now === prev) break
    prev = now
  }
  const first = read()
  await sleep(500)
  return [first, read()]
}

/** Resident set size of process `pid`, bytes (/proc/<pid>/status VmRSS; Linux). */
export const rssOf = (pid: number): number =>
  Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) * 1024

/**
 * Runs `during` while sampling process `pid`'s RSS every 20 ms: its result,
 * the RSS before, and the highest RSS seen (bytes).
 */
export const rssPeakDuring = async <A>(pid: number, during: () => Promise<A>): Promise<{ readonly result: A; readonly baseline: number; readonly peak: number }> => {
  const baseline = rssOf(pid)
  let peak = baseline
  const sampler = setInterval(() => (peak = Math.max(peak, rssOf(pid))), 20)
  try {
    const result = await during()
    return { result, baseline, peak: Math.max(peak, rssOf(pid)) }
  } finally {
    clearInterval(sampler)
  }
}

/** `bytes` bytes of a fixed, non-repeating-per-byte pattern, for uploads whose hash is checked. */
export const patternBlock = (bytes: number): Buffer => {
  const block = Buffer.alloc(bytes)
  for (let i = 0; i < block.length; i++) block[i] = (i * 31 + 7) & 0xff
  return block
}

