/**
 * The launcher holds V8's young generation at its initial size while the
 * server starts (bin/egi.mjs): loading effect, the CLI and the app would
 * otherwise grow the new space to its maximum (32 MiB on Node 24) and keep
 * it resident at idle. Once the server listens, the new space grows under
 * load, up to 32 MiB, where V8 would go on to 128 MiB, all of it resident.
 * EGI_V8_NEW_SPACE=1 keeps V8's default. The launcher steers by a timer, not
 * by a GC observer: node builds an entry for every GC an observer is told of
 * (0.10–0.16 µs per request under load).
 */
import { execFile } from "node:child_process"
import * as http2 from "node:http2"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { type Cli, runCli } from "../support/cli.ts"

const PROBE = fileURLToPath(new URL("../fixtures/new-space-probe.mjs", import.meta.url))
const GC_OBSERVER_PROBE = fileURLToPath(new URL("../fixtures/gc-observer-probe.mjs", import.meta.url))
const MiB = 1024 * 1024

/** `egi serve examples/hello.ts` with the probe, on h2c. */
const start = (env: Record<string, string> = {}): Cli =>
  runCli(["serve", "examples/hello.ts", "--port", "0", "--h2c", "--no-access-log"], { env: { NODE_OPTIONS: `--import ${PROBE}`, ...env } })

/** The new space's committed size (bytes) in the probe's next report. */
const nextReport = async (cli: Cli): Promise<number> => {
  const seen = (cli.stderr().match(/new-space-probe/g) ?? []).length
  const deadline = Date.now() + 15_000
  while (Date.now() < deadline) {
    const all = [...cli.stderr().matchAll(/new-space-probe (-?\d+)/g)]
    if (all.length > seen) return Number(all[all.length - 1]![1])
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`no new-space-probe report\n${cli.stderr()}`)
}

/** `n` GETs, 32 at a time, on one HTTP/2 connection. */
const load = async (url: string, n: number): Promise<void> => {
  const session = http2.connect(url)
  try {
    let next = 0
    const one = (): Promise<void> =>
      new Promise((resolve, reject) => {
        const req = session.request({ ":path": "/" })
        req.on("error", reject).resume().on("end", resolve)
        req.end()
      })
    const lane = async (): Promise<void> => {
      while (next++ < n) await one()
    }
    await Promise.all(Array.from({ length: 32 }, lane))
  } finally {
    session.close()
  }
}

/** `h2load -c 16 -m 16 -n n` against `url` (h2load from nghttp2-client, which scripts/setup.sh --test-tools installs). */
const h2load = (url: string, n: number): Promise<void> =>
  new Promise((resolve, reject) => {
    execFile("h2load", ["-c", "16", "-m", "16", "-n", String(n), `${url}/`], (error, stdout) => {
      if (error) return reject(error)
      if (!/ 0 failed/.test(stdout)) return reject(new Error(`h2load saw failures:\n${stdout}`))
      resolve()
    })
  })

describe("V8's new space (bin/egi.mjs)", () => {
  it("stays at its initial size while the server starts (EGI_V8_NEW_SPACE=1: V8's default grows it)", async () => {
    const measure = async (env: Record<string, string>): Promise<number> => {
      const cli = start(env)
      try {
        await cli.listening(15_000)
        return await nextReport(cli)
      } finally {
        await cli.dispose()
      }
    }
    const held = await measure({})
    const grown = await measure({ EGI_V8_NEW_SPACE: "1" })
    expect(held).toBeGreaterThan(0)
    expect(held).toBeLessThanOrEqual(4 * MiB)
    // The contrast shows the probe measures what the launcher changes.
    expect(grown).toBeGreaterThan(held)
  }, 60_000)

  it("grows under load as soon as the server listens", async () => {
    const cli = start()
    try {
      const { url } = await cli.listening(15_000)
      await load(url, 20_000)
      expect(await nextReport(cli)).toBeGreaterThan(4 * MiB)
    } finally {
      await cli.dispose()
    }
  }, 60_000)

  it("stops growing at 32 MiB under sustained load (EGI_V8_NEW_SPACE=1: V8's default goes past it)", async () => {
    const measure = async (env: Record<string, string>): Promise<number> => {
      const cli = start(env)
      try {
        const { url } = await cli.listening(15_000)
        await h2load(url, 100_000)
        return await nextReport(cli)
      } finally {
        await cli.dispose()
      }
    }
    const capped = await measure({})
    const uncapped = await measure({ EGI_V8_NEW_SPACE: "1" })
    expect(capped).toBeGreaterThan(4 * MiB)
    expect(capped).toBeLessThanOrEqual(32 * MiB)
    expect(uncapped).toBeGreaterThan(32 * MiB)
  }, 120_000)

  it("is steered without observing GCs: under load no PerformanceObserver is told of a GC", async () => {
    const cli = runCli(["serve", "examples/hello.ts", "--port", "0", "--h2c", "--no-access-log"], { env: { NODE_OPTIONS: `--import ${GC_OBSERVER_PROBE}` } })
    try {
      const { url } = await cli.listening(15_000)
      await h2load(url, 50_000)
      cli.signal("SIGUSR2")
      const deadline = Date.now() + 10_000
      let report: RegExpMatchArray | null = null
      while ((report = /gc-observer-probe (\d+) (\d+)/.exec(cli.stderr())) === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
      expect(report, cli.stderr()).not.toBeNull()
      // Steered by a GC observer, a callback came after every few scavenges (hundreds here).
      expect(Number(report![1])).toBe(0)
      expect(Number(report![2])).toBeGreaterThan(4 * MiB)
    } finally {
      await cli.dispose()
    }
  }, 60_000)
})
