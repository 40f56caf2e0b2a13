/**
 * One server span per stream (spec.md §8.10, RUN-13), captured with a test
 * tracer the server gets from its Layer: name, kind, OpenTelemetry HTTP
 * attributes, the W3C traceparent parent, the app's own spans inside it,
 * and none at all with tracing off. Real sockets, both protocols.
 */
import { Effect, Layer, Option, Tracer } from "effect"
import { describe, expect, it } from "vitest"
import type { App } from "../../src/protocol/app.ts"
import { parentOf } from "../../src/runner/tracing.ts"
import { closeSession, connect, request } from "../support/h2client.ts"
import { listen } from "../support/server.ts"

const spans: Array<Tracer.NativeSpan> = []
const TestTracer = Layer.succeed(Tracer.Tracer)(Tracer.make({
  span: (options) => {
    const span = new Tracer.NativeSpan(options)
    spans.push(span)
    return span
  }
}))

const app: App = (scope, _receive, send) =>
  Effect.gen(function*() {
    if (scope.type !== "http") return
    yield* Effect.withSpan(Effect.void, "app work")
    yield* send({ type: "http.response.start", status: 201 })
    yield* send({ type: "http.response.body", body: new TextEncoder().encode("ok") })
  })

const attrs = (span: Tracer.NativeSpan) => Object.fromEntries(span.attributes)

describe("RUN-13: a server span per stream", () => {
  it("RUN-13: HTTP/2 with traceparent: one server span GET /a, its OpenTelemetry attributes and status, the caller's span as parent, the app's span inside", async () => {
    spans.length = 0
    const server = await listen(app, {}, TestTracer)
    try {
      const session = await connect(server.url)
      const r = await request(session, { ":path": "/a?x=1", "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "user-agent": "t/1" })
      expect(r.status).toBe(201)
      await closeSession(session)
    } finally {
      await server.close()
    }
    const serverSpan = spans.find((s) => s.name === "GET /a")!
    expect(serverSpan).toBeDefined()
    expect(serverSpan.kind).toBe("server")
    expect(attrs(serverSpan)).toMatchObject({
      "http.request.method": "GET",
      "url.path": "/a",
      "url.query": "x=1",
      "url.scheme": "http",
      "network.protocol.name": "http",
      "network.protocol.version": "2",
      "server.address": "127.0.0.1",
      "client.address": "127.0.0.1",
      "user_agent.original": "t/1",
      "http.response.status_code": 201,
      "egi.stream_id": 1
    })
    const parent = Option.getOrUndefined(serverSpan.parent)
    expect([parent?.traceId, parent?.spanId]).toEqual(["0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"])
    expect(serverSpan.traceId).toBe("0af7651916cd43dd8448eb211c80319c")
    const work = spans.find((s) => s.name === "app work")!
    expect(Option.getOrUndefined(work.parent)?.spanId).toBe(serverSpan.spanId)
    expect(serverSpan.status._tag).toBe("Ended")
  })

  it("RUN-13: HTTP/1.1 without traceparent: a root server span with protocol version 1.1; tracing false: no span at all", async () => {
    spans.length = 0
    const server = await listen(app, {}, TestTracer)
    try {
      expect((await fetch(server.url + "/b")).status).toBe(201)
    } finally {
      await server.close()
    }
    const b = spans.find((s) => s.name === "GET /b")!
    expect(attrs(b)["network.protocol.version"]).toBe("1.1")
    expect(Option.isNone(b.parent)).toBe(true)
    spans.length = 0
    const quiet = await listen(app, { tracing: false }, TestTracer)
    try {
      expect((await fetch(quiet.url + "/c")).status).toBe(201)
    } finally {
      await quiet.close()
    }
    expect(spans.map((s) => s.name)).toEqual(["app work"])
  })

  it("RUN-13: traceparent that does not parse gives no parent (W3C Trace Context §3.2)", () => {
    expect(parentOf(undefined)).toBeUndefined()
    expect(parentOf("00-00000000000000000000000000000000-b7ad6b7169203331-01")).toBeUndefined()
    expect(parentOf("00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01")).toBeUndefined()
    expect(parentOf("ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")).toBeUndefined()
    expect(parentOf("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331")).toBeUndefined()
    expect(parentOf("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00")?.sampled).toBe(false)
  })

  it("RUN-13: tracing \"auto\" (the default) makes no span on Effect's own default tracer; the app sees no current span", async () => {
    let current: string | undefined = "unset"
    const probe: App = (scope, _receive, send) =>
      Effect.gen(function*() {
        if (scope.type !== "http") return
        current = Option.getOrUndefined(yield* Effect.option(Effect.currentSpan))?.name
        yield* send({ type: "http.response.start", status: 200 })
        yield* send({ type: "http.response.body", body: new Uint8Array(0) })
      })
    const server = await listen(probe)
    try {
      expect((await fetch(server.url + "/d")).status).toBe(200)
    } finally {
      await server.close()
    }
    expect(current).toBeUndefined()
    const traced = await listen(probe, {}, TestTracer)
    try {
      expect((await fetch(traced.url + "/e")).status).toBe(200)
    } finally {
      await traced.close()
    }
    expect(current).toBe("GET /e")
  })

  it("RUN-13: a pushed stream's span is linked to the span of the stream that promised it (egi.link push_promise), in a trace of its own", async () => {
    spans.length = 0
    const pushing: App = (scope, _receive, send) =>
      Effect.gen(function*() {
        if (scope.type !== "http") return
        yield* send({ type: "http.response.start", status: 200 })
        if (scope.path === "/page") yield* send({ type: "http.response.push", path: "/style.css" })
        yield* send({ type: "http.response.body", body: new TextEncoder().encode(scope.path) })
      })
    const server = await listen(pushing, {}, TestTracer)
    try {
      const session = await connect(server.url)
      const pushed = new Promise<string>((resolve) =>
        session.once("stream", (stream, headers) => {
          stream.resume()
          stream.on("end", () => resolve(String(headers[":path"])))
        }))
      expect((await request(session, { ":path": "/page" })).status).toBe(200)
      expect(await pushed).toBe("/style.css")
      await closeSession(session)
    } finally {
      await server.close()
    }
    const page = spans.find((s) => s.name === "GET /page")!
    const style = spans.find((s) => s.name === "GET /style.css")!
    expect(style).toBeDefined()
    expect(style.links.map((l) => [l.span.spanId, l.attributes])).toEqual([[page.spanId, { "egi.link": "push_promise" }]])
    expect(style.traceId).not.toBe(page.traceId)
    expect(page.links).toEqual([])
  })
})
