/**
 * `egi serve --log-level` (spec.md §8.5, RUN-25): Effect's
 * `References.MinimumLogLevel` for the server's context — the runner's
 * lines (text or through `--log-format`'s logger) and the app's own
 * `Effect.log` lines obey it. Against the real CLI in a child process.
 */
import { describe, expect, it } from "vitest"
import { freePort } from "../support/clients.ts"
import { type Cli, useClis } from "../support/cli.ts"

const cli = useClis()


/** GET `url` until it answers (a server that prints no `listening on` line). */
const getWhenUp = async (url: string, ms = 8000): Promise<string> => {
  const until = Date.now() + ms
  for (;;) {
    try {
      return await (await fetch(url)).text()
    } catch (cause) {
      if (Date.now() > until) throw cause
      await new Promise((r) => setTimeout(r, 100))
    }
  }
}

describe("egi serve --log-level", () => {
  it("RUN-25: --log-level debug shows the app's Effect.logDebug; the default (info) does not", async () => {
    const debug = cli(["serve", "test/fixtures/log-levels.ts", "--port", "0", "--log-format", "logfmt", "--log-level", "debug"])
    const m = await debug.waitFor("stdout", /listening on (http:\/\/127\.0\.0\.1:\d+)/, 8000)
    expect(await (await fetch(m[1]!)).text()).toBe("logged")
    await debug.waitFor("stdout", /app: a warning/)
    await debug.waitFor("stdout", /http\.request\.method=GET/)
    expect(debug.stdout()).toMatch(/level=DEBUG .*app: a debug line/)

    const info = cli(["serve", "test/fixtures/log-levels.ts", "--port", "0", "--log-format", "logfmt"])
    const n = await info.waitFor("stdout", /listening on (http:\/\/127\.0\.0\.1:\d+)/, 8000)
    expect(await (await fetch(n[1]!)).text()).toBe("logged")
    await info.waitFor("stdout", /http\.request\.method=GET/)
    expect(info.stdout()).toContain("app: a warning")
    expect(info.stdout()).not.toContain("app: a debug line")
  })

  it("RUN-25: --log-level warn (or EGI_LOG_LEVEL=warn) drops the runner's info and access lines, text or JSON, and keeps the app's warnings", async () => {
    for (const [args, env] of [
      [["--log-level", "warn"], undefined],
      [["--log-format", "json"], { EGI_LOG_LEVEL: "warn" }]
    ] as const) {
      const port = await freePort()
      const c = cli(["serve", "test/fixtures/log-levels.ts", "--port", String(port), ...args], env)
      expect(await getWhenUp(`http://127.0.0.1:${port}/`)).toBe("logged")
      await c.waitFor("stdout", /app: a warning/)
      c.signal("SIGTERM")
      expect((await c.exit).code).toBe(0)
      const all = c.stdout() + c.stderr()
      expect(all).not.toContain("listening on")
      expect(all).not.toContain("GET /")
      expect(all).not.toContain("shutdown complete")
      expect(all).not.toContain("app: a debug line")
    }
  })

  it("RUN-25: --log-level none prints nothing; a value outside the list is a usage error naming the flag", async () => {
    const port = await freePort()
    const c = cli(["serve", "test/fixtures/log-levels.ts", "--port", String(port), "--log-level", "none"])
    expect(await getWhenUp(`http://127.0.0.1:${port}/`)).toBe("logged")
    c.signal("SIGTERM")
    expect((await c.exit).code).toBe(0)
    expect(c.stdout() + c.stderr()).toBe("")

    const bad = cli(["serve", "test/fixtures/log-levels.ts", "--log-level", "verbose"])
    expect((await bad.exit).code).toBe(2)
    expect(bad.stderr()).toMatch(/^egi: --log-level takes trace, debug, info, warn, error or none, got "verbose"\n$/)
  })
})
