/**
 * How exchanges end: normally (no end= reason, HTTP-3 after the end; after
 * a complete exchange `receive` yields `http.disconnect` and nothing else),
 * with receivers that come late or two at once, by a stalled body (408),
 * and how the lifespan scope polices its sends.
 *
 * Every wait is bounded: a runner that hangs makes a test fail, not stall.
 */
import { Effect, Fiber } from "effect"
import * as http2 from "node:http2"
import { describe, expect, it } from "vitest"
import type { App } from "../../src/protocol/app.ts"
import type { InboundEvent } from "../../src/protocol/events.ts"
import { unsupportedScope } from "../../src/protocol/unsupported.ts"
import { h2close, h2connect, h2request, rawHttp, sleep, statusOf, until } from "../support/clients.ts"
import { collect, connect } from "../support/h2client.ts"
import { listen, useServer, withServer } from "../support/server.ts"

const text = (s: string): Uint8Array => new TextEncoder().encode(s)
const latin1 = (b: Uint8Array): string => Buffer.from(b).toString("latin1")

const seen: Array<string> = []
const note = (e: unknown) => Effect.sync(() => void seen.push(`${(e as { _tag?: string })._tag}:${(e as { rule?: string }).rule ?? ""}`))

const app: App = (scope, receive, send) => {
  if (scope.type !== "http") return unsupportedScope(scope)
  return Effect.gen(function*() {
    if (scope.path === "/after-end") {
      yield* send({ type: "http.response.start", status: 200 })
      yield* send({ type: "http.response.body", body: new Uint8Array([111, 107]) })
      let event: InboundEvent = yield* receive
      while (event.type !== "http.disconnect") event = yield* receive
      seen.push(`disconnect:${"errorCode" in event ? event.errorCode : "none"}`)
      yield* send({ type: "http.response.body" }).pipe(Effect.catch(note))
      return
    }
    if (scope.path === "/late-receives") {
      // Receives only between pauses, so the stream's 'end' fires while no receive waits.
      yield* Effect.sleep("50 millis")
      let bytes = 0
      let event: InboundEvent = yield* receive
      while (event.type === "http.request" && event.moreBody) {
        bytes += event.body.length
        yield* Effect.sleep("20 millis")
        event = yield* receive
      }
      if (event.type === "http.request") bytes += event.body.length
      yield* send({ type: "http.response.start", status: 200 })
      yield* send({ type: "http.response.body", body: new TextEncoder().encode(`${event.type} ${bytes}`) })
      return
    }
    if (scope.path === "/stall") {
      let event: InboundEvent = yield* receive
      while (event.type === "http.request" && event.moreBody) event = yield* receive
      seen.push(`stall:${event.type}`)
      return
    }
  })
}

const server = useServer(app, { idleTimeout: 400 })

describe("normal ends (spec.md §4.5, §8.5)", () => {
  it("HTTP-3 HTTP-8: after a complete response and its http.disconnect, a further send still breaks HTTP-3; the access log has no end= reason", async () => {
    seen.length = 0
    const client = http2.connect(server().url)
    const req = client.request({ ":path": "/after-end" })
    req.resume()
    await new Promise<void>((resolve) => req.on("close", () => resolve()))
    client.close()
    await until(() => seen.length >= 2, "the app to send after the end")
    expect(seen).toEqual(["disconnect:none", "LocalProtocolError:HTTP-3"])
    await until(() => server().lines.access.some((l) => l.includes("/after-end")), "the access line")
    expect(server().lines.access.find((l) => l.includes("/after-end"))).not.toContain("end=")
  })

  it("HTTP-8 HTTP-15: h2, 200 requests: after a complete body and a finished response, receive yields http.disconnect (no errorCode) and no app is left running", async () => {
    const disconnects: Array<InboundEvent> = []
    const repeats: Array<InboundEvent> = []
    const app: App = (scope, receive, send) => {
      if (scope.type !== "http") return unsupportedScope(scope)
      return Effect.gen(function*() {
        let n = 0
        for (;;) {
          const e = yield* receive
          if (e.type !== "http.request") return yield* Effect.die(new Error(`unexpected ${e.type} before the body ended`))
          n += e.body.length
          if (!e.moreBody) break
        }
        yield* send({ type: "http.response.start", status: 200, headers: [["content-type", "text/plain"]] })
        yield* send({ type: "http.response.body", body: text(`got ${n}`) })
        // The `complete` state (§4.7 table 2): receive waits for the end of the exchange.
        let e = yield* receive
        while (e.type !== "http.disconnect") e = yield* receive
        disconnects.push(e)
        repeats.push(yield* receive)
      })
    }
    await withServer(app, { drainTimeout: 500 }, async (server) => {
      const sessions = await Promise.all([1, 2, 3, 4].map(() => h2connect(server.url)))
      try {
        const results = await Promise.all(
          sessions.flatMap((session, s) =>
            Array.from({ length: 50 }, (_, i) =>
              i % 2 === 0
                ? h2request(session, { ":method": "GET", ":path": `/get/${s}/${i}` })
                : h2request(session, { ":method": "POST", ":path": `/post/${s}/${i}` }, "x".repeat(1 + i * 37))
            )
          )
        )
        expect(results.filter((r) => r.status !== 200 || !r.ended)).toEqual([])
        // The sessions stay open: nothing but the finished exchange may end the apps.
        await until(() => server.inflight() === 0, `inflight 0 (still ${server.inflight()}, ${disconnects.length} told)`, 1000)
        expect(disconnects).toHaveLength(200)
        expect(disconnects.filter((e) => "errorCode" in e)).toEqual([])
        expect(repeats.filter((e) => e.type !== "http.disconnect")).toEqual([])
        expect(server.lines.error).toEqual([])
      } finally {
        await Promise.all(sessions.map(h2close))
      }
    })
  })
})

describe("late and concurrent receivers (spec.md §4.3)", () => {
  it("HTTP-14: a body whose end arrives while no receive is waiting still completes, on HTTP/2 and HTTP/1.1", async () => {
    const session = http2.connect(server().url)
    const stream = session.request({ ":method": "POST", ":path": "/late-receives" })
    stream.end(Buffer.alloc(3000, 1))
    const chunks: Array<Buffer> = []
    stream.on("data", (c: Buffer) => chunks.push(c))
    await new Promise((resolve) => stream.on("close", resolve))
    session.close()
    expect(Buffer.concat(chunks).toString()).toBe("http.request 3000")
    const r = await rawHttp(
      server().port,
      ["POST /late-receives HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello"]
    )
    expect(statusOf(r.text)).toBe(200)
    expect(r.text).toContain("http.request 5")
  })

  it("HTTP-14: two fibers looping on receive while an h2 upload arrives in chunks: in hand-out order they get the upload exactly, one moreBody:false, and both end", async () => {
    type Got = { readonly fiber: number; readonly event: InboundEvent }
    const got: Array<Got> = []
    const ended = new Set<number>()
    let appDone = false
    const app: App = (scope, receive, send) => {
      if (scope.type !== "http") return unsupportedScope(scope)
      const loop = (fiber: number) =>
        Effect.gen(function*() {
          for (;;) {
            const event = yield* receive
            got.push({ fiber, event })
            if (event.type === "http.disconnect") break
            if (event.type === "http.request" && !event.moreBody) {
              yield* send({ type: "http.response.start", status: 200 })
              yield* send({ type: "http.response.body", body: text("both") })
              break
            }
          }
          ended.add(fiber)
        })
      return Effect.all([loop(1), loop(2)], { concurrency: 2 }).pipe(Effect.tap(() => Effect.sync(() => void (appDone = true))))
    }
    await withServer(app, { drainTimeout: 500 }, async (server) => {
      const session = await connect(server.url)
      try {
        const parts = Array.from({ length: 6 }, (_, i) => text(`part-${i}:${"abcdefgh".repeat(i + 1)}|`))
        const stream = session.request({ ":method": "POST", ":path": "/both" })
        const result = collect(stream)
        for (const part of parts) {
          stream.write(part)
          await sleep(40)
        }
        stream.end()
        const r = await Promise.race([result, sleep(2000).then(() => undefined)])
        await until(() => appDone, `both receivers to end (ended: ${[...ended].join(",") || "none"})`, 1500)
        expect(r?.status).toBe(200)
        const bodies = got.flatMap((g) => (g.event.type === "http.request" ? [latin1(g.event.body)] : []))
        expect(bodies.join("")).toBe(parts.map(latin1).join(""))
        expect(got.filter((g) => g.event.type === "http.request" && !g.event.moreBody)).toHaveLength(1)
        for (const fiber of [1, 2]) {
          const last = got.filter((g) => g.fiber === fiber).at(-1)?.event
          const kind = last === undefined
            ? "nothing"
            : last.type === "http.disconnect"
            ? "disconnect"
            : last.type === "http.request" && !last.moreBody
            ? "last"
            : "more"
          expect(kind, `fiber ${fiber}'s final event`).toMatch(/^(disconnect|last)$/)
        }
        expect([...ended].sort()).toEqual([1, 2])
      } finally {
        await h2close(session)
      }
    })
  })
})

describe("stalled request bodies (spec.md §8.3)", () => {
  it("HTTP-8 RUN-8: an h2 body that stops arriving while the app waits ends with 408 and http.disconnect after the idle timeout", async () => {
    seen.length = 0
    const client = http2.connect(server().url)
    const req = client.request({ ":path": "/stall", ":method": "POST" })
    req.write("partial")
    const status = await new Promise<number>((resolve) => req.on("response", (h) => resolve(Number(h[":status"]))))
    req.on("error", () => {})
    client.close()
    expect(status).toBe(408)
    await until(() => seen.includes("stall:http.disconnect"), "the app to see the disconnect")
    expect(server().lines.access.find((l) => l.includes("/stall") && l.includes("HTTP/2"))).toContain("end=timeout")
  })

  it("HTTP-8 RUN-8: an HTTP/1.1 body that stops arriving gets 408 and the connection closes", async () => {
    seen.length = 0
    const r = await rawHttp(server().port, ["POST /stall HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\npartial"], { timeoutMs: 3000 })
    expect(statusOf(r.text)).toBe(408)
    expect(r.closed).toBe(true)
    expect(seen).toContain("stall:http.disconnect")
  })
})

describe("a receiver that was interrupted (spec.md §8.3)", () => {
  it("HTTP-8: an app that interrupted its reader, whose cleanup still runs, and answers without reading is not timed out as waiting for a stalled body", async () => {
    const log: Array<string> = []
    const readerApp: App = (scope, receive, send) => {
      if (scope.type !== "http") return unsupportedScope(scope)
      return Effect.gen(function*() {
        // A reader fiber whose interruption takes a while to finish (its cleanup waits 1 s), interrupted without waiting for it.
        const reader = yield* Effect.forkChild(Effect.forever(receive).pipe(Effect.onInterrupt(() => Effect.sleep("1 second"))), { startImmediately: true })
        yield* Effect.sleep("20 millis")
        yield* Fiber.interrupt(reader).pipe(Effect.forkDetach({ startImmediately: true }))
        // The app works on for longer than the idle timeout, reading nothing, then answers.
        yield* Effect.sleep("600 millis")
        yield* send({ type: "http.response.start", status: 200 })
        yield* send({ type: "http.response.body", body: text("ok") })
        log.push("answered")
      })
    }
    await withServer(readerApp, { idleTimeout: 200 }, async (s) => {
      const client = http2.connect(s.url)
      try {
        const req = client.request({ ":path": "/", ":method": "POST" })
        req.on("error", () => {})
        req.write("partial")
        const status = await new Promise<string>((resolve) => {
          req.once("response", (h) => resolve(String(h[":status"])))
          req.once("close", () => resolve(`closed ${req.rstCode}`))
        })
        expect(status).toBe("200")
        expect(log).toEqual(["answered"])
      } finally {
        client.destroy()
      }
    })
  })
})

describe("lifespan sends (spec.md §3.2, §3.3)", () => {
  it("CORE-3 CORE-6: a lifespan reply with a foreign correlator or an http event type fails with the named rule", async () => {
    const rules: Array<string> = []
    const lifespanApp: App = (scope, receive, send) => {
      if (scope.type !== "lifespan") return unsupportedScope(scope)
      return Effect.gen(function*() {
        yield* receive
        const record = (e: unknown) => Effect.sync(() => void rules.push((e as { rule: string }).rule))
        yield* send({ type: "lifespan.startup.complete", connectionId: 7, streamId: 0 }).pipe(Effect.catch(record))
        yield* send({ type: "http.response.start", status: 200 }).pipe(Effect.catch(record))
        yield* send({ type: "lifespan.startup.complete" })
        yield* receive
        yield* send({ type: "lifespan.shutdown.complete" })
      })
    }
    const s = await listen(lifespanApp)
    await s.close()
    expect(rules).toEqual(["CORE-3", "CORE-6"])
  })
})
