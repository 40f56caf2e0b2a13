/**
 * Every benchmark script that takes options answers `--help` with its usage
 * (its first line names the script) and exits 0, without starting a server.
 */
import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"

const ROOT = fileURLToPath(new URL("../..", import.meta.url))

const help = (script: string): Promise<{ code: number; stdout: string }> =>
  new Promise((resolve) => {
    execFile(process.execPath, [`bench/${script}`, "--help"], { cwd: ROOT, timeout: 20_000 }, (error, stdout) => {
      resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : 1, stdout })
    })
  })

describe("bench scripts: --help", () => {
  for (const script of ["run.ts", "peers.ts", "streams.ts", "ws.ts", "workers.ts", "upload-rss.ts", "effect-floor.ts", "in-process.ts"]) {
    it(`${script} --help prints its usage and exits 0`, async () => {
      const { code, stdout } = await help(script)
      expect(code).toBe(0)
      expect(stdout).toMatch(new RegExp(`bench/${script.replace(".", "\\.")}`))
    })
  }
})
