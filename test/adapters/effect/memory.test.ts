/**
 * fromHttpApp in memory (src/testing `request`, validated): the response
 * mapping of spec.md §12.1 event by event, and the body round trip as a
 * fast-check property.
 */
import { ByteSize, Context, Effect, Exit, Stream } from "effect"
import * as HttpIncomingMessage from "effect/http/HttpIncomingMessage"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { EgiHttpServer, fromHttpApp } from "../../../src/adapters/effect/index.ts"
import { fstatSync, readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import type { App, Receive } from "../../../src/protocol/app.ts"
import type { EgiScope } from "../../../src/protocol/scope.ts"
import { chunked, request, validate } from "../../../src/testing/index.ts"

const run = (app: ReturnType<typeof fromHttpApp>, req: Parameters<typeof request>[1] = {}) =>
  Effect.runPromise(request(validate(app as never), req))

const echo = fromHttpApp(Effect.gen(function*() {
  const req = yield* HttpServerRequest.HttpServerRequest
  return HttpServerResponse.stream(req.stream, { contentType: "application/octet-stream" })
}))

describe("fromHttpApp in memory", () => {
  it("HTTPAPP-4 text, JSON, HEAD, 204 (no content-length) and one set-cookie field per cookie", async () => {
    const app = fromHttpApp(Effect.gen(function*() {
      const req = yield* HttpServerRequest.HttpServerRequest
      if (req.url === "/json") return yield* HttpServerResponse.json({ a: 1 })
      if (req.url === "/none") return HttpServerResponse.empty({ status: 204 })
      return HttpServerResponse.text("hello").pipe(
        HttpServerResponse.setCookiesUnsafe([["a", "1", {}], ["b", "2", { httpOnly: true }]])
      )
    }))
    const text = await run(app)
    expect(text.status).toBe(200)
    expect(text.text).toBe("hello")
    expect(text.headers.filter(([n]) => n === "set-cookie").map(([, v]) => v)).toEqual(["a=1", "b=2; HttpOnly"])
    const json = await run(app, { path: "/json" })
    expect(JSON.parse(json.text)).toEqual({ a: 1 })
    const head = await run(app, { method: "HEAD" })
    expect(head.status).toBe(200)
    expect(head.body.length).toBe(0)
    expect(head.complete).toBe(true)
    const none = await run(app, { path: "/none" })
    expect(none.status).toBe(204)
    expect(none.complete).toBe(true)
  })

  it("HTTPAPP-4 HTTPAPP-5 a streamed body goes out chunk by chunk; a stream failure after the head fails the app (the runner resets)", async () => {
    const app = fromHttpApp(Effect.succeed(HttpServerResponse.stream(Stream.make(new Uint8Array([1]), new Uint8Array([2])))))
    const res = await run(app)
    expect([...res.body]).toEqual([1, 2])
    const failing = fromHttpApp(Effect.succeed(HttpServerResponse.stream(Stream.concat(Stream.make(new Uint8Array([1])), Stream.fail("boom")))))
    const exit = await Effect.runPromiseExit(request(validate(failing as never), {}))
    expect(exit._tag).toBe("Failure")
  })

  it("HTTPAPP-5 a header value send refuses fails the app before anything went out (the runner answers 500)", async () => {
    const app = fromHttpApp(Effect.succeed(HttpServerResponse.text("x", { headers: { "x-bad": "a\nb" } })))
    const exit = await Effect.runPromiseExit(request(validate(app as never), {}))
    expect(exit._tag).toBe("Failure")
  })

  it("HTTPAPP-2 HTTPAPP-4 bodies round-trip byte-exact with random chunking (fast-check)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 50_000 }).chain((bytes) => fc.tuple(fc.constant(bytes), chunked(bytes))), async ([bytes, chunks]) => {
        const res = await run(echo, { method: "POST", body: chunks })
        expect(res.status).toBe(200)
        expect(Buffer.from(res.body).equals(Buffer.from(bytes))).toBe(true)
      }),
      { numRuns: 50 }
    )
  })
})

class Greeting extends Context.Service<Greeting, string>()("test/memory/Greeting") {}

describe("fromHttpApp: the request and the app", () => {
  it("HTTPAPP-1 the request presents the scope: method, url, folded headers, host, remote address, source", async () => {
    let seen: EgiScope | undefined
    let source: object | undefined
    const inner = fromHttpApp(Effect.gen(function*() {
      const req = yield* HttpServerRequest.HttpServerRequest
      source = req.source
      return yield* HttpServerResponse.json({
        method: req.method,
        url: req.url,
        originalUrl: req.originalUrl,
        headers: { ...req.headers },
        cookies: req.cookies,
        remote: req.remoteAddress._tag
      })
    }))
    const app: App = (scope, receive, send) => {
      seen = scope
      return inner(scope, receive, send)
    }
    const res = await Effect.runPromise(request(validate(app), {
      method: "patch",
      path: "/a%20b?x=1&y",
      headers: [["x-a", "1"], ["cookie", "a=1"], ["x-a", "2"], ["cookie", "b=2"]]
    }))
    const body = JSON.parse(res.text)
    expect(body.method).toBe("PATCH")
    expect(body.url).toBe("/a%20b?x=1&y")
    expect(body.headers["x-a"]).toBe("1, 2")
    expect(body.headers.cookie).toBe("a=1; b=2")
    expect(body.cookies).toEqual({ a: "1", b: "2" })
    expect(source).toBe(seen)
  })

  it("HTTPAPP-2 request.stream pulls receive once per chunk it yields, nothing ahead", async () => {
    let receives = 0
    const inner = fromHttpApp(Effect.gen(function*() {
      const req = yield* HttpServerRequest.HttpServerRequest
      const first = yield* Stream.runCollect(Stream.take(req.stream, 1))
      return HttpServerResponse.text(String(first[0]!.length))
    }))
    const app: App = (scope, receive, send) => {
      const counted: Receive = Effect.tap(receive, () => Effect.sync(() => void receives++))
      return inner(scope, counted, send)
    }
    const res = await Effect.runPromise(request(validate(app), { method: "POST", body: ["abc", "de", "f"] }))
    expect(res.text).toBe("3")
    expect(receives).toBe(1)
  })

  it("HTTPAPP-2 the whole body within MaxBodySize, else effect's 413", async () => {
    const app = fromHttpApp(Effect.gen(function*() {
      const req = yield* HttpServerRequest.HttpServerRequest
      const text = yield* req.text
      return HttpServerResponse.text(text)
    }).pipe(Effect.provideService(HttpIncomingMessage.MaxBodySize, ByteSize.bytes(10))))
    expect((await run(app, { method: "POST", body: ["12345", "6789"] })).text).toBe("123456789")
    expect((await run(app, { method: "POST", body: ["12345", "67890", "1"] })).status).toBe(413)
    expect((await run(app, { method: "POST", body: "x".repeat(11), headers: [["content-length", "11"]] })).status).toBe(413)
  })

  it("HTTPAPP-8 the handler runs with the caller's context (the runner's); lifespan is unsupported", async () => {
    const app = fromHttpApp(Effect.gen(function*() {
      return HttpServerResponse.text(yield* Greeting)
    }))
    const res = await Effect.runPromise(request(validate(app as App), {}).pipe(Effect.provideService(Greeting, "from the runner")))
    expect(res.text).toBe("from the runner")
    const lifespan = { type: "lifespan", connectionId: 0, streamId: 0, egi: { version: "0.1" }, state: {} } as const
    const exit = await Effect.runPromiseExit(app(lifespan, Effect.never, () => Effect.void).pipe(Effect.provideService(Greeting, "")))
    expect(Exit.isFailure(exit) && JSON.stringify(exit.cause)).toContain("UnsupportedScopeError")
  })
})

describe("fromHttpApp: file responses", () => {
  const file = fileURLToPath(import.meta.url)
  const bytes = readFileSync(file)
  const app = fromHttpApp(Effect.gen(function*() {
    const req = yield* HttpServerRequest.HttpServerRequest
    return req.url === "/part"
      ? yield* HttpServerResponse.file(file, { offset: 10, bytesToRead: 100 })
      : yield* HttpServerResponse.file(file)
  }))
  const serve = (req: Parameters<typeof request>[1]) =>
    Effect.runPromise(request(validate(app as App), req).pipe(Effect.provide(EgiHttpServer.layerHttpServices)))

  it("HTTPAPP-6 a whole file is http.response.pathsend with an absolute path", async () => {
    const res = await serve({})
    const event = res.events.find((e) => e.type === "http.response.pathsend")
    expect(event).toMatchObject({ path: file })
    expect(Buffer.from(res.body).equals(bytes)).toBe(true)
  })

  it("HTTPAPP-6 a range is http.response.zerocopysend, its descriptor closed once send completed", async () => {
    const res = await serve({ path: "/part" })
    const event = res.events.find((e) => e.type === "http.response.zerocopysend")
    expect(event).toMatchObject({ offset: 10, count: 100 })
    expect(Buffer.from(res.body).equals(bytes.subarray(10, 110))).toBe(true)
    expect(() => fstatSync((event as { file: number }).file)).toThrow()
  })

  it("HTTPAPP-6 without the file extensions the file is streamed, byte-exact", async () => {
    const res = await serve({ extensions: {} })
    expect(res.events.some((e) => e.type === "http.response.pathsend" || e.type === "http.response.zerocopysend")).toBe(false)
    expect(Buffer.from(res.body).equals(bytes)).toBe(true)
    const part = await serve({ path: "/part", extensions: {} })
    expect(Buffer.from(part.body).equals(bytes.subarray(10, 110))).toBe(true)
  })
})
