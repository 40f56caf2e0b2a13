/**
 * The launcher writes Node's compile cache once the server has started
 * (bin/egi.mjs), not only at exit: a server stopped by SIGKILL — as
 * orchestrators stop them — still leaves the cache for its next start,
 * which then holds ~25 MiB less and starts sooner.
 */
import { mkdtempSync, readdirSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { runCli } from "../support/cli.ts"

/** Files under `dir`, recursively. */
const filesUnder = (dir: string): Array<string> => readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name)

describe("the compile cache (bin/egi.mjs)", () => {
  const dirs: Array<string> = []
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
  })

  it("is written while the server runs: a server killed with SIGKILL leaves it for the next start", async () => {
    const cache = mkdtempSync(join(tmpdir(), "egi-compile-cache-"))
    dirs.push(cache)
    const cli = runCli(["serve", "examples/hello.ts", "--port", "0"], { env: { NODE_COMPILE_CACHE: cache } })
    try {
      await cli.listening(15_000)
      // Written within seconds of the start, while the server still runs.
      const deadline = Date.now() + 10_000
      while (filesUnder(cache).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250))
      expect(cli.child.exitCode).toBeNull()
      expect(filesUnder(cache).length).toBeGreaterThan(0)
    } finally {
      await cli.dispose()
    }
  }, 30_000)
})
