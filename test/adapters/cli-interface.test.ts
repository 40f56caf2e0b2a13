/**
 * `egi serve --interface auto|egi|fetch|effect` (spec.md §8.5, §12, RUN-16):
 * the CLI serves fetch handlers, Effect HttpApps and HttpRouter/HttpApi
 * routes through their adapters, tells them by shape with `auto` and says
 * what it picked, and refuses an ambiguous export naming the flag. The real
 * CLI in a child process, on the wire over HTTP/1.1 and h2c.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { h2close, h2connect, h2request } from "../support/clients.ts"
import { type Cli, logLines, runCli } from "../support/cli.ts"

const dir = mkdtempSync(join(tmpdir(), "egi-interface-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const mod = (name: string, source: string): string => {
  const path = join(dir, name)
  writeFileSync(path, source)
  return path
}

/** Serves `args`, checks the picked line, runs `body` with the base URL, then SIGTERM and exit 0. */
const serving = async (args: ReadonlyArray<string>, picked: RegExp, body: (url: string) => Promise<void>): Promise<void> => {
  const cli: Cli = runCli(["serve", ...args, "--port", "0"])
  try {
    const { url } = await cli.listening()
    expect(logLines(cli.stderr()).find((l) => l.startsWith("serving "))).toMatch(picked)
    await body(url)
    cli.signal("SIGTERM")
    expect((await cli.exit).code).toBe(0)
  } finally {
    await cli.dispose()
  }
}

/** GET `path` over HTTP/1.1 (fetch) and h2c: both answers. */
const both = async (url: string, path: string): Promise<Array<[number, string]>> => {
  const h1 = await fetch(url + path)
  const session = await h2connect(url)
  try {
    const h2 = await h2request(session, { ":path": path })
    return [[h1.status, await h1.text()], [h2.status ?? 0, h2.body]]
  } finally {
    await h2close(session)
  }
}

describe("RUN-16: egi serve --interface", () => {
  it("RUN-16: auto serves a Hono app (an object with fetch) as a fetch handler and says so", () =>
    serving(["examples/hono.ts:hono"], /^serving a fetch handler \(--interface auto\)$/, async (url) => {
      expect(await both(url, "/")).toEqual([[200, "hello from Hono on EGI\n"], [200, "hello from Hono on EGI\n"]])
    }))

  it("RUN-16: auto serves an async function and a one-parameter function as fetch handlers", async () => {
    await serving([mod("async.mjs", "export default async (request) => new Response(new URL(request.url).pathname)\n")], /fetch handler/, async (url) => {
      expect(await both(url, "/a/b")).toEqual([[200, "/a/b"], [200, "/a/b"]])
    })
    await serving([mod("one.mjs", "export default (request) => new Response(request.method)\n")], /fetch handler/, async (url) => {
      expect(await both(url, "/")).toEqual([[200, "GET"], [200, "GET"]])
    })
  })

  it("RUN-16: auto serves a Layer of HttpRouter routes through EgiHttpServer, with the module's layer", () =>
    serving(["examples/effect-router.ts:Routes"], /^serving HttpRouter routes \(a Layer\) \(--interface auto\)$/, async (url) => {
      const [h1, h2] = await both(url, "/")
      expect([h1![0], h2![0]]).toEqual([200, 200])
      expect(h1![1]).toBe(h2![1])
    }))

  it("RUN-16: an HttpApi's routes: schema validation answers 400, a valid request 200 from the layer's service", () =>
    serving(["examples/effect-api.ts:ApiRoutes"], /HttpRouter routes/, async (url) => {
      const bad = await fetch(url + "/greet", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "", times: 9 }) })
      expect(bad.status).toBe(400)
      const ok = await fetch(url + "/greet", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "Ada", times: 1 }) })
      expect(ok.status).toBe(200)
      expect(await ok.json()).toHaveProperty("message")
    }))

  it("RUN-16: auto serves an Effect HttpApp export through fromHttpApp", () =>
    serving(
      ["test/fixtures/http-app.ts"],
      /^serving an Effect HttpApp \(--interface auto\)$/,
      async (url) => {
        expect(await both(url, "/")).toEqual([[200, "an HttpApp"], [200, "an HttpApp"]])
      }
    ))

  const refused = async (args: ReadonlyArray<string>, needle: RegExp): Promise<void> => {
    const cli = runCli(["serve", ...args, "--port", "0"])
    try {
      expect((await cli.exit).code).toBe(2)
      const lines = logLines(cli.stderr())
      expect(lines).toHaveLength(1)
      expect(lines[0]).toMatch(needle)
    } finally {
      await cli.dispose()
    }
  }

  it("RUN-16: auto refuses a function of two parameters (neither shape) with one line naming --interface; --interface fetch serves it", async () => {
    const path = mod("two.mjs", "export default (request, env) => new Response('two')\n")
    await refused([path], /export "default" of .*two\.mjs takes 2 parameters: .*--interface egi or --interface fetch/)
    await serving([path, "--interface", "fetch"], /^serving a fetch handler \(--interface fetch\)$/, async (url) => {
      expect(await both(url, "/")).toEqual([[200, "two"], [200, "two"]])
    })
  })

  it("RUN-16: --interface effect refuses an EGI app; --interface takes only auto, egi, fetch, effect", async () => {
    await refused(["examples/hello.ts", "--interface", "effect"], /is a function, not an Effect HttpApp or a Layer of HttpRouter routes/)
    await refused(["examples/hello.ts", "--interface", "wsgi"], /--interface takes auto, egi, fetch or effect, got "wsgi"/)
  })
})
