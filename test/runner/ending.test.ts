/**
 * How exchanges end: normally (no end= reason, HTTP-3 after the end), by a
 * stalled body (408), and how the lifespan scope polices its sends.
 */
import { Effect } from "effect"
import * as http2 from "node:http2"
import { describe, expect, it } from "vitest"
import type { App } from "../../src/protocol/app.ts"
import type { InboundEvent } from "../../src/protocol/events.ts"
import { unsupportedScope } from "../../src/protocol/unsupported.ts"
import { rawHttp, statusOf, until } from "../support/clients.ts"
import { listen, useServer } from "../support/server.ts"

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
})

describe("late receivers (spec.md §4.3)", () => {
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
