/**
 * fromHttpApp in memory (src/testing `request`, validated): the response
 * mapping of spec.md §12.1 event by event, and the body round trip as a
 * fast-check property.
 */
import { Effect, Stream } from "effect"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as Cookies from "effect/http/Cookies"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { fromHttpApp } from "../../../src/adapters/effect/index.ts"
import { chunked, request, validate } from "../../../src/testing/index.ts"

const run = (app: ReturnType<typeof fromHttpApp>, req: Parameters<typeof request>[1] = {}) =>
  Effect.runPromise(request(validate(app as never), req))

const echo = fromHttpApp(Effect.gen(function*() {
  const req = yield* HttpServerRequest.HttpServerRequest
  return HttpServerResponse.stream(req.stream, { contentType: "application/octet-stream" })
}))

describe("fromHttpApp in memory", () => {
  it("text, JSON, HEAD, 204 and cookies", async () => {
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
    void Cookies
  })

  it("a streamed body goes out chunk by chunk and a stream failure after the head is a reset", async () => {
    const app = fromHttpApp(Effect.succeed(HttpServerResponse.stream(Stream.make(new Uint8Array([1]), new Uint8Array([2])))))
    const res = await run(app)
    expect([...res.body]).toEqual([1, 2])
    const failing = fromHttpApp(Effect.succeed(HttpServerResponse.stream(Stream.concat(Stream.make(new Uint8Array([1])), Stream.fail("boom")))))
    const exit = await Effect.runPromiseExit(request(validate(failing as never), {}))
    expect(exit._tag).toBe("Failure")
  })

  it("a bad header value is a 500", async () => {
    const app = fromHttpApp(Effect.succeed(HttpServerResponse.text("x", { headers: { "x-bad": "a\nb" } })))
    const exit = await Effect.runPromiseExit(request(validate(app as never), {}))
    expect(exit._tag).toBe("Failure")
  })

  it("bodies round-trip byte-exact with random chunking", async () => {
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
