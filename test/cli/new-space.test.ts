/**
 * The launcher holds V8's young generation at its initial size while the
 * server starts (bin/egi.mjs): loading effect, the CLI and the app would
 * otherwise grow the new space to its maximum (32 MiB on Node 24) and keep
 * it resident at idle. EGI_V8_NEW_SPACE=1 keeps V8's default.
 */
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { runCli } from "../support/cli.ts"

const PROBE = fileURLToPath(new URL("../fixtures/new-space-probe.mjs", import.meta.url))
const MiB = 1024 * 1024

/** The new space's committed size (bytes) 3 s after `egi serve examples/hello.ts` started, with `env`. */
const newSpaceAtIdle = async (env: Record<string, string>): Promise<number> => {
  const cli = runCli(["serve", "examples/hello.ts", "--port", "0"], { env: { NODE_OPTIONS: `--import ${PROBE}`, ...env } })
  try {
    await cli.listening(15_000)
    const m = await cli.waitFor("stderr", /new-space-probe (-?\d+)/, 15_000)
    return Number(m[1])
  } finally {
    await cli.dispose()
  }
}

describe("V8's new space at idle (bin/egi.mjs)", () => {
  it("stays at its initial size while the server starts, and grows with V8's default when EGI_V8_NEW_SPACE=1", async () => {
    const held = await newSpaceAtIdle({})
    const grown = await newSpaceAtIdle({ EGI_V8_NEW_SPACE: "1" })
    expect(held).toBeGreaterThan(0)
    expect(held).toBeLessThanOrEqual(4 * MiB)
    // The contrast shows the probe measures what the launcher changes.
    expect(grown).toBeGreaterThan(held)
  }, 60_000)
})
