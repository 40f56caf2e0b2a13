/**
 * `egi serve`'s configuration (spec.md §8.5), against the real CLI in a
 * child process: every flag from its `EGI_*` variable, in the flag's units,
 * with the command line winning over the variable and the variable over
 * `--env-file` (RUN-17); values checked, never rounded; `--lifespan`
 * (RUN-20), `--factory`, `--app-dir`, `--env-file`, `--completions`.
 */
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { freePort, rawHttp } from "../support/clients.ts"
import { type Cli, egiLines, logLines, refused, useClis } from "../support/cli.ts"

const cli = useClis()

const dir = mkdtempSync(join(tmpdir(), "egi-cli-config-"))
const file = (name: string, text: string): string => {
  const path = join(dir, name)
  writeFileSync(path, text)
  return path
}

/** SIGTERM, then the drain timeout the `shutting down` line names (ms) and the exit code. */
const drainOf = async (c: Cli): Promise<{ readonly drainMs: number; readonly code: number | null }> => {
  c.signal("SIGTERM")
  const m = await c.waitFor("stderr", /shutting down: \d+ stream\(s\) in flight, drain timeout (\d+) ms/, 15_000)
  return { drainMs: Number(m[1]), code: (await c.exit).code }
}



describe("RUN-17: every flag from its EGI_* variable; the command line wins", () => {
  it("RUN-17: EGI_PORT sets the port, EGI_ACCESS_LOG=false turns the access log off (a boolean), EGI_DRAIN_TIMEOUT=0.5 is seconds (a duration, 500 ms)", async () => {
    const port = await freePort()
    const c = cli(["serve", "examples/hello.ts"], { EGI_PORT: String(port), EGI_ACCESS_LOG: "false", EGI_DRAIN_TIMEOUT: "0.5" })
    const listening = await c.listening(20_000)
    expect(listening.port).toBe(port)
    expect((await fetch(`${listening.url}/x`)).status).toBe(200)
    const { code, drainMs } = await drainOf(c)
    expect(drainMs).toBe(500)
    expect(code).toBe(0)
    expect(c.stdout()).not.toContain('"GET /x')
  })

  it("RUN-17: flags beat variables: --port 0 over EGI_PORT, --drain-timeout 0.25 over EGI_DRAIN_TIMEOUT, --access-log over EGI_ACCESS_LOG=0, even when the variable's value would be refused", async () => {
    const port = await freePort()
    const c = cli(["serve", "examples/hello.ts", "--port", "0", "--drain-timeout", "0.25", "--access-log", "--max-body-size", "10"], {
      EGI_PORT: String(port),
      EGI_DRAIN_TIMEOUT: "7",
      EGI_ACCESS_LOG: "0",
      EGI_MAX_BODY_SIZE: "not a number"
    })
    const listening = await c.listening(20_000)
    expect(listening.port).not.toBe(port)
    expect((await fetch(`${listening.url}/y`)).status).toBe(200)
    await c.waitFor("stdout", /"GET \/y HTTP\/1\.1" 200/)
    const { code, drainMs } = await drainOf(c)
    expect(drainMs).toBe(250)
    expect(code).toBe(0)
  })

  it("RUN-17: --env-file loads variables before any option is read; a variable already set wins over the file, a flag over both; a missing file is refused", async () => {
    const env = file("serve.env", "EGI_DRAIN_TIMEOUT=0.75\nEGI_ACCESS_LOG=no\nEGI_PORT=0\n")
    const fromFile = cli(["serve", "examples/hello.ts", "--env-file", env])
    const { url } = await fromFile.listening(20_000)
    expect((await fetch(`${url}/z`)).status).toBe(200)
    expect((await drainOf(fromFile)).drainMs).toBe(750)
    expect(fromFile.stdout()).not.toContain('"GET /z')

    const overridden = cli(["serve", "examples/hello.ts", `--env-file=${env}`], { EGI_DRAIN_TIMEOUT: "0.5" })
    await overridden.listening(20_000)
    expect((await drainOf(overridden)).drainMs).toBe(500)

    const flagged = cli(["serve", "examples/hello.ts", "--env-file", env, "--drain-timeout", "1"], { EGI_DRAIN_TIMEOUT: "0.5" })
    await flagged.listening(20_000)
    expect((await drainOf(flagged)).drainMs).toBe(1000)

    // A missing file named by EGI_ENV_FILE is a usage error. Named by --env-file on the command line, Node itself
    // refuses it before egi runs (it looks for --env-file even after the script: nodejs/node#54232): exit 9, never listening.
    await refused(cli(["serve", "examples/hello.ts"], { EGI_ENV_FILE: join(dir, "missing.env") }), /^egi: --env-file: cannot read .*missing\.env: ENOENT/)
    const missing = cli(["serve", "examples/hello.ts", "--env-file", join(dir, "missing.env")])
    expect((await missing.exit).code).not.toBe(0)
    expect(missing.stderr()).toContain("missing.env")
    expect(missing.stderr()).not.toContain("listening on")
  })

  it("RUN-17: a variable's value is checked as the flag's is: EGI_PORT=8000.5, EGI_LIFESPAN=maybe and EGI_H2C=perhaps exit 2 with one egi: line naming the variable", async () => {
    await Promise.all([
      refused(cli(["serve", "examples/hello.ts"], { EGI_PORT: "8000.5" }), /^egi: EGI_PORT takes an integer from 0 to 65535, got "8000\.5"$/),
      refused(cli(["serve", "examples/hello.ts", "--port", "0"], { EGI_LIFESPAN: "maybe" }), /^egi: EGI_LIFESPAN takes auto, on or off, got "maybe"$/),
      refused(cli(["serve", "examples/hello.ts", "--port", "0"], { EGI_H2C: "perhaps" }), /^egi: EGI_H2C takes true or false .*got "perhaps"$/)
    ])
  })

  it("RUN-40 RUN-17: --http1-codec and EGI_HTTP1_CODEC choose what serves HTTP/1.1; another value exits 2", async () => {
    const dateField = async (c: Cli): Promise<string | undefined> => {
      const { port } = await c.listening(20_000)
      const r = await rawHttp(port, ["GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"])
      return /\r\n(date): /i.exec(r.text)?.[1]
    }
    // The own codec writes its fields in lower case, node:http capitalizes them (spec.md §8.7).
    expect(await dateField(cli(["serve", "examples/hello.ts", "--port", "0"]))).toBe("date")
    expect(await dateField(cli(["serve", "examples/hello.ts", "--port", "0"], { EGI_HTTP1_CODEC: "node" }))).toBe("Date")
    expect(await dateField(cli(["serve", "examples/hello.ts", "--port", "0", "--http1-codec", "egi"], { EGI_HTTP1_CODEC: "node" }))).toBe("date")
    await refused(cli(["serve", "examples/hello.ts", "--port", "0", "--http1-codec", "llhttp"]), /^egi: --http1-codec takes egi or node, got "llhttp"$/)
  })

  it("RUN-17: EGI_APP names the module when the command line does not", async () => {
    const c = cli(["serve", "--port", "0"], { EGI_APP: "examples/hello.ts" })
    const { url } = await c.listening(20_000)
    expect((await fetch(url)).status).toBe(200)
  })
})

describe("CLI: values are checked, never rounded", () => {
  it("CLI: --port 8000.5, --max-body-size 1e3, --sync-workers 1.5 and --drain-timeout 0.0005 exit 2 with one egi: line each", async () => {
    await Promise.all([
      refused(cli(["serve", "examples/hello.ts", "--port", "8000.5"]), /^egi: --port takes an integer from 0 to 65535, got "8000\.5"$/),
      refused(cli(["serve", "examples/hello.ts", "--port", "0", "--max-body-size", "1e3"]), /^egi: --max-body-size takes an integer/),
      refused(cli(["serve", "examples/legacy.ts:legacy", "--port", "0", "--sync-workers", "1.5"]), /^egi: --sync-workers takes an integer from 1 to 1024/),
      refused(cli(["serve", "examples/hello.ts", "--port", "0", "--drain-timeout", "0.0005"]), /^egi: --drain-timeout takes seconds .*at most 3 decimals/)
    ])
  })

  it("CLI: --completions bash prints effect/cli's completion script for egi serve and its flags, exit 0", async () => {
    const c = cli(["--completions", "bash"])
    expect((await c.exit).code).toBe(0)
    expect(c.stdout()).toContain("serve")
    expect(c.stdout()).toContain("--drain-timeout")
    expect(c.stderr()).toBe("")
  })
})

describe("RUN-20: egi serve --lifespan", () => {
  it("RUN-20: --lifespan on with an app without lifespan support exits 1 with one egi: line, never listening", async () => {
    const c = cli(["serve", "examples/hello.ts", "--port", "0", "--lifespan", "on"])
    const exit = await c.exit
    expect(exit.code, c.stderr()).toBe(1)
    const lines = egiLines(c.stderr())
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(/^egi: StartupFailed: lifespan is on: not supported by the app/)
    expect(c.stderr()).not.toContain("listening on")
  })

  it("RUN-20: --lifespan off never calls the app's lifespan: no startup, no shutdown, an empty state; --lifespan on serves an app with lifespan", async () => {
    const off = cli(["serve", "test/fixtures/lifespan-app.ts", "--port", "0", "--lifespan", "off"])
    const { url } = await off.listening(20_000)
    expect(await (await fetch(`${url}/state`)).text()).toBe("{}")
    expect((await drainOf(off)).code).toBe(0)
    expect(off.stderr()).not.toContain("fixture:")
    expect(logLines(off.stderr()).filter((l) => l.includes("lifespan"))).toEqual([])

    const on = cli(["serve", "test/fixtures/lifespan-app.ts", "--port", "0", "--lifespan", "on"])
    const served = await on.listening(20_000)
    expect(JSON.parse(await (await fetch(`${served.url}/state`)).text())).toMatchObject({ db: "ready" })
  })
})

describe("CLI: --factory and --app-dir", () => {
  it("CLI: --factory calls the export once and serves what it returns (sync or async); without --factory a factory is refused; one that throws exits 2", async () => {
    const mod = file(
      "factory.mjs",
      `let made = 0
export const calls = () => made
export default () => { made += 1; return { fetch: () => new Response("made " + made) } }
export const later = async () => { made += 1; return (request) => new Response("later " + made) }
export const broken = () => { throw new Error("no database (fixture)") }
`
    )
    const c = cli(["serve", mod, "--factory", "--port", "0"])
    const { url } = await c.listening(20_000)
    expect(logLines(c.stderr()).find((l) => l.startsWith("serving "))).toBe("serving a fetch handler (--interface auto)")
    expect([await (await fetch(url)).text(), await (await fetch(url)).text()]).toEqual(["made 1", "made 1"])

    const async = cli(["serve", `${mod}:later`, "--port", "0"], { EGI_FACTORY: "true" })
    const later = await async.listening(20_000)
    expect(await (await fetch(later.url)).text()).toBe("later 1")

    await Promise.all([
      refused(cli(["serve", mod, "--port", "0"]), /^egi: export "default" of .*factory\.mjs takes 0 parameters/),
      refused(cli(["serve", `${mod}:broken`, "--factory", "--port", "0"]), /^egi: app factory "broken" of .*factory\.mjs failed: no database \(fixture\)$/),
      refused(cli(["serve", `${mod}:calls`, "--factory", "--port", "0"]), /^egi: what app factory "calls" of .*factory\.mjs returned is a number, not an app/)
    ])
  })

  it("CLI: --app-dir resolves the module from that directory; one that is not a directory exits 2", async () => {
    const c = cli(["serve", "hello.ts", "--app-dir", "examples", "--port", "0"])
    const { url } = await c.listening(20_000)
    expect((await fetch(url)).status).toBe(200)
    await refused(cli(["serve", "hello.ts", "--app-dir", "nowhere", "--port", "0"]), /^egi: --app-dir: nowhere is not a directory$/)
  })
})
