/**
 * Apps whose call does not return an Effect (spec.md §5, rule RUN-11): a
 * fetch handler exported by mistake (it returns a Promise that rejects, or
 * throws when called), `undefined`, a plain value. Each stream gets 500 and
 * one log line naming what came back; the process keeps serving, and a
 * rejected Promise never reaches the process as an unhandled rejection. The
 * lifespan call and WebSocket calls are contained the same way, and the CLI
 * refuses the exports it can tell are not apps (exit 2).
 */
import { Effect } from "effect"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import WebSocket from "ws"
import type { App } from "../../src/protocol/app.ts"
import { completeResponse, h2close, h2connect, h2request, rawHttp, statusOf, until } from "../support/clients.ts"
import { logLines, runCli } from "../support/cli.ts"
import { useServer } from "../support/server.ts"

/** A fetch handler, as Bun/Deno/Workers take it: `async (request) => Response`. */
const fetchHandler = async (request: { readonly url: string }): Promise<Response> => {
  const url = new URL(request.url) // TypeError: Invalid URL, called with an EGI scope
  return new Response(url.pathname)
}

/** The same handler, not async: it throws when called. */
const syncFetchHandler = (request: { readonly url: string }): Response => {
  const url = new URL(request.url)
  return new Response(url.pathname)
}

const unhandled: Array<unknown> = []
const onUnhandled = (reason: unknown): void => void unhandled.push(reason)
beforeAll(() => void process.on("unhandledRejection", onUnhandled))
afterAll(() => void process.off("unhandledRejection", onUnhandled))

/** Lets a rejected Promise's rejection reach the process (it would have by now). */
const settle = () => new Promise<void>((resolve) => setTimeout(resolve, 20))

const get = (port: number, path: string) =>
  rawHttp(port, [`GET ${path} HTTP/1.1\r\nhost: x\r\n\r\n`], { done: completeResponse })

describe("RUN-11: an app call that returns something other than an Effect", () => {
  // Called for every scope, lifespan first: the lifespan call must not crash start().
  const app = ((scope: { readonly type: string; readonly path?: string }, _receive: unknown, send: unknown) => {
    switch (scope.type === "lifespan" ? "/promise" : scope.path) {
      case "/promise":
        return fetchHandler(scope as never)
      case "/throw":
        return syncFetchHandler(scope as never)
      case "/undefined":
        return undefined
      case "/object":
        return { status: 200 }
      default:
        return Effect.gen(function*() {
          const s = send as (e: unknown) => Effect.Effect<void>
          yield* s({ type: "http.response.start", status: 200 })
          yield* s({ type: "http.response.body", body: new TextEncoder().encode("still serving") })
        })
    }
  }) as unknown as App

  const server = useServer(app)
  afterEach(() => {
    server().lines.error.length = 0
  })

  it("RUN-11 RUN-5: a lifespan call that returns a Promise is lifespan unsupported, one line, no unhandled rejection", async () => {
    await settle()
    expect(unhandled).toEqual([])
    const line = server().lines.error.concat(server().lines.info).filter((l) => l.startsWith("lifespan:"))
    expect(line).toHaveLength(1)
    expect(line[0]).toContain("returned a Promise, not an Effect")
  })

  it("RUN-11 RUN-2: a fetch handler whose Promise rejects gives 500 on HTTP/1.1, one log line, and the server keeps serving", async () => {
    for (let i = 0; i < 2; i++) {
      const res = await get(server().port, "/promise")
      expect(statusOf(res.text)).toBe(500)
    }
    await settle()
    expect(unhandled).toEqual([])
    expect(server().lines.error).toHaveLength(2)
    for (const l of server().lines.error) {
      expect(l).toMatch(/GET \/promise HTTP\/1\.1: RUN-11: the app returned a Promise, not an Effect/)
      expect(l).not.toContain("\n")
    }
    expect(statusOf((await get(server().port, "/ok")).text)).toBe(200)
  })

  it("RUN-11 RUN-2: undefined and a plain object give 500 on HTTP/2, naming what came back", async () => {
    const session = await h2connect(server().url)
    try {
      const a = await h2request(session, { ":path": "/undefined" })
      const b = await h2request(session, { ":path": "/object" })
      const c = await h2request(session, { ":path": "/promise" })
      const ok = await h2request(session, { ":path": "/ok" })
      expect([a.status, b.status, c.status, ok.status]).toEqual([500, 500, 500, 200])
      expect(ok.body).toBe("still serving")
    } finally {
      await h2close(session)
    }
    await settle()
    expect(unhandled).toEqual([])
    expect(server().lines.error).toHaveLength(3)
    expect(server().lines.error[0]).toContain("RUN-11: the app returned undefined, not an Effect")
    expect(server().lines.error[1]).toContain("RUN-11: the app returned an object (Object), not an Effect")
    expect(server().lines.error[2]).toContain("RUN-11: the app returned a Promise, not an Effect")
  })

  it("RUN-2: a fetch handler that throws when called gives 500 and the server keeps serving", async () => {
    expect(statusOf((await get(server().port, "/throw")).text)).toBe(500)
    expect(statusOf((await get(server().port, "/ok")).text)).toBe(200)
    expect(server().lines.error).toHaveLength(1)
    expect(server().lines.error[0]).toContain("Invalid URL")
  })

  it("RUN-11 WS-8: a WebSocket call that returns a Promise gets 500 for its handshake", async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${server().port}/promise`)
    const status = await new Promise<number>((resolve, reject) => {
      ws.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0))
      ws.on("open", () => reject(new Error("the handshake was accepted")))
      ws.on("error", () => {})
    })
    ws.terminate()
    expect(status).toBe(500)
    await settle()
    expect(unhandled).toEqual([])
    await until(() => server().lines.error.length === 1, "the error line")
    expect(server().lines.error[0]).toContain("RUN-11: the app returned a Promise, not an Effect")
  })
})

describe("RUN-11: the CLI refuses exports it can tell are not EGI apps", () => {
  const dir = mkdtempSync(join(tmpdir(), "egi-non-effect-"))
  const mod = (name: string, source: string): string => {
    const path = join(dir, name)
    writeFileSync(path, source)
    return path
  }
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  const refused = async (args: ReadonlyArray<string>, needle: RegExp): Promise<void> => {
    const cli = runCli(["serve", ...args, "--port", "0"])
    try {
      const exit = await cli.exit
      expect(exit.code).toBe(2)
      const lines = logLines(cli.stderr())
      expect(lines).toHaveLength(1)
      expect(lines[0]).toMatch(needle)
    } finally {
      await cli.dispose()
    }
  }

  it("RUN-11: --interface egi: an async function export (a fetch handler) → exit 2", () =>
    refused(
      [mod("fetch.mjs", "export default async (request) => new Response(new URL(request.url).pathname)\n"), "--interface", "egi"],
      /export "default" of .*fetch\.mjs is an async function: it returns a Promise, not an Effect/
    ))

  it("RUN-11: --interface egi: a one-parameter function export (request) → exit 2", () =>
    refused(
      [mod("one.mjs", "export default (request) => fetch(request)\n"), "--interface", "egi"],
      /export "default" of .*one\.mjs takes 1 parameter/
    ))

  it("RUN-11: --interface egi: an object with a fetch method (export default { fetch }) → exit 2", () =>
    refused(
      [mod("object.mjs", "export default { fetch(request) { return new Response('hi') } }\n"), "--interface", "egi"],
      /export "default" of .*object\.mjs is an object with a fetch method, not an EGI app \(serve it with --interface fetch/
    ))

  it("RUN-11: a named export that is not a function → exit 2", () =>
    refused(
      [`${mod("value.mjs", "export const app = 42\n")}:app`],
      /export "app" of .*value\.mjs is a number, not an app/
    ))

  it("RUN-11 RUN-5: a served process whose app returns a Promise answers 500 and keeps running", async () => {
    // Three parameters and not async: nothing to tell at load time.
    const path = mod(
      "late.mjs",
      "export default (scope, receive, send) => (async () => { new URL(scope.url) })()\n"
    )
    const cli = runCli(["serve", path, "--port", "0"])
    try {
      const { port } = await cli.listening()
      for (let i = 0; i < 3; i++) expect(statusOf((await get(port, "/")).text)).toBe(500)
      await cli.waitFor("stderr", /RUN-11: the app returned a Promise, not an Effect[^\n]*\n(.|\n)*RUN-11(.|\n)*RUN-11/)
      expect(cli.child.exitCode).toBeNull()
      expect(cli.stderr()).not.toContain("Invalid URL")
      const at = cli.signal("SIGTERM")
      const exit = await cli.exit
      expect(exit.code).toBe(0)
      expect(exit.at - at).toBeLessThan(5000)
    } finally {
      await cli.dispose()
    }
  })
})
