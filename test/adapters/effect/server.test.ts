/**
 * EgiHttpServer (spec.md §12.1) on the wire: `HttpRouter.serve` on
 * `EgiHttpServer.layer` under `Layer.launch` serves and drains; a client
 * that goes away mid-body interrupts its handler and nothing else; a
 * 64 MiB upload read through `request.stream` keeps the process's RSS flat.
 */
import { Cause, Context, Deferred, Effect, Exit, Fiber, Layer, Scope, Stream } from "effect"
import * as HttpRouter from "effect/http/HttpRouter"
import * as HttpServer from "effect/http/HttpServer"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as net from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { freePort } from "../../support/clients.ts"
import { EgiHttpServer } from "../../../src/adapters/effect/index.ts"
import { closeSession, collect, connect, request } from "../../support/h2client.ts"


class Greeting extends Context.Service<Greeting, string>()("test/Greeting") {}

const encoder = new TextEncoder()

describe("EgiHttpServer.layer under Layer.launch", () => {
  it("HTTPAPP-7 serves HttpRouter.serve's app with the serve-time context, drains in-flight streams on interrupt", async () => {
    const port = await freePort()
    const Routes = Layer.mergeAll(
      HttpRouter.add("GET", "/", Effect.gen(function*() {
        return HttpServerResponse.text(yield* Greeting)
      })),
      HttpRouter.add(
        "GET",
        "/slow",
        HttpServerResponse.stream(Stream.range(1, 5).pipe(Stream.tap(() => Effect.sleep("60 millis")), Stream.map((n) => encoder.encode(`${n}\n`))))
      )
    )
    const program = HttpRouter.serve(Routes, { disableLogger: true, disableListenLog: true }).pipe(
      Layer.provide(Layer.succeed(Greeting)("hello from the serve-time context")),
      Layer.provide(EgiHttpServer.layer({ port, accessLog: false, log: false, drainTimeout: 5000 })),
      Layer.launch
    )
    const fiber = Effect.runFork(program as Effect.Effect<never, unknown>)
    try {
      let res: Response | undefined
      for (let i = 0; i < 50 && res === undefined; i++) {
        res = await fetch(`http://127.0.0.1:${port}/`).catch(() => undefined)
        if (res === undefined) await new Promise((r) => setTimeout(r, 20))
      }
      expect(await res!.text()).toBe("hello from the serve-time context")
      const session = await connect(`http://127.0.0.1:${port}`)
      const h2 = await request(session, { ":path": "/" })
      expect(h2.body.toString()).toBe("hello from the serve-time context")
      // A stream in flight when the server is told to stop completes.
      const stream = session.request({ ":path": "/slow" })
      const slow = collect(stream)
      await new Promise<void>((resolve) => stream.once("data", () => resolve()))
      const stopped = Effect.runPromise(Fiber.interrupt(fiber))
      const done = await slow
      expect(done.status).toBe(200)
      expect(done.body.toString()).toBe("1\n2\n3\n4\n5\n")
      await stopped
      await closeSession(session)
      await expect(fetch(`http://127.0.0.1:${port}/`)).rejects.toThrow()
    } finally {
      await Effect.runPromise(Fiber.interrupt(fiber))
    }
  })

  it("HTTPAPP-7 address is the bound address and port", async () => {
    const scope = Effect.runSync(Scope.make())
    try {
      const ctx = await Effect.runPromise(Layer.buildWithScope(EgiHttpServer.layer({ port: 0, log: false }), scope))
      const server = Context.get(ctx, HttpServer.HttpServer)
      expect(server.address._tag).toBe("InetAddressV4")
      expect(server.address._tag !== "UnixPathAddress" && server.address.port > 0).toBe(true)
    } finally {
      await Effect.runPromise(Scope.close(scope, Exit.void))
    }
  })
})

describe("client disconnect", () => {
  const events: Array<string> = []
  const reading = Effect.runSync(Deferred.make<void>())
  const waiting = Effect.runSync(Deferred.make<void>())
  let port = 0
  let scope: Scope.Closeable
  beforeAll(async () => {
    const Routes = Layer.mergeAll(
      HttpRouter.add(
        "POST",
        "/read",
        Effect.gen(function*() {
          const req = yield* HttpServerRequest.HttpServerRequest
          yield* Stream.runForEach(req.stream, () => Deferred.succeed(reading, undefined))
          return HttpServerResponse.text("read all")
        }).pipe(Effect.onExit((exit) => Effect.sync(() => events.push(`read: ${Exit.isFailure(exit) && Cause.hasInterrupts(exit.cause) ? "interrupted" : exit._tag}`))))
      ),
      HttpRouter.add(
        "GET",
        "/hang",
        Effect.andThen(Deferred.succeed(waiting, undefined), Effect.never).pipe(
          Effect.onInterrupt(() => Effect.sync(() => events.push("hang: interrupted")))
        )
      ),
      HttpRouter.add("GET", "/ok", HttpServerResponse.text("ok"))
    )
    scope = Effect.runSync(Scope.make())
    const ctx = await Effect.runPromise(
      Layer.buildWithScope(
        HttpRouter.serve(Routes, { disableLogger: true, disableListenLog: true }).pipe(
          Layer.provideMerge(EgiHttpServer.layer({ port: 0, accessLog: false, log: false }))
        ),
        scope
      )
    )
    const address = Context.get(ctx, HttpServer.HttpServer).address
    port = address._tag === "UnixPathAddress" ? 0 : address.port
  })
  afterAll(async () => {
    await Effect.runPromise(Scope.close(scope, Exit.void))
  })

  const until = async (cond: () => boolean) => {
    for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 10))
    expect(cond()).toBe(true)
  }

  it("HTTPAPP-3 an h2 reset mid-body interrupts the handler reading request.stream; other streams are unaffected", async () => {
    const session = await connect(`http://127.0.0.1:${port}`)
    try {
      const stream = session.request({ ":method": "POST", ":path": "/read", "content-length": "1000000" })
      stream.on("error", () => {})
      stream.write(Buffer.alloc(1000))
      await Effect.runPromise(Deferred.await(reading))
      const other = session.request({ ":method": "GET", ":path": "/ok" })
      const otherResult = collect(other)
      stream.close(8)
      await until(() => events.includes("read: interrupted"))
      expect((await otherResult).body.toString()).toBe("ok")
      expect((await request(session, { ":path": "/ok" })).status).toBe(200)
    } finally {
      await closeSession(session)
    }
  })

  it("HTTPAPP-3 an HTTP/1.1 client gone while the handler waits elsewhere interrupts it (HTTP-15)", async () => {
    const socket = net.connect(port, "127.0.0.1")
    await new Promise((r) => socket.once("connect", r))
    socket.write("GET /hang HTTP/1.1\r\nhost: x\r\n\r\n")
    await Effect.runPromise(Deferred.await(waiting))
    socket.destroy()
    await until(() => events.includes("hang: interrupted"))
    const res = await fetch(`http://127.0.0.1:${port}/ok`)
    expect(await res.text()).toBe("ok")
  })

  it("HTTPAPP-2 a 128 MiB upload through request.stream keeps RSS growth under 64 MiB", async () => {
    const session = await connect(`http://127.0.0.1:${port}`)
    try {
      const chunk = Buffer.alloc(256 * 1024, 7)
      // Twice the growth allowed below: a server that held the body whole would grow by all of it.
      const total = 128 * 1024 * 1024
      const upload = async () => {
        const stream = session.request({ ":method": "POST", ":path": "/read", "content-length": String(total) })
        const result = collect(stream)
        for (let sent = 0; sent < total; sent += chunk.length) {
          if (!stream.write(chunk)) await new Promise((r) => stream.once("drain", r))
        }
        stream.end()
        return result
      }
      // Warm-up: V8 lets dead ArrayBuffers pile up to its external-memory
      // limit once before it collects them (test/shim/upload-rss.test.ts).
      expect((await upload()).body.toString()).toBe("read all")
      const before = process.memoryUsage().rss
      let peak = before
      const sampler = setInterval(() => {
        peak = Math.max(peak, process.memoryUsage().rss)
      }, 5)
      const res = await upload()
      clearInterval(sampler)
      peak = Math.max(peak, process.memoryUsage().rss)
      const growth = (peak - before) / 1024 / 1024
      console.log(`128 MiB upload through request.stream (client and server in one process): RSS growth ${growth.toFixed(1)} MiB`)
      expect(res.body.toString()).toBe("read all")
      // Client and server share this process and its garbage collector: 64 MiB is the bound, half the body.
      expect(growth).toBeLessThan(64)
    } finally {
      await closeSession(session)
    }
  })
})
