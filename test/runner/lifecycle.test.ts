/**
 * The process lifecycle, against the real CLI in a child process: usage
 * errors, graceful shutdown on SIGTERM (GOAWAY, drain, drain timeout),
 * lifespan startup/shutdown, the access log. LIFE-2 runs in-process.
 */
import { Cause, Effect, Exit } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import type { App } from "../../src/protocol/app.ts"
import type { OutboundEvent } from "../../src/protocol/events.ts"
import { unsupportedScope } from "../../src/protocol/unsupported.ts"
import { bodyOf, completeResponse, h2close, h2connect, h2request, rawHttp, statusOf } from "../support/clients.ts"
import { type Cli, lineIndex, logLines, runCli } from "../support/cli.ts"
import { h2probe } from "../support/h2probe.ts"
import { listen } from "../support/server.ts"

const started: Array<Cli> = []
const cli = (...args: Array<string>): Cli => {
  const c = runCli(args)
  started.push(c)
  return c
}
afterEach(async () => {
  await Promise.all(started.splice(0).map((c) => c.dispose()))
})

describe("CLI usage", () => {
  it("CLI: --help exits 0 and prints the usage", async () => {
    const c = cli("--help")
    const exit = await c.exit
    expect(exit.code).toBe(0)
    expect(c.stdout()).toContain("Usage:")
    expect(c.stdout()).toContain("egi serve <module>[:export] [options]")
    expect(c.stdout()).toContain("--drain-timeout")
    expect(c.stderr()).toBe("")
  })

  it("CLI: `egi serve nonexistent.ts` exits 2 with a one-line error", async () => {
    const c = cli("serve", "nonexistent.ts")
    const exit = await c.exit
    expect(exit.code).toBe(2)
    expect(c.stderr()).toBe("egi: cannot load nonexistent.ts: module not found\n")
    expect(c.stdout()).toBe("")
  })

  it("CLI: `egi serve examples/hello.ts:nope` (a missing export) exits 2 naming it", async () => {
    const c = cli("serve", "examples/hello.ts:nope")
    const exit = await c.exit
    expect(exit.code).toBe(2)
    expect(c.stderr()).toBe(`egi: examples/hello.ts has no app export "nope"\n`)
  })

  it("CLI: an unknown flag exits 2 and points at --help", async () => {
    const c = cli("serve", "examples/hello.ts", "--bogus")
    const exit = await c.exit
    expect(exit.code).toBe(2)
    expect(c.stderr()).toMatch(/^egi: .*--bogus/)
    expect(c.stderr()).toContain("Try 'egi --help'.")
    expect(c.stderr()).not.toContain("listening on")
  })
})

describe("RUN-7 graceful shutdown (CLI, examples/stream.ts)", () => {
  it("RUN-7: SIGTERM mid-stream: GOAWAY(NO_ERROR, last stream 1), the in-flight stream completes in full, a new stream after GOAWAY is not served, exit 0 within the drain timeout", async () => {
    const c = cli("serve", "examples/stream.ts", "--port", "0", "--drain-timeout", "5")
    const { port, protocols } = await c.listening()
    expect(protocols).toBe("h2c, http/1.1")
    let sigtermAt = 0
    const r = await h2probe(
      {
        port,
        timeout: 8,
        requests: [
          // 10 chunks of 100 bytes, 100 ms apart: ~900 ms of streaming.
          { method: "GET", path: "/?chunks=10&size=100&delay=100", wait: "goaway" },
          // Sent (as a raw frame) after the GOAWAY: the server must not serve it.
          { method: "GET", path: "/?chunks=1&size=5&delay=0", force: true }
        ],
        linger: "all"
      },
      (ev) => {
        if (ev.type === "DataReceived" && sigtermAt === 0) sigtermAt = c.signal("SIGTERM")
      }
    )
    const exit = await c.exit
    expect(sigtermAt).toBeGreaterThan(0)
    expect(exit.code).toBe(0)
    expect(exit.at - sigtermAt).toBeLessThan(5000)

    expect(r.goaway, r.summary).toEqual({ error_code: 0, last_stream_id: 1 })
    // The in-flight stream: all 1000 bytes and a proper end (END_STREAM), no reset.
    expect({ status: r.status(1), bytes: r.bodyLength(1), reset: r.resetCode(1) }, r.summary).toEqual({ status: 200, bytes: 1000, reset: undefined })
    // The stream opened after the GOAWAY got no response.
    expect(r.status(3), r.summary).toBeUndefined()
    expect(r.bodyLength(3)).toBe(0)

    const lines = logLines(c.stderr())
    const order = ["SIGTERM received", "shutting down: 1 stream(s) in flight", "shutdown complete"].map((s) => lineIndex(lines, s))
    expect(order.every((i) => i >= 0), c.stderr()).toBe(true)
    expect([...order].sort((a, b) => a - b)).toEqual(order)
    expect(c.stderr()).not.toContain("drain timeout: resetting")
    // One access line: the drained stream, nothing for stream 3.
    const access = c.stdout().trim().split("\n")
    expect(access).toHaveLength(1)
    expect(access[0]).toMatch(/^127\.0\.0\.1 "GET \/\?chunks=10&size=100&delay=100 HTTP\/2" 200 1000 [\d.]+ms conn=1 stream=1$/)
    // Regression: a drain that destroyed the session as soon as the app fiber ended dropped the
    // queued empty DATA frame with END_STREAM: the body arrived but never ended.
    expect(r.ended(1), `stream 1 never got END_STREAM: ${r.summary}`).toBe(true)
  })

  it("RUN-7: drain timeout (--drain-timeout 0.5) with an endless stream: the stream is reset, not ended, and the process exits 0 within ~2 s", async () => {
    const c = cli("serve", "examples/stream.ts", "--port", "0", "--drain-timeout", "0.5")
    const { port } = await c.listening()
    let sigtermAt = 0
    const r = await h2probe(
      { port, timeout: 6, requests: [{ method: "GET", path: "/?chunks=1000000&size=10&delay=50", wait: "all" }] },
      (ev) => {
        if (ev.type === "DataReceived" && sigtermAt === 0) sigtermAt = c.signal("SIGTERM")
      }
    )
    const exit = await c.exit
    expect(exit.code).toBe(0)
    expect(exit.at - sigtermAt).toBeGreaterThanOrEqual(450)
    expect(exit.at - sigtermAt).toBeLessThan(2000)
    expect(r.goaway?.error_code, r.summary).toBe(0)
    expect(r.status(1)).toBe(200)
    expect(r.timedOut, r.summary).toBe(false)
    expect(c.stderr()).toContain("drain timeout: resetting 1 stream(s)")
    expect(c.stderr()).toContain("shutdown complete")
    // Regression: a reset through ServerHttp2Stream.close(8) first ends the stream, and the client
    // sees END_STREAM, i.e. a complete (truncated) 200 response.
    const reset = r.resetCode(1)
    expect({ ended: r.ended(1), resetOrClosed: reset !== undefined || r.socketClosed }, r.summary).toEqual({
      ended: false,
      resetOrClosed: true
    })
    // The spec says "reset" without a code: CANCEL (what the runner means to send) or INTERNAL_ERROR.
    if (reset !== undefined) expect([8, 2]).toContain(reset)
  })
})

describe("LIFE: lifespan (CLI, test/fixtures/lifespan-app.ts)", () => {
  it("LIFE-1: startup is answered (after 300 ms) before the listener accepts; the http scope sees the state, as a per-request copy", async () => {
    const c = cli("serve", "test/fixtures/lifespan-app.ts", "--port", "0")
    const { url, port } = await c.listening()
    const lines = logLines(c.stderr())
    const startup = lineIndex(lines, "fixture: startup complete")
    expect(startup).toBeGreaterThanOrEqual(0)
    expect(startup).toBeLessThan(lineIndex(lines, "listening on"))
    expect(c.stderr()).not.toContain("not supported")

    const session = await h2connect(url)
    try {
      const first = await h2request(session, { ":path": "/state" })
      expect(first.status).toBe(200)
      const state = JSON.parse(first.body) as Record<string, unknown>
      expect(state.db).toBe("ready")
      expect(typeof state.startedAt).toBe("number")
      // A request that mutates its scope.state does not change the next request's.
      expect((await h2request(session, { ":path": "/mutate" })).body).toBe("mutated")
      const h1 = await rawHttp(port, ["GET /state HTTP/1.1\r\nHost: x\r\n\r\n"], { done: completeResponse })
      expect(statusOf(h1.text)).toBe(200)
      expect(JSON.parse(bodyOf(h1.text))).toEqual(state)
    } finally {
      await h2close(session)
    }
    c.signal("SIGTERM")
    expect((await c.exit).code).toBe(0)
  })

  it("LIFE-1: lifespan.startup.failed → the server does not start, the CLI exits 1 with the message", async () => {
    const c = cli("serve", "test/fixtures/lifespan-fail.ts", "--port", "0")
    const exit = await c.exit
    expect(exit.code).toBe(1)
    expect(c.stderr()).toContain("database unreachable (fixture)")
    expect(c.stderr()).toMatch(/^egi: .*database unreachable \(fixture\)$/m)
    expect(c.stderr()).not.toContain("listening on")
  })

  it("LIFE-3: lifespan.shutdown arrives during the graceful shutdown, after the in-flight request completed", async () => {
    const c = cli("serve", "test/fixtures/lifespan-app.ts", "--port", "0")
    const { url } = await c.listening()
    const session = await h2connect(url)
    try {
      const req = session.request({ ":path": "/slow?ms=400" })
      const chunks: Array<Buffer> = []
      let status = 0
      req.on("response", (h) => void (status = Number(h[":status"])))
      req.on("error", () => {})
      const closed = new Promise((resolve) => req.once("close", resolve))
      // In flight once its first chunk is here: then signal.
      await new Promise<void>((resolve) =>
        req.on("data", (chunk: Buffer) => {
          chunks.push(chunk)
          resolve()
        })
      )
      c.signal("SIGTERM")
      await closed
      const outcome = { status, body: Buffer.concat(chunks).toString() }
      expect(outcome.status).toBe(200)
      expect(outcome.body).toBe("slow done")
    } finally {
      session.destroy()
    }
    expect((await c.exit).code).toBe(0)
    const lines = logLines(c.stderr())
    const order = [
      "SIGTERM received",
      "fixture: /slow finished",
      "fixture: lifespan.shutdown received (in flight: 0)",
      "shutdown complete"
    ].map((s) => lineIndex(lines, s))
    expect(order.every((i) => i >= 0), c.stderr()).toBe(true)
    expect([...order].sort((a, b) => a - b), c.stderr()).toEqual(order)
    expect(c.stderr()).not.toContain("no shutdown reply")
  })
})

describe("LIFE-2 (in-process)", () => {
  it("LIFE-2: a lifespan reply sent when none is due fails with LocalProtocolError LIFE-2; the due replies succeed", async () => {
    const outcomes: Array<[string, string]> = []
    const record = (label: string, event: OutboundEvent, send: (e: OutboundEvent) => Effect.Effect<void, unknown>) =>
      Effect.gen(function*() {
        const exit = yield* Effect.exit(send(event))
        if (Exit.isSuccess(exit)) outcomes.push([label, "ok"])
        else {
          const e = Cause.squash(exit.cause) as { _tag?: string; rule?: string }
          outcomes.push([label, `${e._tag}:${e.rule}`])
        }
      })
    const app: App = (scope, receive, send) => {
      if (scope.type === "lifespan") {
        return Effect.gen(function*() {
          yield* receive
          yield* record("shutdown.complete during startup", { type: "lifespan.shutdown.complete" }, send)
          yield* record("startup.complete", { type: "lifespan.startup.complete" }, send)
          yield* record("startup.complete again", { type: "lifespan.startup.complete" }, send)
          yield* record("shutdown.complete while running", { type: "lifespan.shutdown.complete" }, send)
          const ev = yield* receive
          outcomes.push(["received", ev.type])
          yield* record("startup.failed during shutdown", { type: "lifespan.startup.failed", message: "late" }, send)
          yield* record("shutdown.complete", { type: "lifespan.shutdown.complete" }, send)
        })
      }
      if (scope.type !== "http") return unsupportedScope(scope)
      return Effect.gen(function*() {
        yield* send({ type: "http.response.start", status: 200 })
        yield* send({ type: "http.response.body", body: new TextEncoder().encode("up") })
      })
    }
    const server = await listen(app)
    try {
      const r = await rawHttp(server.port, ["GET / HTTP/1.1\r\nHost: x\r\n\r\n"], { done: completeResponse })
      expect(bodyOf(r.text)).toBe("up")
    } finally {
      await server.close()
    }
    expect(outcomes).toEqual([
      ["shutdown.complete during startup", "LocalProtocolError:LIFE-2"],
      ["startup.complete", "ok"],
      ["startup.complete again", "LocalProtocolError:LIFE-2"],
      ["shutdown.complete while running", "LocalProtocolError:LIFE-2"],
      ["received", "lifespan.shutdown"],
      ["startup.failed during shutdown", "LocalProtocolError:LIFE-2"],
      ["shutdown.complete", "ok"]
    ])
    expect(server.lines.error.filter((l) => l.includes("lifespan"))).toEqual([])
  })
})

describe("CORE-4 and the access log (CLI, examples/hello.ts)", () => {
  it("CORE-4: hello.ts fails the lifespan scope with UnsupportedScopeError and is still served; stderr says lifespan is not supported; the access log has one line per request with method, path, status, bytes, ms, conn=, stream=", async () => {
    const c = cli("serve", "examples/hello.ts", "--port", "0")
    const { url, port } = await c.listening()
    expect(c.stderr()).toMatch(/lifespan: not supported by the app \(UnsupportedScopeError/)

    const h1 = await rawHttp(port, ["GET /a?x=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"])
    expect(statusOf(h1.text)).toBe(200)
    expect(bodyOf(h1.text)).toBe("Hello, world!")
    const session = await h2connect(url)
    try {
      for (const path of ["/b", "/c/d"]) {
        const o = await h2request(session, { ":path": path })
        expect([o.status, o.body]).toEqual([200, "Hello, world!"])
      }
    } finally {
      await h2close(session)
    }
    await c.waitFor("stdout", /stream=3\n/)
    const access = c.stdout().trimEnd().split("\n")
    expect(access).toHaveLength(3)
    expect(access[0]).toMatch(/^127\.0\.0\.1 "GET \/a\?x=1 HTTP\/1\.1" 200 13 \d+\.\d\dms conn=(\d+) stream=1$/)
    expect(access[1]).toMatch(/^127\.0\.0\.1 "GET \/b HTTP\/2" 200 13 \d+\.\d\dms conn=(\d+) stream=1$/)
    expect(access[2]).toMatch(/^127\.0\.0\.1 "GET \/c\/d HTTP\/2" 200 13 \d+\.\d\dms conn=(\d+) stream=3$/)
    const conn = access.map((l) => /conn=(\d+)/.exec(l)![1])
    expect(conn[1]).toBe(conn[2])
    expect(conn[0]).not.toBe(conn[1])

    c.signal("SIGTERM")
    expect((await c.exit).code).toBe(0)
  })
})
