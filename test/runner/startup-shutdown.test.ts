/**
 * Startup and shutdown of an in-process server (spec.md §6, §8.4): no
 * connection is accepted while lifespan startup is pending (LIFE-1); the
 * drain timeout resets a stream with RST_STREAM CANCEL, interrupts its app
 * and logs end=shutdown (RUN-7); a lifespan fiber that returned after its
 * startup reply does not hold the shutdown up (LIFE-3).
 */
import { Effect, Exit, Scope } from "effect"
import * as net from "node:net"
import { describe, expect, it } from "vitest"
import type { App, Receive, Send } from "../../src/protocol/app.ts"
import type { EgiScope } from "../../src/protocol/scope.ts"
import { unsupportedScope } from "../../src/protocol/unsupported.ts"
import { start } from "../../src/runner/server.ts"
import { deferred, sleep, within } from "../support/async.ts"
import { rawHttp, statusOf } from "../support/clients.ts"
import { ended, FrameType, goaway, rawH2, requestHeaders, rstCode } from "../support/h2raw.ts"
import { listen, useServers } from "../support/server.ts"

const CANCEL = 8

const { defer } = useServers()

/** A port in 19000–19999 that was free a moment ago (bound and closed). */
const freePort = async (): Promise<number> => {
  for (let i = 0; i < 50; i++) {
    const port = 19000 + Math.floor(Math.random() * 1000)
    const server = net.createServer()
    const ok = await new Promise<boolean>((resolve) => {
      server.once("error", () => resolve(false))
      server.listen(port, "127.0.0.1", () => resolve(true))
    })
    if (ok) {
      await new Promise<void>((resolve) => server.close(() => resolve()))
      return port
    }
  }
  throw new Error("no free port in 19000-19999")
}

/** How a TCP connect to 127.0.0.1:`port` ends: "connected" or the error code. */
const tryConnect = (port: number): Promise<string> =>
  new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1")
    const timer = setTimeout(() => {
      socket.destroy()
      resolve("timeout")
    }, 1000)
    socket.once("connect", () => {
      clearTimeout(timer)
      socket.destroy()
      resolve("connected")
    })
    socket.once("error", (e: NodeJS.ErrnoException) => {
      clearTimeout(timer)
      resolve(e.code ?? e.message)
    })
  })

describe("LIFE-1: no connection before the startup reply", () => {
  it("LIFE-1: while lifespan.startup is unanswered, a TCP connect to the server's port is refused (ECONNREFUSED); after the reply, a request gets 200", async () => {
    const port = await freePort()
    const reply = deferred()
    const gotStartup = deferred()
    const app = Effect.fnUntraced(function*(scope: EgiScope, receive: Receive, send: Send) {
      if (scope.type === "lifespan") {
        const event = yield* receive
        if (event.type !== "lifespan.startup") return
        gotStartup.resolve()
        yield* Effect.promise(() => reply.promise)
        yield* send({ type: "lifespan.startup.complete" })
        const shutdown = yield* receive
        if (shutdown.type === "lifespan.shutdown") yield* send({ type: "lifespan.shutdown.complete" })
        return
      }
      if (scope.type !== "http") return yield* unsupportedScope(scope)
      yield* send({ type: "http.response.start", status: 200, headers: [["content-type", "text/plain"]] })
      yield* send({ type: "http.response.body", body: new TextEncoder().encode("up") })
    })
    const scope = Effect.runSync(Scope.make())
    defer(() => Effect.runPromise(Scope.close(scope, Exit.void)))
    const starting = Effect.runPromise(Scope.provide(scope)(start(app, { port, log: false, drainTimeout: 500 })))
    starting.catch(() => {}) // awaited below; no unhandled rejection if the test fails first
    defer(() => reply.resolve())

    await within(gotStartup.promise, 3000, "lifespan.startup")
    // Several probes over ~150 ms while the reply is still due.
    const probes: Array<string> = []
    for (let i = 0; i < 4; i++) {
      probes.push(await tryConnect(port))
      await sleep(50)
    }
    expect(probes).toEqual(["ECONNREFUSED", "ECONNREFUSED", "ECONNREFUSED", "ECONNREFUSED"])

    reply.resolve()
    const server = await within(starting, 3000, "the server to start after the reply")
    expect(server.port).toBe(port)
    const r = await rawHttp(port, ["GET / HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n"])
    expect(statusOf(r.text)).toBe(200)
  })
})

describe("RUN-7: the drain timeout resets what still runs", () => {
  it("RUN-7: drainTimeout 300, an h2 stream whose app sent one chunk and waits forever: the client gets RST_STREAM CANCEL (8) on it (a frame, before any socket close, no END_STREAM); the app's onInterrupt finalizer ran before close() resolved; the access line says end=shutdown", async () => {
    const record: Array<string> = []
    const sentChunk = deferred()
    const app = Effect.fnUntraced(function*(scope: EgiScope, _receive: Receive, send: Send) {
      if (scope.type !== "http") return yield* unsupportedScope(scope)
      yield* send({ type: "http.response.start", status: 200, headers: [["content-type", "text/plain"]] })
      yield* send({ type: "http.response.body", body: new TextEncoder().encode("first"), moreBody: true })
      sentChunk.resolve()
      yield* Effect.never.pipe(Effect.onInterrupt(() => Effect.sync(() => void record.push("interrupted"))))
    })
    const server = await listen(app, { drainTimeout: 300 })
    let closed = false
    defer(() => (closed ? undefined : server.close()))

    const c = await rawH2(server.port, [requestHeaders(1, server.port, "/hold")])
    defer(() => c.destroy())
    await within(sentChunk.promise, 3000, "the app's first chunk")
    expect(await c.until((f) => f.some((x) => x.type === FrameType.DATA && x.stream === 1 && x.payload.length > 0), 3000)).toBe(true)

    const t0 = Date.now()
    const closing = server.close().then(() => {
      closed = true
      record.push("close resolved")
    })
    const reset = await c.until((f) => rstCode(f, 1) !== undefined, 3000)
    const resetAfter = Date.now() - t0
    const socketClosedBeforeReset = c.closed() && !reset
    // The reset is seen: let the connection go so that close() need not wait for it.
    c.destroy()
    await within(closing, 3000, "server.close()")

    expect(rstCode(c.frames, 1)).toBe(CANCEL)
    expect(ended(c.frames, 1)).toBe(false)
    expect(socketClosedBeforeReset).toBe(false)
    // GOAWAY NO_ERROR (last stream 1) came first, at the start of the drain
    expect(goaway(c.frames)).toEqual({ lastStreamId: 1, code: 0 })
    expect(resetAfter).toBeGreaterThanOrEqual(250)
    expect(record).toEqual(["interrupted", "close resolved"])
    const line = server.lines.access.find((l) => l.includes("stream=1"))
    expect(line).toBeDefined()
    expect(line).toContain('"GET /hold HTTP/2" 200 5 ')
    expect(line).toContain("end=shutdown")
  })
})

describe("LIFE-3: a lifespan that returned early", () => {
  it("LIFE-3: an app whose lifespan fiber returned after startup.complete: close() is quick (drainTimeout 3000) and logs no missing shutdown reply", async () => {
    const app: App = (scope, receive, send) => {
      if (scope.type === "lifespan") {
        return Effect.gen(function*() {
          yield* receive
          yield* send({ type: "lifespan.startup.complete" })
        })
      }
      return Effect.andThen(send({ type: "http.response.start", status: 200 }), send({ type: "http.response.body" }))
    }
    const server = await listen(app, { drainTimeout: 3000 })
    const t0 = Date.now()
    await server.close()
    const ms = Date.now() - t0
    expect(ms).toBeLessThan(1000)
    expect(server.lines.error.filter((l) => l.includes("no shutdown reply"))).toEqual([])
  })
})
