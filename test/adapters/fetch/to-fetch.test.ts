/**
 * `toFetch` (spec.md §12.2): examples/echo.ts and test apps driven with
 * plain `Request` objects — the scope a fetch runtime can give, the body
 * read one `read()` per `receive`, the disconnect, the same send rules as
 * the runner, the bounded response queue, lifespan at the first fetch and
 * at `dispose` — then served by `@hono/node-server` on a real socket, and
 * wrapped back with `fromFetch`.
 */
import { serve as honoServe } from "@hono/node-server"
import { Effect } from "effect"
import type { AddressInfo } from "node:net"
import { describe, expect, it } from "vitest"
import echo from "../../../examples/echo.ts"
import { fromFetch, toFetch } from "../../../src/adapters/fetch/index.ts"
import type { EgiScope, HttpScope, Receive, Send } from "../../../src/index.ts"
import type { InboundEvent } from "../../../src/protocol/events.ts"
import { unsupportedScope } from "../../../src/protocol/unsupported.ts"
import { deferred, sleep, within } from "../../support/async.ts"
import { closeSession, connect, request as h2request } from "../../support/h2client.ts"
import { useServers } from "../../support/server.ts"
import { sha256, uploadChunks } from "./support.ts"

const KiB = 1024
const MiB = 1024 * KiB
const { serve, defer } = useServers({ drainTimeout: 500 })

/** A request body of `chunks`, one `enqueue` per pull, counting the pulls. */
const streamed = (chunks: ReadonlyArray<Uint8Array>) => {
  const counter = { pulls: 0 }
  let i = 0
  const body = new ReadableStream<Uint8Array>({
    pull: (c) => {
      counter.pulls++
      if (i < chunks.length) c.enqueue(chunks[i++]!)
      else c.close()
    }
  }, { highWaterMark: 0 })
  return { body, counter }
}

const post = (body: ReadableStream<Uint8Array> | Uint8Array | null, init: RequestInit = {}) =>
  new Request("http://example.test/echo", { method: "POST", body, duplex: "half", ...init } as RequestInit)

const text = (s: string) => new TextEncoder().encode(s)

describe("toFetch(examples/echo.ts) with plain Requests", () => {
  it("FETCH-8 HTTP-14: a streamed request body comes back byte-exact, streamed, with its content-type", async () => {
    const h = toFetch(echo, { log: false })
    defer(() => h.dispose())
    const { chunks, sha256: expected } = uploadChunks(4 * MiB)
    const { body } = streamed(chunks)
    const res = await h.fetch(post(body, { headers: { "content-type": "application/x-test" } }))
    expect(res.status).toBe(200)
    expect(res.headers.get("content-type")).toBe("application/x-test")
    const bytes = new Uint8Array(await res.arrayBuffer())
    expect(bytes.length).toBe(4 * MiB)
    expect(sha256(bytes)).toBe(expected)
  })

  it("FETCH-8 HTTP-11: receive reads one chunk per call, nothing ahead: an app that took one event has pulled the body once", async () => {
    const go = deferred()
    const took = deferred()
    const h = toFetch(Effect.fnUntraced(function*(scope: EgiScope, receive: Receive, send: Send) {
      if (scope.type !== "http") return yield* unsupportedScope(scope)
      const first = yield* receive
      took.resolve()
      yield* Effect.promise(() => go.promise)
      let length = first.type === "http.request" ? first.body.length : 0
      for (let e = yield* receive; e.type === "http.request"; e = yield* receive) {
        length += e.body.length
        if (!e.moreBody) break
      }
      yield* send({ type: "http.response.start", status: 200 })
      yield* send({ type: "http.response.body", body: text(String(length)) })
    }))
    defer(() => h.dispose())
    const { body, counter } = streamed([text("a"), text("bb"), text("ccc"), text("dddd")])
    const res = h.fetch(post(body))
    await within(took.promise, 2000, "the first receive")
    await sleep(50)
    expect(counter.pulls).toBe(1)
    go.resolve()
    expect(await (await res).text()).toBe("10")
    expect(counter.pulls).toBe(5)
  })

  it("FETCH-10: a 204 and a HEAD are Responses with a null body; a one-chunk response is one Uint8Array body", async () => {
    const h = toFetch(Effect.fnUntraced(function*(scope: EgiScope, _receive: Receive, send: Send) {
      if (scope.type !== "http") return yield* unsupportedScope(scope)
      const status = scope.path === "/204" ? 204 : 200
      yield* send({ type: "http.response.start", status, headers: [["x-k", "v"], ["content-length", status === 204 ? "" : "5"]].filter(([, v]) => v !== "") as Array<[string, string]> })
      yield* send({ type: "http.response.body", body: status === 204 ? new Uint8Array(0) : text("hello") })
    }))
    defer(() => h.dispose())
    const noContent = await h.fetch(new Request("http://x/204"))
    expect(noContent.status).toBe(204)
    expect(noContent.body).toBeNull()
    expect(noContent.headers.get("x-k")).toBe("v")
    const head = await h.fetch(new Request("http://x/", { method: "HEAD" }))
    expect(head.status).toBe(200)
    expect(head.body).toBeNull()
    expect(head.headers.get("content-length")).toBe("5")
    const get = await h.fetch(new Request("http://x/"))
    expect(await get.text()).toBe("hello")
  })
})

describe("FETCH-7: the scope a fetch runtime gives", () => {
  it("FETCH-7 CORE-7: httpVersion 1.1, the URL's parts, the Request's fields, extensions {}; an extension's event fails with CORE-7", async () => {
    let seen: HttpScope | undefined
    let trailers: unknown
    const h = toFetch(Effect.fnUntraced(function*(scope: EgiScope, _receive: Receive, send: Send) {
      if (scope.type !== "http") return yield* unsupportedScope(scope)
      seen = scope
      trailers = yield* Effect.flip(send({ type: "http.response.start", status: 200, trailers: true }))
      yield* send({ type: "http.response.start", status: 200 })
      yield* send({ type: "http.response.body", body: text("ok") })
    }), { rootPath: "/mnt", client: () => ["192.0.2.1", 4321] })
    defer(() => h.dispose())
    const res = await h.fetch(new Request("https://example.test:8443/mnt/caf%C3%A9?q=1", { headers: { "X-B": "2", "x-a": "1" } }))
    expect(await res.text()).toBe("ok")
    expect(seen).toMatchObject({
      type: "http",
      egi: { version: "0.1", specVersion: "0.4" },
      httpVersion: "1.1",
      method: "GET",
      scheme: "https",
      authority: "example.test:8443",
      rawPath: "/mnt/caf%C3%A9",
      path: "/mnt/café",
      queryString: "q=1",
      rootPath: "/mnt",
      headers: [["x-a", "1"], ["x-b", "2"]],
      client: ["192.0.2.1", 4321],
      server: null,
      streamId: 1,
      extensions: {}
    })
    expect(trailers).toMatchObject({ _tag: "LocalProtocolError", rule: "CORE-7" })
  })
})

describe("FETCH-9: send keeps the runner's rules", () => {
  it("FETCH-9 HTTP-4 RUN-2: a bad event from the app fails its send with the rule, and the Response is a 500", async () => {
    let error: unknown
    const h = toFetch(Effect.fnUntraced(function*(scope: EgiScope, _receive: Receive, send: Send) {
      if (scope.type !== "http") return yield* unsupportedScope(scope)
      error = yield* Effect.flip(send({ type: "http.response.start", status: 99 }))
      yield* send({ type: "http.response.start", status: 200, headers: [["bad name", "x"]] })
    }), { log: false })
    defer(() => h.dispose())
    const res = await h.fetch(new Request("http://x/"))
    expect(res.status).toBe(500)
    expect(error).toMatchObject({ _tag: "LocalProtocolError", rule: "HTTP-4" })
  })

  it("FETCH-9 RUN-4: an app that returns before its first body gets a 500; one that fails mid-body errors the body stream", async () => {
    const h = toFetch(Effect.fnUntraced(function*(scope: EgiScope, _receive: Receive, send: Send) {
      if (scope.type !== "http") return yield* unsupportedScope(scope)
      yield* send({ type: "http.response.start", status: 200 })
      if (scope.path === "/head-only") return
      yield* send({ type: "http.response.body", body: text("part"), moreBody: true })
      return yield* Effect.fail(new Error("mid-body"))
    }), { log: false })
    defer(() => h.dispose())
    expect((await h.fetch(new Request("http://x/head-only"))).status).toBe(500)
    const res = await h.fetch(new Request("http://x/mid"))
    expect(res.status).toBe(200)
    await expect(res.text()).rejects.toThrow()
  })
})

describe("FETCH-10: the response body's queue is bounded", () => {
  it("FETCH-10 HTTP-10: send waits while the runtime does not read (under writeBufferSize + one chunk queued), then all of it arrives", async () => {
    const counter = { sent: 0 }
    const chunk = new Uint8Array(64 * KiB).fill(0x61)
    const h = toFetch(Effect.fnUntraced(function*(scope: EgiScope, _receive: Receive, send: Send) {
      if (scope.type !== "http") return yield* unsupportedScope(scope)
      yield* send({ type: "http.response.start", status: 200 })
      for (let i = 0; i < 64; i++) {
        yield* send({ type: "http.response.body", body: chunk, moreBody: true })
        counter.sent += chunk.length
      }
      yield* send({ type: "http.response.body" })
    }))
    defer(() => h.dispose())
    const res = await h.fetch(new Request("http://x/"))
    await sleep(100)
    expect(counter.sent).toBeLessThanOrEqual(256 * KiB)
    expect((await res.arrayBuffer()).byteLength).toBe(4 * MiB)
    expect(counter.sent).toBe(4 * MiB)
  })

  it("FETCH-8 HTTP-15: the Request's signal aborting ends the stream: a waiting send fails with StreamClosedError, receive says connection", async () => {
    const outcome = deferred<string>()
    const after = deferred<InboundEvent>()
    const h = toFetch((scope, receive, send) =>
      Effect.gen(function*() {
        if (scope.type !== "http") return yield* unsupportedScope(scope)
        yield* send({ type: "http.response.start", status: 200 })
        const big = new Uint8Array(512 * KiB)
        const r = yield* Effect.result(send({ type: "http.response.body", body: big, moreBody: true }))
        outcome.resolve(r._tag === "Failure" ? (r.failure as { _tag: string })._tag : "sent")
        after.resolve(yield* receive)
      }))
    defer(() => h.dispose())
    const ac = new AbortController()
    const res = await h.fetch(new Request("http://x/", { signal: ac.signal }))
    expect(res.status).toBe(200)
    ac.abort()
    expect(await within(outcome.promise, 2000, "the send")).toBe("StreamClosedError")
    expect(await within(after.promise, 2000, "receive")).toMatchObject({ type: "http.disconnect", end: "connection" })
  })

  it("FETCH-8 HTTP-15: the runtime cancelling the response body interrupts an app that is not in receive", async () => {
    const interrupted = deferred()
    const h = toFetch((scope, _receive, send) =>
      Effect.gen(function*() {
        if (scope.type !== "http") return yield* unsupportedScope(scope)
        yield* send({ type: "http.response.start", status: 200 })
        yield* send({ type: "http.response.body", body: text("x"), moreBody: true })
        yield* Effect.never
      }).pipe(Effect.onInterrupt(() => Effect.sync(() => interrupted.resolve()))))
    defer(() => h.dispose())
    const res = await h.fetch(new Request("http://x/"))
    const reader = res.body!.getReader()
    await reader.read()
    await reader.cancel()
    await within(interrupted.promise, 2000, "the interruption")
  })
})

describe("FETCH-11: lifespan", () => {
  it("FETCH-11 LIFE-1 LIFE-3 LIFE-4: startup at the first fetch, once; state copied into each scope; dispose drains, then shuts down; 503 after", async () => {
    const log: Array<string> = []
    let specVersions: unknown
    const app = (scope: EgiScope, receive: Receive, send: Send) =>
      Effect.gen(function*() {
        if (scope.type === "lifespan") {
          specVersions = scope.egi.specVersions
          yield* receive
          log.push("startup")
          scope.state.db = "ready"
          yield* send({ type: "lifespan.startup.complete" })
          yield* receive
          log.push("shutdown")
          yield* send({ type: "lifespan.shutdown.complete" })
          return
        }
        yield* Effect.sleep(50)
        log.push(`request ${String(scope.state.db)}`)
        yield* send({ type: "http.response.start", status: 200 })
        yield* send({ type: "http.response.body", body: text(String(scope.state.db)) })
      })
    const h = toFetch(app)
    expect(log).toEqual([])
    const [a, b] = await Promise.all([h.fetch(new Request("http://x/")), h.fetch(new Request("http://x/"))])
    expect([await a.text(), await b.text()]).toEqual(["ready", "ready"])
    expect(specVersions).toEqual({ http: "0.4", lifespan: "0.4" })
    const late = h.fetch(new Request("http://x/"))
    await sleep(5)
    const disposed = h.dispose()
    expect((await h.fetch(new Request("http://x/"))).status).toBe(503)
    expect(await (await late).text()).toBe("ready")
    await disposed
    expect(log).toEqual(["startup", "request ready", "request ready", "request ready", "shutdown"])
  })

  it("FETCH-11 LIFE-1: lifespan.startup.failed makes every request 500", async () => {
    const h = toFetch((scope: EgiScope, receive: Receive, send: Send) =>
      Effect.gen(function*() {
        if (scope.type !== "lifespan") return yield* unsupportedScope(scope)
        yield* receive
        yield* send({ type: "lifespan.startup.failed", message: "no database" })
      }), { log: false })
    defer(() => h.dispose())
    expect((await h.fetch(new Request("http://x/"))).status).toBe(500)
    expect((await h.fetch(new Request("http://x/"))).status).toBe(500)
  })
})

describe("toFetch on a runtime, and back", () => {
  it("FETCH-8: toFetch(echo) served by @hono/node-server on 127.0.0.1:0 echoes a 2 MiB upload and answers a GET", async () => {
    const h = toFetch(echo, { log: false })
    defer(() => h.dispose())
    const server = await new Promise<ReturnType<typeof honoServe>>((resolve) => {
      const s = honoServe({ fetch: h.fetch, hostname: "127.0.0.1", port: 0 }, () => resolve(s))
    })
    defer(() => new Promise<void>((resolve) => server.close(() => resolve())))
    const port = (server.address() as AddressInfo).port
    const { chunks, sha256: expected } = uploadChunks(2 * MiB)
    const res = await fetch(`http://127.0.0.1:${port}/echo`, { method: "POST", body: Buffer.concat(chunks), headers: { "content-type": "application/x-test" } })
    expect(res.status).toBe(200)
    expect(res.headers.get("content-type")).toBe("application/x-test")
    expect(sha256(new Uint8Array(await res.arrayBuffer()))).toBe(expected)
    const get = await fetch(`http://127.0.0.1:${port}/`)
    expect(get.status).toBe(200)
    expect((await get.arrayBuffer()).byteLength).toBe(0)
  })

  it("FETCH-1 FETCH-8: fromFetch(toFetch(echo).fetch) on the runner round-trips a 4 MiB upload over h2c and HTTP/1.1", async () => {
    const h = toFetch(echo, { log: false })
    defer(() => h.dispose())
    const server = await serve(fromFetch(h.fetch))
    const { chunks, sha256: expected } = uploadChunks(4 * MiB)
    const session = await connect(server.url)
    defer(() => closeSession(session))
    const r2 = await h2request(session, { ":method": "POST", ":path": "/" }, chunks)
    expect(r2.status).toBe(200)
    expect(sha256(r2.body)).toBe(expected)
    const r1 = await fetch(`${server.url}/`, { method: "POST", body: Buffer.concat(chunks) })
    expect(r1.status).toBe(200)
    expect(sha256(new Uint8Array(await r1.arrayBuffer()))).toBe(expected)
  })
})
