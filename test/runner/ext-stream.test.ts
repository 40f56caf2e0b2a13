/**
 * The stream extensions of spec.md §7 on the wire: push (§7.1), early hints
 * (§7.2), trailers both ways (§7.3), the app's reset (§7.4), GOAWAY (§7.5),
 * header indexing (§7.8) and the connection view (§7.10). Clients: node:http2
 * (push streams, 103, trailers, GOAWAY), a raw frame client (frame order,
 * END_STREAM before RST_STREAM), nghttp (HPACK never-indexed), curl and raw
 * HTTP/1.1 sockets.
 */
import { Effect } from "effect"
import type * as http2 from "node:http2"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import pushApp from "../../examples/push.ts"
import trailersApp from "../../examples/trailers.ts"
import type { App } from "../../src/protocol/app.ts"
import type { SendError } from "../../src/protocol/errors.ts"
import type { OutboundEvent } from "../../src/protocol/events.ts"
import { Extension } from "../../src/protocol/extensions.ts"
import type { HttpScope } from "../../src/protocol/scope.ts"
import { run } from "../support/async.ts"
import { rawHttp } from "../support/clients.ts"
import { closeSession, collect, connect, type H2Result, request } from "../support/h2client.ts"
import { ended, Flag, frame, FrameType, rawH2, requestHeaders, rstCode } from "../support/h2raw.ts"
import { listen, type TestServer } from "../support/server.ts"

const PUSH_PROMISE = 5
const text = (s: string) => new TextEncoder().encode(s)

/** What a send ended with: "ok" or the rule / tag of its failure. */
const outcome = (effect: Effect.Effect<void, SendError>): Effect.Effect<string> =>
  Effect.match(effect, {
    onSuccess: () => "ok",
    onFailure: (e) => (e._tag === "LocalProtocolError" ? e.rule : e._tag)
  })

/** Sends `events` in order, then answers 200 with the outcomes joined by spaces. */
const probeApp = (events: (scope: HttpScope) => ReadonlyArray<unknown>, finish = true): App => (scope, _receive, send) =>
  Effect.gen(function*() {
    if (scope.type !== "http") return
    const results: Array<string> = []
    for (const e of events(scope)) results.push(yield* outcome(send(e as OutboundEvent)))
    if (!finish) return
    yield* Effect.ignore(send({ type: "http.response.start", status: 200 }))
    yield* Effect.ignore(send({ type: "http.response.body", body: text(results.join(" ")) }))
  })

/** A request on a node:http2 session, with the 103s and trailers it got. */
const h2get = (
  session: http2.ClientHttp2Session,
  headers: http2.OutgoingHttpHeaders
): Promise<
  H2Result & {
    informational: Array<http2.IncomingHttpHeaders>
    informationalRaw: Array<ReadonlyArray<string>>
    trailers: http2.IncomingHttpHeaders | undefined
  }
> => {
  const stream = session.request(headers)
  const informational: Array<http2.IncomingHttpHeaders> = []
  const informationalRaw: Array<ReadonlyArray<string>> = []
  let trailers: http2.IncomingHttpHeaders | undefined
  stream.on("headers", (h, _flags, raw: Array<string>) => {
    informational.push(h)
    informationalRaw.push(raw)
  })
  stream.on("trailers", (h) => void (trailers = h))
  return collect(stream).then((r) => ({ ...r, informational, informationalRaw, trailers }))
}

describe("server push (spec.md §7.1)", () => {
  let server: TestServer
  beforeAll(async () => {
    server = await listen(pushApp)
  })
  afterAll(() => server.close())

  it("HTTP-20: a push before the start sends PUSH_PROMISE before the parent's HEADERS, then the pushed response", async () => {
    const c = await rawH2(server.port, [requestHeaders(1, server.port, "/")])
    try {
      expect(await c.until((f) => ended(f, 1) && ended(f, 2), 3000)).toBe(true)
      const promise = c.frames.findIndex((f) => f.type === PUSH_PROMISE && f.stream === 1)
      const head = c.frames.findIndex((f) => f.type === FrameType.HEADERS && f.stream === 1)
      expect(promise).toBeGreaterThanOrEqual(0)
      expect(promise).toBeLessThan(head)
      // The promised stream ID is the first 4 bytes of the PUSH_PROMISE payload.
      expect(c.frames[promise]!.payload.readUInt32BE(0) & 0x7fffffff).toBe(2)
      const pushedData = Buffer.concat(c.frames.filter((f) => f.type === FrameType.DATA && f.stream === 2).map((f) => f.payload))
      expect(pushedData.toString()).toContain("rebeccapurple")
    } finally {
      c.destroy()
    }
  })

  it("HTTP-20: the node:http2 client receives the pushed /style.css with its promised request fields", async () => {
    const session = await connect(`http://127.0.0.1:${server.port}`)
    try {
      const pushed = new Promise<{ path: string; accept: string; body: string }>((resolve) => {
        session.once("stream", (stream: http2.ClientHttp2Stream, headers: http2.IncomingHttpHeaders) => {
          collect(stream).then((r) =>
            resolve({ path: String(headers[":path"]), accept: String(headers["accept"]), body: r.body.toString() })
          )
        })
      })
      const page = await h2get(session, { ":path": "/" })
      expect(page.status).toBe(200)
      expect(page.headers["link"]).toBeUndefined()
      const p = await pushed
      expect(p).toEqual({ path: "/style.css", accept: "text/css", body: "h1 { color: rebeccapurple }\n" })
    } finally {
      await closeSession(session)
    }
  })

  it("HTTP-20: with SETTINGS_ENABLE_PUSH 0 the push becomes a link preload field and no PUSH_PROMISE is sent", async () => {
    const session = await connect(`http://127.0.0.1:${server.port}`, { settings: { enablePush: false } })
    try {
      let pushes = 0
      session.on("stream", () => pushes++)
      const page = await h2get(session, { ":path": "/" })
      expect(page.status).toBe(200)
      expect(page.headers["link"]).toBe("</style.css>; rel=preload; as=style")
      expect(pushes).toBe(0)
    } finally {
      await closeSession(session)
    }
  })

  it("HTTP-20: on HTTP/1.1 the push becomes a link preload field", async () => {
    const r = await run("curl", ["-s", "-i", `http://127.0.0.1:${server.port}/`])
    expect(r.stdout.toString()).toMatch(/\r\nlink: <\/style\.css>; rel=preload; as=style\r\n/i)
  })

  it("HTTP-20: a push that cannot be promised becomes a preload link with the app's as and link-params, or the as its suffix implies", async () => {
    const app = probeApp(() => [
      { type: "http.response.push", path: "/f.woff2", as: "font", linkParams: ['type="font/woff2"'] },
      { type: "http.response.push", path: "/app.js?v=2" },
      { type: "http.response.push", path: "/data", as: "fetch", linkParams: ["crossorigin=use-credentials"] },
      { type: "http.response.push", path: "/plain" },
      { type: "http.response.push", path: "/x", as: "not a token" },
      { type: "http.response.push", path: "/x", linkParams: ["rel=stylesheet"] },
      { type: "http.response.push", path: "/x", linkParams: ["a;b"] }
    ])
    const s = await listen(app)
    try {
      const r = await rawHttp(s.port, [`GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`])
      const links = r.text.split("\r\n").filter((l) => /^link:/i.test(l)).map((l) => l.slice(6))
      expect(links).toEqual([
        `</f.woff2>; rel=preload; as=font; type="font/woff2"; crossorigin`,
        "</app.js?v=2>; rel=preload; as=script",
        "</data>; rel=preload; as=fetch; crossorigin=use-credentials",
        "</plain>; rel=preload"
      ])
      expect(r.text.slice(r.text.indexOf("\r\n\r\n") + 4)).toBe("ok ok ok ok HTTP-20 HTTP-20 HTTP-20")
    } finally {
      await s.close()
    }
  })

  it("HTTP-20: a push after the last body, or of a relative path, fails with the rule", async () => {
    const app: App = (scope, _receive, send) =>
      Effect.gen(function*() {
        if (scope.type !== "http") return
        const relative = yield* outcome(send({ type: "http.response.push", path: "style.css" }))
        yield* send({ type: "http.response.start", status: 200, headers: [["x-relative", relative]], trailers: false })
        yield* send({ type: "http.response.body", body: text("x") })
        const late = yield* outcome(send({ type: "http.response.push", path: "/late" }))
        if (late !== "HTTP-3") throw new Error(`late push: ${late}`)
      })
    const s = await listen(app)
    try {
      const session = await connect(`http://127.0.0.1:${s.port}`)
      const r = await h2get(session, { ":path": "/" })
      expect(r.headers["x-relative"]).toBe("HTTP-20")
      await closeSession(session)
      expect(s.lines.error.join("\n")).not.toContain("late push")
    } finally {
      await s.close()
    }
  })

  it("HTTP-20: the pushed stream's scope is a GET with pushedBy = the parent stream, and pushedStreams lists the promise", async () => {
    const seen: Array<{ path: string; method: string; pushedBy: number | null; streamId: number }> = []
    let pushedStreams: ReadonlyArray<number> = []
    const app: App = (scope, _receive, send) =>
      Effect.gen(function*() {
        if (scope.type !== "http") return
        const view = scope.extensions["http.connection"]!
        seen.push({ path: scope.path, method: scope.method, pushedBy: view.pushedBy, streamId: view.streamId })
        if (scope.path === "/") {
          yield* send({ type: "http.response.push", path: "/a" })
          yield* send({ type: "http.response.push", path: "/b" })
          pushedStreams = yield* view.pushedStreams
          // A pushed stream cannot push (RFC 9113 §8.4): promise is false there.
        }
        const promise = scope.extensions["http.response.push"]!.promise
        yield* send({ type: "http.response.start", status: 200, headers: [["x-promise", String(promise)]] })
        yield* send({ type: "http.response.body", body: text(scope.path) })
      })
    const s = await listen(app)
    try {
      const session = await connect(`http://127.0.0.1:${s.port}`)
      const pushedPromise: Array<Promise<string>> = []
      // A pushed response's head arrives as the stream's 'push' event.
      session.on("stream", (stream: http2.ClientHttp2Stream) =>
        pushedPromise.push(
          new Promise((resolve) => {
            stream.once("push", (h: http2.IncomingHttpHeaders) => resolve(String(h["x-promise"])))
            stream.resume()
          })
        ))
      const r = await h2get(session, { ":path": "/" })
      expect(r.headers["x-promise"]).toBe("true")
      const pushed = await Promise.all(pushedPromise)
      expect(pushed).toEqual(["false", "false"])
      await closeSession(session)
      expect(pushedStreams).toEqual([2, 4])
      const byPath = Object.fromEntries(seen.map((x) => [x.path, x]))
      expect(byPath["/"]!.pushedBy).toBeNull()
      expect(byPath["/a"]).toEqual({ path: "/a", method: "GET", pushedBy: 1, streamId: 2 })
      expect(byPath["/b"]).toEqual({ path: "/b", method: "GET", pushedBy: 1, streamId: 4 })
    } finally {
      await s.close()
    }
  })
  it("HTTP-20: promise is false on a stream the client reset in the same write as its HEADERS (no PUSH_PROMISE can follow)", async () => {
    const seen: Array<boolean> = []
    const app: App = (scope, _receive, send) =>
      Effect.gen(function*() {
        if (scope.type !== "http") return
        seen.push(scope.extensions["http.response.push"]!.promise)
        yield* send({ type: "http.response.start", status: 200 })
        yield* send({ type: "http.response.body", body: text("x") })
      }).pipe(Effect.ignore)
    const s = await listen(app)
    try {
      const rst = Buffer.alloc(4)
      rst.writeUInt32BE(0) // NO_ERROR: node keeps the closed stream, and the app is called on it.
      const c = await rawH2(s.port, [requestHeaders(1, s.port, "/", [], false), frame(FrameType.RST_STREAM, 0, 1, rst), requestHeaders(3, s.port, "/")])
      try {
        expect(await c.until((f) => ended(f, 3), 3000)).toBe(true)
        await new Promise((resolve) => setTimeout(resolve, 50))
        expect(seen.sort()).toEqual([false, true])
      } finally {
        c.destroy()
      }
    } finally {
      await s.close()
    }
  })

  it("HTTP-20: promise follows the client's SETTINGS_ENABLE_PUSH, from the connection's first stream and as the client changes it", async () => {
    const app: App = (scope, _receive, send) =>
      Effect.gen(function*() {
        if (scope.type !== "http") return
        const promise = scope.extensions["http.response.push"]!.promise
        yield* send({ type: "http.response.start", status: 200, headers: [["x-promise", String(promise)]] })
        yield* send({ type: "http.response.body", body: text(scope.path) })
      })
    const s = await listen(app)
    try {
      const refusing = await connect(`http://127.0.0.1:${s.port}`, { settings: { enablePush: false } })
      expect((await h2get(refusing, { ":path": "/" })).headers["x-promise"]).toBe("false")
      await closeSession(refusing)
      const session = await connect(`http://127.0.0.1:${s.port}`)
      expect((await h2get(session, { ":path": "/" })).headers["x-promise"]).toBe("true")
      // SETTINGS_ENABLE_PUSH 0 mid-connection: the next stream cannot push, and 1 again lets it.
      await new Promise<void>((resolve) => session.settings({ enablePush: false }, () => resolve()))
      expect((await h2get(session, { ":path": "/" })).headers["x-promise"]).toBe("false")
      await new Promise<void>((resolve) => session.settings({ enablePush: true }, () => resolve()))
      expect((await h2get(session, { ":path": "/" })).headers["x-promise"]).toBe("true")
      await closeSession(session)
    } finally {
      await s.close()
    }
  })
})

describe("early hints (spec.md §7.2)", () => {
  const app: App = (scope, _receive, send) =>
    Effect.gen(function*() {
      if (scope.type !== "http") return
      yield* send({ type: "http.response.early_hint", links: ["</a.css>; rel=preload; as=style", "</b.js>; rel=preload; as=script"] })
      yield* send({ type: "http.response.start", status: 200 })
      const late = yield* outcome(send({ type: "http.response.early_hint", links: ["</c.css>; rel=preload"] }))
      yield* send({ type: "http.response.body", body: text(late) })
    })
  let server: TestServer
  beforeAll(async () => {
    server = await listen(app)
  })
  afterAll(() => server.close())

  it("HTTP-19: a 103 with one link field per entry reaches the HTTP/2 client before the final status; a hint after the start fails", async () => {
    const session = await connect(`http://127.0.0.1:${server.port}`)
    try {
      const r = await h2get(session, { ":path": "/" })
      expect(r.informational.map((h) => h[":status"])).toEqual([103])
      // One link field per entry on the wire (the client's object joins them).
      const raw = r.informationalRaw[0]!
      const links = raw.filter((_, i) => i % 2 === 1 && raw[i - 1] === "link")
      expect(links).toEqual(["</a.css>; rel=preload; as=style", "</b.js>; rel=preload; as=script"])
      expect(r.status).toBe(200)
      expect(r.body.toString()).toBe("HTTP-19")
    } finally {
      await closeSession(session)
    }
  })

  it("HTTP-19: on HTTP/1.1 the 103 precedes the 200 and carries the entries as one comma-joined link field", async () => {
    const r = await rawHttp(server.port, [`GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`])
    const hint = r.text.indexOf("HTTP/1.1 103 Early Hints\r\n")
    const final = r.text.indexOf("HTTP/1.1 200 OK\r\n")
    expect(hint).toBe(0)
    expect(final).toBeGreaterThan(hint)
    // The entries as one comma-joined field line (spec.md §7.2); field names are case-insensitive (RFC 9110 §5.1).
    expect(r.text.slice(0, final)).toMatch(/\r\nlink: <\/a\.css>; rel=preload; as=style, <\/b\.js>; rel=preload; as=script\r\n/i)
  })
})

describe("trailers (spec.md §7.3)", () => {
  let server: TestServer
  beforeAll(async () => {
    server = await listen(trailersApp)
  })
  afterAll(() => server.close())

  const sha = "be0bd5ae56b4bb99e6ae8b77fdbf75da1ffd88cac9b0ff1d0a0a8bec8c78d1e4"

  it("HTTP-18: with te: trailers the x-checksum trailer arrives as a HEADERS frame with END_STREAM after the body", async () => {
    const c = await rawH2(server.port, [requestHeaders(1, server.port, "/", [["te", "trailers"]])])
    try {
      expect(await c.until((f) => ended(f, 1), 3000)).toBe(true)
      const mine = c.frames.filter((f) => f.stream === 1 && (f.type === FrameType.HEADERS || f.type === FrameType.DATA))
      const last = mine[mine.length - 1]!
      expect(last.type).toBe(FrameType.HEADERS)
      expect(last.flags & Flag.END_STREAM).toBe(Flag.END_STREAM)
      expect(mine.filter((f) => f.type === FrameType.DATA).every((f) => (f.flags & Flag.END_STREAM) === 0)).toBe(true)
    } finally {
      c.destroy()
    }
    const session = await connect(`http://127.0.0.1:${server.port}`)
    try {
      const r = await h2get(session, { ":path": "/", te: "trailers" })
      const { createHash } = await import("node:crypto")
      expect(r.trailers?.["x-checksum"]).toBe(createHash("sha256").update(r.body).digest("hex"))
    } finally {
      await closeSession(session)
    }
  })

  it("HTTP-18: trailer fields named constructor and __proto__ arrive as sent (node's header object has no prototype)", async () => {
    const app: App = (scope, _receive, send) =>
      Effect.gen(function*() {
        if (scope.type !== "http") return
        yield* send({ type: "http.response.start", status: 200, trailers: true })
        yield* send({ type: "http.response.body", body: text("body") })
        yield* send({ type: "http.response.trailers", headers: [["constructor", "c1"], ["__proto__", "p1"], ["x-after", "a1"]] })
      })
    const s = await listen(app)
    const session = await connect(`http://127.0.0.1:${s.port}`)
    try {
      const stream = session.request({ ":path": "/", te: "trailers" }, { endStream: true })
      const raw = new Promise<Array<string>>((resolve) => stream.once("trailers", (_h, _f, rawTrailers: Array<string>) => resolve(rawTrailers)))
      await collect(stream)
      expect(await raw).toEqual(["constructor", "c1", "__proto__", "p1", "x-after", "a1"])
    } finally {
      await closeSession(session)
      await s.close()
    }
  })

  it("HTTP-18: without te: trailers the response ends with its body and no trailer section is sent", async () => {
    const c = await rawH2(server.port, [requestHeaders(1, server.port, "/")])
    try {
      expect(await c.until((f) => ended(f, 1), 3000)).toBe(true)
      const headers = c.frames.filter((f) => f.stream === 1 && f.type === FrameType.HEADERS)
      expect(headers).toHaveLength(1)
    } finally {
      c.destroy()
    }
  })

  it("HTTP-18: on HTTP/1.1 the trailers close the chunked body", async () => {
    const r = await run("curl", ["-s", "--raw", "-H", "te: trailers", `http://127.0.0.1:${server.port}/`])
    const out = r.stdout.toString()
    expect(out).toMatch(/\r\n0\r\nx-checksum: [0-9a-f]{64}\r\n\r\n$/)
  })

  it("HTTP-23: request trailers reach the app after the last body (which says trailers: true) and are echoed back", async () => {
    const session = await connect(`http://127.0.0.1:${server.port}`)
    try {
      const stream = session.request({ ":path": "/", ":method": "POST", te: "trailers" }, { waitForTrailers: true })
      stream.on("wantTrailers", () => stream.sendTrailers({ "x-request-sum": "42", "x-note": "last" }))
      let trailers: http2.IncomingHttpHeaders | undefined
      stream.on("trailers", (h) => void (trailers = h))
      const result = collect(stream)
      stream.end("payload")
      const r = await result
      expect(r.body.toString()).toBe("payload")
      expect(trailers?.["x-request-sum"]).toBe("42")
      expect(trailers?.["x-note"]).toBe("last")
    } finally {
      await closeSession(session)
    }
  })

  it("HTTP-23: HTTP/1.1 chunked request trailers arrive as http.request.trailers", async () => {
    const r = await rawHttp(
      server.port,
      [
        "POST / HTTP/1.1\r\nhost: x\r\nte: trailers\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n",
        "4\r\nabcd\r\n0\r\nx-request-sum: 7\r\n\r\n"
      ]
    )
    expect(r.text).toMatch(/\r\n4\r\nabcd\r\n/)
    expect(r.text).toMatch(/\r\n0\r\nx-request-sum: 7\r\n\r\n$/)
  })

  it("HTTP-18: trailers not announced, sent twice or before the last body fail with the rule", async () => {
    const app = probeApp(() => [], false)
    const wrap: App = (scope, receive, send) =>
      Effect.gen(function*() {
        if (scope.type !== "http") return
        const unannounced = yield* outcome(send({ type: "http.response.trailers", headers: [] }))
        yield* send({ type: "http.response.start", status: 200, trailers: true })
        const early = yield* outcome(send({ type: "http.response.trailers", headers: [] }))
        yield* send({ type: "http.response.body", body: text(`${unannounced} ${early}`) })
        yield* send({ type: "http.response.trailers", headers: [["x-a", "1"]] })
        const twice = yield* outcome(send({ type: "http.response.trailers", headers: [] }))
        if (twice !== "HTTP-3") throw new Error(`twice: ${twice}`)
        return yield* app(scope, receive, send)
      })
    const s = await listen(wrap)
    try {
      const session = await connect(`http://127.0.0.1:${s.port}`)
      const r = await h2get(session, { ":path": "/", te: "trailers" })
      expect(r.body.toString()).toBe("HTTP-18 HTTP-18")
      expect(r.trailers?.["x-a"]).toBe("1")
      await closeSession(session)
      expect(s.lines.error.join("\n")).not.toContain("twice")
    } finally {
      await s.close()
    }
  })
})

describe("stream reset by the app (spec.md §7.4)", () => {
  const app: App = (scope, receive, send) =>
    Effect.gen(function*() {
      if (scope.type !== "http") return
      if (scope.path === "/reset") {
        yield* send({ type: "http.response.start", status: 200 })
        yield* send({ type: "http.response.body", body: text("partial"), moreBody: true })
        yield* send({ type: "http.response.reset", errorCode: 11 })
        const after = yield* receive
        const again = yield* outcome(send({ type: "http.response.body" }))
        if (after.type !== "http.disconnect" || again !== "HTTP-3") throw new Error(`after reset: ${after.type} ${again}`)
        return
      }
      if (scope.path === "/bad") {
        const bad = yield* outcome(send({ type: "http.response.reset", errorCode: -1 }))
        const big = yield* outcome(send({ type: "http.response.reset", errorCode: 2 ** 32 }))
        yield* send({ type: "http.response.start", status: 200 })
        return yield* send({ type: "http.response.body", body: text(`${bad} ${big}`) })
      }
      yield* send({ type: "http.response.start", status: 200 })
      yield* send({ type: "http.response.body", body: text("fine") })
    })
  let server: TestServer
  beforeAll(async () => {
    server = await listen(app)
  })
  afterAll(() => server.close())

  it("HTTP-22: RST_STREAM carries the app's code, no END_STREAM precedes it, and the connection serves a new stream", async () => {
    const c = await rawH2(server.port, [requestHeaders(1, server.port, "/reset")])
    try {
      expect(await c.until((f) => rstCode(f, 1) !== undefined, 3000)).toBe(true)
      expect(rstCode(c.frames, 1)).toBe(11)
      expect(ended(c.frames, 1)).toBe(false)
      c.send(requestHeaders(3, server.port, "/"))
      expect(await c.until((f) => ended(f, 3), 3000)).toBe(true)
      expect(c.frames.some((f) => f.type === FrameType.GOAWAY)).toBe(false)
    } finally {
      c.destroy()
    }
    expect(server.lines.error.join("\n")).not.toContain("after reset")
  })

  it("HTTP-22: an error code outside 0–2^32-1 fails with the rule", async () => {
    const session = await connect(`http://127.0.0.1:${server.port}`)
    try {
      const r = await request(session, { ":path": "/bad" })
      expect(r.body.toString()).toBe("HTTP-22 HTTP-22")
    } finally {
      await closeSession(session)
    }
  })
})

describe("graceful GOAWAY by the app (spec.md §7.5)", () => {
  const app: App = (scope, _receive, send) =>
    Effect.gen(function*() {
      if (scope.type !== "http") return
      if (scope.path === "/slow") yield* Effect.sleep(150)
      if (scope.path === "/goaway") yield* send({ type: "http.goaway" })
      yield* send({ type: "http.response.start", status: 200 })
      yield* send({ type: "http.response.body", body: text(scope.path) })
    })
  let server: TestServer
  beforeAll(async () => {
    server = await listen(app)
  })
  afterAll(() => server.close())

  it("HTTP-26: GOAWAY NO_ERROR with the last stream ID; the in-flight stream and this one complete", async () => {
    const session = await connect(`http://127.0.0.1:${server.port}`)
    const goaway = new Promise<{ code: number; last: number }>((resolve) =>
      session.once("goaway", (code: number, last: number) => resolve({ code, last }))
    )
    const slow = h2get(session, { ":path": "/slow" })
    await new Promise((r) => setTimeout(r, 20))
    const closing = h2get(session, { ":path": "/goaway" })
    const [a, b, g] = await Promise.all([slow, closing, goaway])
    expect(g.code).toBe(0)
    expect(g.last).toBeGreaterThanOrEqual(3)
    expect(a.status).toBe(200)
    expect(a.body.toString()).toBe("/slow")
    expect(b.body.toString()).toBe("/goaway")
    await new Promise<void>((resolve) => (session.closed ? resolve() : session.once("close", () => resolve())))
  })

  it("HTTP-26: on HTTP/1.1 the response says connection: close and the connection closes after it", async () => {
    const r = await rawHttp(server.port, [`GET /goaway HTTP/1.1\r\nhost: x\r\n\r\n`], { timeoutMs: 2000 })
    expect(r.closed).toBe(true)
    expect(r.text.toLowerCase()).toContain("connection: close")
    expect(r.text.endsWith("/goaway")).toBe(true)
  })
})

describe("header indexing (spec.md §7.8)", () => {
  const app: App = (scope, _receive, send) =>
    Effect.gen(function*() {
      if (scope.type !== "http") return
      yield* send({
        type: "http.response.start",
        status: 200,
        headers: [["set-cookie", "session=abc"], ["x-token", "t0k3n"], ["x-plain", "p"]],
        neverIndex: ["x-token"]
      })
      yield* send({ type: "http.response.body", body: text("ok") })
    })
  let server: TestServer
  beforeAll(async () => {
    server = await listen(app)
  })
  afterAll(() => server.close())

  it("HTTP-25: set-cookie (by default) and a neverIndex field arrive as HPACK literals never indexed; others do not", async () => {
    const r = await run("nghttp", ["-nv", `http://127.0.0.1:${server.port}/`])
    const out = r.stdout.toString()
    expect(out).toMatch(/recv \(stream_id=\d+, sensitive\) set-cookie: session=abc/)
    expect(out).toMatch(/recv \(stream_id=\d+, sensitive\) x-token: t0k3n/)
    expect(out).toMatch(/recv \(stream_id=\d+\) x-plain: p/)
  })

  it("HTTP-25: the extension lists the default never-indexed names on HTTP/2 only", async () => {
    let h2: unknown
    let h1: unknown = "unset"
    const s = await listen((scope, _receive, send) =>
      Effect.gen(function*() {
        if (scope.type !== "http") return
        if (scope.httpVersion === "2") h2 = scope.extensions["http.response.header_indexing"]?.neverIndexed
        else h1 = scope.extensions["http.response.header_indexing"]
        yield* send({ type: "http.response.start", status: 204 })
        yield* send({ type: "http.response.body" })
      })
    )
    try {
      await run("curl", ["-s", "--http2-prior-knowledge", `http://127.0.0.1:${s.port}/`])
      await run("curl", ["-s", `http://127.0.0.1:${s.port}/`])
      expect(h2).toEqual(["authorization", "cookie", "proxy-authorization", "set-cookie"])
      expect(h1).toBeUndefined()
    } finally {
      await s.close()
    }
  })

  it("HTTP-5: a neverIndex that is not a list of lower-case names fails", async () => {
    const s = await listen(probeApp(() => [{ type: "http.response.start", status: 200, neverIndex: ["X-Token"] }]))
    try {
      const r = await run("curl", ["-s", "--http2-prior-knowledge", `http://127.0.0.1:${s.port}/`])
      expect(r.stdout.toString()).toBe("HTTP-5")
    } finally {
      await s.close()
    }
  })
})

describe("extension listing (spec.md §7)", () => {
  it("CORE-7: HTTP/2 lists every extension; trailers: true on HTTP/1.0 fails with CORE-7", async () => {
    let names: Array<string> = []
    const s = await listen((scope, _receive, send) =>
      Effect.gen(function*() {
        if (scope.type !== "http") return
        if (scope.httpVersion === "2") names = Object.keys(scope.extensions).sort()
        const r = yield* outcome(send({ type: "http.response.start", status: 200, trailers: true }))
        if (r !== "ok") yield* send({ type: "http.response.start", status: 200 })
        yield* send({ type: "http.response.body", body: text(r) })
      })
    )
    try {
      await run("curl", ["-s", "--http2-prior-knowledge", `http://127.0.0.1:${s.port}/`])
      expect(names).toEqual(Object.values(Extension).filter((n) => n !== Extension.clientCertificate).sort())
      const h10 = await rawHttp(s.port, ["GET / HTTP/1.0\r\n\r\n"])
      expect(h10.text.endsWith("CORE-7")).toBe(true)
    } finally {
      await s.close()
    }
  })
})
