/**
 * The worker pool (spec.md §10.4, §10.7): timeouts, replacement, an event
 * loop that keeps serving while every worker blocks, and `egi serve
 * --sync-workers`.
 */
import { Effect } from "effect"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Worker } from "node:worker_threads"
import { describe, expect, it } from "vitest"
import type { App } from "../../src/protocol/app.ts"
import { poolDefaults, WorkerPool } from "../../src/shim/pool.ts"
import { fromClassic } from "../../src/shim/shim.ts"
import { isChunk, type RequestData, type RunMessage } from "../../src/shim/wire.ts"
import { until } from "../support/clients.ts"
import { runCli } from "../support/cli.ts"
import { cancel, closeSession, connect, request } from "../support/h2client.ts"
import { useServer, useSession } from "../support/server.ts"

const FIXTURE = new URL("./fixtures/classic-app.ts", import.meta.url).href
const quiet = { error: () => {}, info: () => {} }
const hello = new TextEncoder().encode("async hello")

describe("timeouts and replacement", () => {
  const classic = fromClassic({ module: FIXTURE, export: "app" }, { workers: 1, timeout: 300, logger: quiet })
  const server = useServer(classic)
  const session = useSession(server)

  it("CLASSIC-9: app code that spins past the timeout gets 504; its worker is replaced and the next request is served", async () => {
    const spun = await request(session(), { ":method": "GET", ":path": "/spin" })
    expect(spun.status).toBe(504)
    expect(server().lines.error.some((l) => l.includes("ClassicTimeoutError"))).toBe(true)
    const next = await request(session(), { ":method": "GET", ":path": "/environ" })
    expect(next.status).toBe(200)
    expect(classic.pool.size()).toBe(1)
  })

  it("CLASSIC-9: a timeout after the head went out resets the stream (INTERNAL_ERROR)", async () => {
    const r = await request(session(), { ":method": "GET", ":path": "/spin-after-head" })
    expect(r.status).toBe(200)
    expect(r.body.toString()).toBe("partial")
    expect(r.rstCode).toBe(2)
    const next = await request(session(), { ":method": "GET", ":path": "/environ" })
    expect(next.status).toBe(200)
  })

  it("CLASSIC-9: time spent waiting for the client's body does not count towards the timeout", async () => {
    const stream = session().request({ ":method": "POST", ":path": "/hash" })
    stream.write(new Uint8Array(10))
    await new Promise((r) => setTimeout(r, 700))
    stream.end(new Uint8Array(10))
    const body = await new Promise<string>((resolve) => {
      let text = ""
      stream.on("data", (c: Buffer) => (text += c.toString()))
      stream.on("end", () => resolve(text))
    })
    expect(JSON.parse(body).bytes).toBe(20)
  })

  it("CLASSIC-8: a request queued on a busy worker whose client leaves before it starts is never run", async () => {
    const dir = mkdtempSync(join(tmpdir(), "egi-pool-"))
    try {
      const file = join(dir, "marks")
      const blocking = request(session(), { ":method": "GET", ":path": "/block?ms=200" })
      await new Promise((r) => setTimeout(r, 50))
      const queued = session().request({ ":method": "GET", ":path": "/close?mode=ok", "x-marks": file })
      queued.on("error", () => {})
      await new Promise((r) => setTimeout(r, 20))
      cancel(queued)
      expect((await blocking).status).toBe(200)
      const after = await request(session(), { ":method": "GET", ":path": "/close?mode=after", "x-marks": file })
      expect(after.body.toString()).toBe("ab")
      expect(readFileSync(file, "utf8").trim().split("\n")).toEqual(["close after"])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it("CLASSIC-9: a worker that crashes is replaced: the pool is back to its size", async () => {
    const crashed = await request(session(), { ":method": "GET", ":path": "/crash" })
    expect(crashed.status).toBe(500)
    await until(() => classic.pool.size() === 1, "a new worker")
    const next = await request(session(), { ":method": "GET", ":path": "/environ" })
    expect(next.status).toBe(200)
  })
})

describe("the event loop while every worker blocks", () => {
  const classic = fromClassic({ module: FIXTURE, export: "app" }, { workers: 2, logger: quiet })
  const router: App = (scope, receive, send) => {
    if (scope.type === "http" && scope.path === "/async") {
      return Effect.gen(function*() {
        yield* send({ type: "http.response.start", status: 200 })
        yield* send({ type: "http.response.body", body: hello })
      })
    }
    return classic(scope, receive, send)
  }
  const server = useServer(router)

  it("CLASSIC-7: async requests are answered while both workers sleep in app code", async () => {
    const session = await connect(server().url)
    let blockedDone = 0
    const blocked = [1, 2, 3].map(() =>
      request(session, { ":method": "GET", ":path": "/block?ms=800" }).then((r) => {
        blockedDone++
        return r
      })
    )
    await new Promise((r) => setTimeout(r, 100))
    const quick = await request(session, { ":method": "GET", ":path": "/async" })
    expect(quick.body.toString()).toBe("async hello")
    expect(blockedDone).toBe(0)
    const all = await Promise.all(blocked)
    expect(all.map((r) => r.status)).toEqual([200, 200, 200])
    await closeSession(session)
  })
})

describe("handing runs to the workers", () => {
  it("CLASSIC-16: the runs assigned to a worker in one turn of the event loop reach it as one message, in order, and all are served", async () => {
    const pool = new WorkerPool({ ...poolDefaults, workers: 2, pipeline: 4, logger: quiet })
    const posted: Array<unknown> = []
    const original = Worker.prototype.postMessage
    Worker.prototype.postMessage = function(this: Worker, message: unknown, ...rest: Array<never>) {
      posted.push(message)
      return original.call(this, message, ...rest)
    }
    try {
      const app = { module: FIXTURE, export: "app" }
      expect(await pool.load(app)).toBeUndefined()
      posted.length = 0
      const ends: Array<Promise<number>> = []
      for (let i = 0; i < 8; i++) {
        ends.push(
          new Promise((resolve, reject) => {
            const seq = pool.seq()
            const request: RequestData = ["GET", "http", "2", "x", "/two-chunks", "/two-chunks", "ms=0", "", [], null, 0, null, 0, 1, 2 * i + 1]
            pool.submit({
              seq,
              app,
              request,
              assigned: () => {},
              message: (m) => {
                if (isChunk(m) && m[1]) resolve(seq)
                if (!isChunk(m) && (m.t === "fail" || m.t === "escape")) reject(new Error(m.t))
              },
              lost: reject
            })
          })
        )
      }
      const done = await Promise.all(ends)
      expect(done).toHaveLength(8)
      // Two workers, four runs each: one message per worker (eight, one per run, before CLASSIC-16).
      const runs = posted.filter((m) => Array.isArray(m))
      expect(runs.map((m) => (m as ReadonlyArray<RunMessage>).map((run) => run[0]))).toEqual([[1, 3, 5, 7], [2, 4, 6, 8]].map((l) => l.map((n) => n + done[0]! - 1)))
    } finally {
      Worker.prototype.postMessage = original
      await pool.close()
    }
  })
})

describe("egi serve --sync-workers", () => {
  it("CLASSIC-12: serves a classic export directly, one import per worker", async () => {
    const cli = runCli(["serve", "test/shim/fixtures/classic-app.ts:app", "--sync-workers", "2", "--port", "0"])
    try {
      const { url } = await cli.listening()
      const session = await connect(url)
      const r = await request(session, { ":method": "GET", ":path": "/environ" })
      expect(r.status).toBe(200)
      expect(JSON.parse(r.body.toString())).toMatchObject({ imports: 1, "egi.multiprocess": true })
      await closeSession(session)
    } finally {
      await cli.dispose()
    }
  })

  it("rejects --sync-workers 0 as a usage error (exit 2)", async () => {
    const cli = runCli(["serve", "examples/legacy.ts:legacy", "--sync-workers", "0"])
    const exit = await cli.exit
    expect(exit.code).toBe(2)
    expect(cli.stderr()).toContain("--sync-workers")
  })

  it("refuses a classic export that does not exist (exit 2)", async () => {
    const cli = runCli(["serve", "examples/legacy.ts:nope", "--sync-workers", "1", "--port", "0"])
    const exit = await cli.exit
    expect(exit.code).toBe(2)
    expect(cli.stderr()).toContain('no app export "nope"')
  })
})
