/**
 * `egi serve --reload` (spec.md §8.5, RUN-24): the CLI serves from a child
 * process and restarts it when a source file under `--reload-dir` changes,
 * with a line naming the file; a module that no longer loads (a syntax
 * error) keeps the old server up and prints the error; fixed, the new code
 * is served. Against the real CLI, on a temporary copy of an app.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs"
import * as net from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { freePort } from "../support/clients.ts"
import { type Cli, useClis } from "../support/cli.ts"

const cli = useClis()


/** A fetch-handler app (no imports outside its folder) answering what `message.ts` exports. */
const appDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), "egi-reload-"))
  writeFileSync(join(dir, "app.ts"), `import { message } from "./lib/message.ts"\nexport default (_request: Request) => new Response(message)\n`)
  mkdirSync(join(dir, "lib"))
  writeFileSync(join(dir, "lib", "message.ts"), `export const message = "one"\n`)
  return dir
}

/** GET `url` until it answers `want` (the restart takes a moment); fails after `ms`. */
const until = async (url: string, want: string, ms = 15_000): Promise<void> => {
  const end = Date.now() + ms
  let last = ""
  while (Date.now() < end) {
    try {
      last = await (await fetch(url)).text()
      if (last === want) return
    } catch (cause) {
      last = String(cause)
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`${url} did not answer ${JSON.stringify(want)} within ${ms} ms; last: ${last}`)
}

describe("egi serve --reload", () => {
  it("RUN-24: an edit restarts the server with the new code; a syntax error keeps the old server answering and prints the error; the fix is served", async () => {
    const dir = appDir()
    const port = await freePort()
    const c = cli(["serve", join(dir, "app.ts"), "--reload", "--port", String(port)])
    await c.waitFor("stderr", /reload: watching .*egi-reload-/, 8000)
    await c.listening()
    const url = `http://127.0.0.1:${port}/`
    expect(await (await fetch(url)).text()).toBe("one")

    writeFileSync(join(dir, "lib", "message.ts"), `export const message = "two"\n`)
    await c.waitFor("stderr", /reload: .*lib\/message\.ts changed/, 8000)
    await until(url, "two")

    // A syntax error: the check fails, the old server keeps answering.
    writeFileSync(join(dir, "lib", "message.ts"), `export const message = "three\n`)
    await c.waitFor("stderr", /error reload: the app does not load; the old server keeps serving[^\n]*\n[^]*message\.ts:1[^]*egi: cannot load [^\n]*: Unterminated string constant/, 10_000)
    for (let i = 0; i < 5; i++) expect(await (await fetch(url)).text()).toBe("two")

    writeFileSync(join(dir, "lib", "message.ts"), `export const message = "four"\n`)
    await until(url, "four")
    // Files that are not sources change nothing.
    const restarts = c.stderr().split("restarting the server").length
    writeFileSync(join(dir, "notes.txt"), "x")
    await new Promise((r) => setTimeout(r, 800))
    expect(c.stderr().split("restarting the server").length).toBe(restarts)

    c.signal("SIGTERM")
    expect((await c.exit).code).toBe(0)
    // The server child drained and is gone: the port is free.
    await new Promise<void>((resolve, reject) => {
      const s = net.createServer().once("error", reject).listen(port, "127.0.0.1", () => s.close(() => resolve()))
    })
  }, 60_000)

  it("RUN-24: --reload-dir (comma-separated, repeatable) picks the watched folders; an edit elsewhere changes nothing", async () => {
    const dir = appDir()
    const port = await freePort()
    const c = cli(["serve", "app.ts", "--app-dir", dir, "--reload", "--reload-dir", `${join(dir, "lib")},${join(dir, "lib")}`, "--reload-dir", join(dir, "lib"), "--port", String(port)])
    await c.listening()
    const url = `http://127.0.0.1:${port}/`
    writeFileSync(join(dir, "app.ts"), `export default (_request: Request) => new Response("outside")\n`)
    await new Promise((r) => setTimeout(r, 800))
    expect(await (await fetch(url)).text()).toBe("one")
    writeFileSync(join(dir, "lib", "message.ts"), `export const message = "inside"\n`)
    await until(url, "outside")
    // The reloader killed outright: its server child, left without the IPC channel, drains and exits.
    c.child.kill("SIGKILL")
    await c.exit
    const end = Date.now() + 10_000
    for (;;) {
      const free = await new Promise<boolean>((resolve) => {
        const s = net.createServer().once("error", () => resolve(false)).listen(port, "127.0.0.1", () => s.close(() => resolve(true)))
      })
      if (free) break
      if (Date.now() > end) throw new Error("the server child outlived the reloader")
      await new Promise((r) => setTimeout(r, 100))
    }
  }, 60_000)

  it("RUN-24: --reload takes no --workers, and a --reload-dir that is not a directory is refused (exit 2)", async () => {
    const dir = appDir()
    const workers = cli(["serve", join(dir, "app.ts"), "--reload", "--workers", "2"])
    expect((await workers.exit).code).toBe(2)
    expect(workers.stderr()).toBe("egi: --reload restarts one server process: it takes no --workers\n")
    const missing = cli(["serve", join(dir, "app.ts"), "--reload", "--reload-dir", join(dir, "nope")])
    expect((await missing.exit).code).toBe(2)
    expect(missing.stderr()).toMatch(/^egi: --reload-dir: .*nope is not a directory\n$/)
  })
})
