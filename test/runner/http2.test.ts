/**
 * The runner over HTTP/2 cleartext, driven by the node:http2 client on a real
 * socket: concurrency, the correlator, request heads, response heads, stream
 * resets and the send-order rules.
 */
import { Effect } from "effect"
import * as http2 from "node:http2"
import { describe, expect, it } from "vitest"
import type { App, Receive, Send } from "../../src/protocol/app.ts"
import type { InboundEvent } from "../../src/protocol/events.ts"
import type { Headers } from "../../src/protocol/headers.ts"
import { deferred, within } from "../support/async.ts"
import { cancel, closeSession, collect, connect, type H2Result, ready, request } from "../support/h2client.ts"
import { listen, type TestServer } from "../support/server.ts"
import { httpApp, OK, type Outcome, rule, trySend } from "../support/outcome.ts"

const { NGHTTP2_CANCEL, NGHTTP2_INTERNAL_ERROR } = http2.constants

// ---------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------

const enc = (s: string): Uint8Array => new TextEncoder().encode(s)
const json = (v: unknown): Uint8Array => enc(JSON.stringify(v))
const parse = (r: H2Result): any => JSON.parse(r.body.toString("utf8"))

/** An http-only app: `body` runs for http scopes, every other scope is refused (CORE-4). */
/** Sends a whole response. */
const reply = (send: Send, status: number, body: Uint8Array, headers: Headers = []) =>
  Effect.flatMap(send({ type: "http.response.start", status, headers }), () => send({ type: "http.response.body", body }))

/** Reads the request body to its end (or disconnect), returning the events seen. */
const drainRequest = Effect.fnUntraced(function*(receive: Receive) {
  const events: Array<InboundEvent> = []
  for (let i = 0; i < 100_000; i++) {
    const event = yield* receive
    events.push(event)
    if (event.type !== "http.request" || !event.moreBody) break
  }
  return events
})

const withServer = async (app: App, body: (server: TestServer) => Promise<void>): Promise<void> => {
  const server = await listen(app)
  try {
    await body(server)
  } finally {
    await server.close()
  }
}

const withSession = async (
  url: string,
  body: (session: http2.ClientHttp2Session) => Promise<void>
): Promise<void> => {
  const session = await connect(url)
  try {
    await body(session)
  } finally {
    await closeSession(session)
  }
}

/** Serves `app`, makes one GET on a fresh connection, returns the response. */
const getOnce = async (app: App, headers: http2.OutgoingHttpHeaders = {}): Promise<H2Result> => {
  let result: H2Result | undefined
  await withServer(app, (server) =>
    withSession(server.url, async (session) => {
      result = await within(request(session, { ":path": "/", ...headers }), 5000, "response")
    }))
  return result!
}

// ---------------------------------------------------------------------------
// concurrency and the correlator
// ---------------------------------------------------------------------------

describe("HTTP/2: streams and the correlator", () => {
  it("RUN-1: 100 streams on one connection run concurrently, each answered on its own stream", async () => {
    const N = 100
    let arrived = 0
    let maxInFlight = 0
    let inFlight = 0
    const allArrived = deferred()
    const app = httpApp((scope, _receive, send) =>
      Effect.gen(function*() {
        arrived += 1
        inFlight += 1
        maxInFlight = Math.max(maxInFlight, inFlight)
        if (arrived === N) allArrived.resolve()
        // No stream is answered before every stream has reached the app.
        const waited = yield* Effect.promise(() => allArrived.promise).pipe(Effect.timeoutOption(5000))
        const i = new URLSearchParams(scope.queryString).get("i") ?? "?"
        inFlight -= 1
        yield* reply(send, waited._tag === "Some" ? 200 : 503, json({ i, connectionId: scope.connectionId, streamId: scope.streamId }), [
          ["x-i", i]
        ])
      })
    )
    await withServer(app, (server) =>
      withSession(server.url, async (session) => {
        const results = await within(
          Promise.all(Array.from({ length: N }, (_, i) => request(session, { ":path": `/?i=${i}` }))),
          10_000,
          "100 concurrent responses"
        )
        expect(maxInFlight).toBe(N)
        const connectionIds = new Set<number>()
        const streamIds = new Set<number>()
        results.forEach((r, i) => {
          expect(r.status).toBe(200)
          expect(r.rstCode).toBe(0)
          expect(r.headers["x-i"]).toBe(String(i))
          const b = parse(r)
          expect(b.i).toBe(String(i))
          expect(b.streamId).toBe(r.streamId)
          connectionIds.add(b.connectionId)
          streamIds.add(b.streamId)
        })
        expect(connectionIds.size).toBe(1)
        expect(streamIds.size).toBe(N)
      }))
  })

  it("CORE-1, CORE-2: scope and events carry connectionId and the client's stream id; connections get distinct ids", async () => {
    const app = httpApp((scope, receive, send) =>
      Effect.gen(function*() {
        const events = yield* drainRequest(receive)
        yield* reply(
          send,
          200,
          json({
            connectionId: scope.connectionId,
            streamId: scope.streamId,
            events: events.map((e) => ({
              type: e.type,
              connectionId: e.connectionId,
              streamId: e.streamId,
              size: e.type === "http.request" ? e.body.length : -1
            }))
          })
        )
      })
    )
    await withServer(app, async (server) => {
      const a = await connect(server.url)
      const b = await connect(server.url)
      try {
        const post = a.request({ ":method": "POST", ":path": "/" })
        const postResult = collect(post)
        expect(await ready(post)).toBe(1)
        post.write("abc")
        post.end("defg")
        const r1 = await within(postResult, 5000, "POST")
        const r2 = await within(request(a, { ":path": "/2" }), 5000, "GET on the same connection")
        const r3 = await within(request(b, { ":path": "/3" }), 5000, "GET on another connection")
        const [b1, b2, b3] = [parse(r1), parse(r2), parse(r3)]

        expect([r1.streamId, r2.streamId, r3.streamId]).toEqual([1, 3, 1])
        expect([b1.streamId, b2.streamId, b3.streamId]).toEqual([1, 3, 1])
        expect(b1.connectionId).toBeGreaterThanOrEqual(1)
        expect(b2.connectionId).toBe(b1.connectionId)
        expect(b3.connectionId).toBeGreaterThanOrEqual(1)
        expect(b3.connectionId).not.toBe(b1.connectionId)

        for (const body of [b1, b2, b3]) {
          expect(body.events.length).toBeGreaterThanOrEqual(1)
          for (const e of body.events) {
            expect(e.type).toBe("http.request")
            expect(e.connectionId).toBe(body.connectionId)
            expect(e.streamId).toBe(body.streamId)
          }
        }
        expect(b1.events.reduce((n: number, e: { size: number }) => n + e.size, 0)).toBe(7)
      } finally {
        await closeSession(a)
        await closeSession(b)
      }
    })
  })

  it("CORE-5: every http scope has an extensions object and egi.version \"0.1\"", async () => {
    const app = httpApp((scope, _receive, send) =>
      reply(
        send,
        200,
        json({
          egi: scope.egi,
          extensionsType: scope.extensions === null ? "null" : Array.isArray(scope.extensions) ? "array" : typeof scope.extensions,
          httpVersion: scope.httpVersion,
          scheme: scope.scheme,
          method: scope.method
        })
      )
    )
    const r = await getOnce(app)
    expect(r.status).toBe(200)
    expect(parse(r)).toEqual({ egi: { version: "0.1", specVersion: "0.4" }, extensionsType: "object", httpVersion: "2", scheme: "http", method: "GET" })
  })
})

// ---------------------------------------------------------------------------
// request heads
// ---------------------------------------------------------------------------

describe("HTTP/2: the request head", () => {
  const scopeEcho = httpApp((scope, _receive, send) =>
    reply(send, 200, json({ headers: scope.headers, path: scope.path, rawPath: scope.rawPath, queryString: scope.queryString }))
  )

  it("HTTP-12: duplicate header fields keep their order; two cookie fields arrive joined with \"; \"", async () => {
    await withServer(scopeEcho, (server) =>
      withSession(server.url, async (session) => {
        // Raw form: each pair is one field on the wire, in this order.
        const r = await within(
          request(session, [
            ":path", "/",
            "x-a", "1",
            "cookie", "a=1",
            "x-b", "2",
            "x-a", "3",
            "cookie", "b=2; c=3",
            "x-a", "4"
          ]),
          5000,
          "response"
        )
        expect(r.status).toBe(200)
        expect(parse(r).headers).toEqual([
          ["x-a", "1"],
          ["cookie", "a=1; b=2; c=3"],
          ["x-b", "2"],
          ["x-a", "3"],
          ["x-a", "4"]
        ])
      }))
  })

  it("HTTP-13: rawPath and queryString are the octets as received, path is percent-decoded", async () => {
    const cases: Array<[target: string, rawPath: string, queryString: string, path: string]> = [
      ["/plain", "/plain", "", "/plain"],
      ["/a%20b/%E2%82%AC/x%2Fy?q=%20&r=a+b%26", "/a%20b/%E2%82%AC/x%2Fy", "q=%20&r=a+b%26", "/a b/€/x/y"],
      ["/p?", "/p", "", "/p"],
      ["/q?a?b=%3F#", "/q", "a?b=%3F#", "/q"],
      ["/%7Euser/%41%62", "/%7Euser/%41%62", "", "/~user/Ab"],
      // not UTF-8 once decoded: path is rawPath unchanged
      ["/%FF%FE?x=%FF", "/%FF%FE", "x=%FF", "/%FF%FE"]
    ]
    await withServer(scopeEcho, (server) =>
      withSession(server.url, async (session) => {
        for (const [target, rawPath, queryString, path] of cases) {
          const r = await within(request(session, { ":path": target }), 5000, target)
          expect(r.status).toBe(200)
          const b = parse(r)
          expect({ target, rawPath: b.rawPath, queryString: b.queryString, path: b.path }).toEqual({
            target,
            rawPath,
            queryString,
            path
          })
        }
      }))
  })
})

// ---------------------------------------------------------------------------
// response heads
// ---------------------------------------------------------------------------

describe("HTTP/2: the response head", () => {
  it("RUN-6: connection-specific fields sent by the app are dropped, the response still works", async () => {
    const app = httpApp((_scope, _receive, send) =>
      reply(send, 200, enc("still fine"), [
        ["connection", "close"],
        ["transfer-encoding", "chunked"],
        ["keep-alive", "timeout=5"],
        ["proxy-connection", "keep-alive"],
        ["upgrade", "h2c"],
        ["x-kept", "yes"]
      ])
    )
    const r = await getOnce(app)
    expect(r.status).toBe(200)
    expect(r.rstCode).toBe(0)
    expect(r.body.toString()).toBe("still fine")
    expect(r.headers["x-kept"]).toBe("yes")
    const names = r.rawHeaders.filter((_, i) => i % 2 === 0)
    for (const name of ["connection", "transfer-encoding", "keep-alive", "proxy-connection", "upgrade"]) {
      expect(names).not.toContain(name)
    }
  })

  it("RUN-10: a response whose only body event is final gets a content-length; a streamed one does not", async () => {
    const app = httpApp((scope, _receive, send) =>
      Effect.gen(function*() {
        switch (scope.path) {
          case "/single":
            return yield* reply(send, 200, enc("hello, h2"))
          case "/empty":
            return yield* reply(send, 200, new Uint8Array(0))
          case "/explicit":
            return yield* reply(send, 200, enc("abc"), [["content-length", "3"]])
          default: {
            yield* send({ type: "http.response.start", status: 200 })
            yield* send({ type: "http.response.body", body: enc("ab"), moreBody: true })
            yield* send({ type: "http.response.body", body: enc("cd"), moreBody: true })
            yield* send({ type: "http.response.body", body: enc("e") })
          }
        }
      })
    )
    await withServer(app, (server) =>
      withSession(server.url, async (session) => {
        const get = (path: string) => within(request(session, { ":path": path }), 5000, path)
        const single = await get("/single")
        expect(single.headers["content-length"]).toBe("9")
        expect(single.body.toString()).toBe("hello, h2")
        const empty = await get("/empty")
        expect(empty.status).toBe(200)
        expect(empty.headers["content-length"]).toBe("0")
        expect(empty.body.length).toBe(0)
        const explicit = await get("/explicit")
        expect(explicit.rawHeaders.filter((h, i) => i % 2 === 0 && h === "content-length")).toHaveLength(1)
        expect(explicit.headers["content-length"]).toBe("3")
        expect(explicit.body.toString()).toBe("abc")
        const streamed = await get("/streamed")
        expect(streamed.status).toBe(200)
        expect(streamed.headers["content-length"]).toBeUndefined()
        expect(streamed.body.toString()).toBe("abcde")
      }))
  })
})

// ---------------------------------------------------------------------------
// resets
// ---------------------------------------------------------------------------

interface Seen {
  readonly type: string
  readonly moreBody?: boolean
  readonly errorCode?: number | undefined
  readonly connectionId: number
  readonly streamId: number
}
const seen = (e: InboundEvent): Seen =>
  e.type === "http.request"
    ? { type: e.type, moreBody: e.moreBody, connectionId: e.connectionId, streamId: e.streamId }
    : e.type === "http.disconnect"
    ? { type: e.type, errorCode: e.errorCode, connectionId: e.connectionId, streamId: e.streamId }
    : { type: e.type, connectionId: e.connectionId, streamId: e.streamId }

/**
 * Uploads 1000 bytes without ending the request, waits until the app has them,
 * resets the stream with RST_STREAM CANCEL (no END_STREAM) and returns every event the app received:
 * up to and including the first http.disconnect, then three more receives.
 */
const resetMidUpload = async (headers: http2.OutgoingHttpHeaders = {}) => {
  const firstChunk = deferred()
  const report = deferred<{ scope: { connectionId: number; streamId: number }; events: Array<Seen> }>()
  const app = httpApp((scope, receive, _send) =>
    Effect.gen(function*() {
      const events: Array<Seen> = []
      for (let i = 0; i < 10_000; i++) {
        const e = yield* receive
        events.push(seen(e))
        if (e.type === "http.request" && e.body.length > 0) firstChunk.resolve()
        if (e.type !== "http.request") break
      }
      for (let i = 0; i < 3; i++) events.push(seen(yield* receive))
      report.resolve({ scope: { connectionId: scope.connectionId, streamId: scope.streamId }, events })
    })
  )
  let out: { scope: { connectionId: number; streamId: number }; events: Array<Seen>; clientStreamId: number | undefined } | undefined
  await withServer(app, (server) =>
    withSession(server.url, async (session) => {
      const stream = session.request({ ":method": "POST", ":path": "/upload", ...headers })
      const closed = collect(stream)
      stream.write(Buffer.alloc(1000, 7))
      await within(firstChunk.promise, 5000, "the app's first chunk")
      cancel(stream)
      const r = await within(report.promise, 5000, "the app's report")
      const { rstCode } = await closed
      expect(rstCode).toBe(NGHTTP2_CANCEL)
      out = { ...r, clientStreamId: stream.id }
    }))
  return out!
}

describe("HTTP/2: client resets", () => {
  for (const [label, headers] of [["no content-length", {}], ["content-length 100000", { "content-length": "100000" }]] as const) {
    it(`HTTP-8, HTTP-14, CORE-1: reset mid-upload (${label}): no moreBody:false, then http.disconnect (errorCode 8) on every receive`, async () => {
      const { scope, events, clientStreamId } = await resetMidUpload(headers)
      expect(scope.streamId).toBe(clientStreamId)
      const firstDisconnect = events.findIndex((e) => e.type === "http.disconnect")
      expect(firstDisconnect).toBeGreaterThanOrEqual(1)
      // HTTP-14: the body was cut off, so it never completes.
      for (const e of events.slice(0, firstDisconnect)) {
        expect(e).toEqual({ type: "http.request", moreBody: true, ...scope })
      }
      // HTTP-8: the disconnect, then the same on the three receives after it.
      expect(events.slice(firstDisconnect)).toEqual(
        Array.from({ length: 4 }, () => ({ type: "http.disconnect", errorCode: NGHTTP2_CANCEL, ...scope }))
      )
    })
  }

  /**
   * GET; the app reads the (empty) body, starts a streamed response, waits for
   * the client's reset via receive, then tries two more sends.
   */
  const resetAfterHead = async (code: number) => {
    const headSent = deferred()
    const report = deferred<{ disconnect: Seen; more: Outcome; last: Outcome; ids: { connectionId: number; streamId: number } }>()
    const app = httpApp((scope, receive, send) =>
      Effect.gen(function*() {
        yield* drainRequest(receive)
        yield* send({ type: "http.response.start", status: 200 })
        yield* send({ type: "http.response.body", body: enc("partial"), moreBody: true })
        headSent.resolve()
        const disconnect = seen(yield* receive)
        const more = yield* trySend(send, { type: "http.response.body", body: enc("more"), moreBody: true })
        const last = yield* trySend(send, { type: "http.response.body", body: enc("last") })
        report.resolve({ disconnect, more, last, ids: { connectionId: scope.connectionId, streamId: scope.streamId } })
      })
    )
    let out: { r: Awaited<typeof report.promise>; rstCode: number | undefined } | undefined
    await withServer(app, (server) =>
      withSession(server.url, async (session) => {
        const stream = session.request({ ":path": "/" }, { endStream: true })
        const closed = collect(stream)
        await within(headSent.promise, 5000, "response head")
        await within(new Promise((resolve) => stream.once("data", resolve)), 5000, "first body chunk")
        stream.close(code)
        const r = await within(report.promise, 5000, "the app's report")
        out = { r, rstCode: (await closed).rstCode }
      }))
    return out!
  }

  for (const code of [NGHTTP2_CANCEL, NGHTTP2_INTERNAL_ERROR]) {
    it(`HTTP-9: after the client resets with code ${code}, send fails with StreamClosedError (errorCode ${code})`, async () => {
      const { r, rstCode } = await resetAfterHead(code)
      expect(rstCode).toBe(code)
      expect(r.disconnect).toMatchObject({ type: "http.disconnect", ...r.ids })
      const closedError = { tag: "StreamClosedError", errorCode: code, ...r.ids }
      expect(r.more).toEqual(closedError)
      expect(r.last).toEqual(closedError)
    })
  }

  // Regression: spec.md §4.4 — errorCode is the peer's RST_STREAM code, also
  // in the receive state "complete" (request body done, response streaming).
  it("HTTP-9: the http.disconnect of a stream reset after a complete request carries the RST_STREAM code", async () => {
    const { r } = await resetAfterHead(NGHTTP2_CANCEL)
    expect(r.disconnect).toEqual({ type: "http.disconnect", errorCode: NGHTTP2_CANCEL, ...r.ids })
  })
})

// ---------------------------------------------------------------------------
// send order and validation (spec.md §4.5, §4.7)
// ---------------------------------------------------------------------------

describe("HTTP/2: send rules", () => {
  it("HTTP-1: a second http.response.start fails with LocalProtocolError HTTP-1 and changes nothing", async () => {
    const app = httpApp((_scope, _receive, send) =>
      Effect.gen(function*() {
        const first = yield* trySend(send, { type: "http.response.start", status: 201, headers: [["x-first", "1"]] })
        const second = yield* trySend(send, { type: "http.response.start", status: 202, headers: [["x-second", "1"]] })
        yield* send({ type: "http.response.body", body: json({ first, second }) })
      })
    )
    const r = await getOnce(app)
    expect(r.status).toBe(201)
    expect(r.headers["x-first"]).toBe("1")
    expect(r.headers["x-second"]).toBeUndefined()
    expect(parse(r)).toEqual({ first: OK, second: rule("HTTP-1") })
  })

  it("HTTP-2: http.response.body before http.response.start fails with LocalProtocolError HTTP-2", async () => {
    const app = httpApp((_scope, _receive, send) =>
      Effect.gen(function*() {
        const more = yield* trySend(send, { type: "http.response.body", body: enc("leak"), moreBody: true })
        const last = yield* trySend(send, { type: "http.response.body", body: enc("leak") })
        const empty = yield* trySend(send, { type: "http.response.body" })
        yield* reply(send, 200, json({ more, last, empty }))
      })
    )
    const r = await getOnce(app)
    expect(r.status).toBe(200)
    expect(parse(r)).toEqual({ more: rule("HTTP-2"), last: rule("HTTP-2"), empty: rule("HTTP-2") })
  })

  it("HTTP-3: any event after the final body fails with LocalProtocolError HTTP-3", async () => {
    const report = deferred<Record<string, Outcome>>()
    const app = httpApp((_scope, _receive, send) =>
      Effect.gen(function*() {
        yield* send({ type: "http.response.start", status: 200 })
        const final = yield* trySend(send, { type: "http.response.body", body: enc("done") })
        const more = yield* trySend(send, { type: "http.response.body", body: enc("late"), moreBody: true })
        const last = yield* trySend(send, { type: "http.response.body", body: enc("late") })
        const start = yield* trySend(send, { type: "http.response.start", status: 200 })
        const empty = yield* trySend(send, { type: "http.response.body" })
        report.resolve({ final, more, last, start, empty })
      })
    )
    const r = await getOnce(app)
    expect(r.status).toBe(200)
    expect(r.rstCode).toBe(0)
    expect(r.body.toString()).toBe("done")
    expect(await within(report.promise, 1000, "report")).toEqual({
      final: OK,
      more: rule("HTTP-3"),
      last: rule("HTTP-3"),
      start: rule("HTTP-3"),
      empty: rule("HTTP-3")
    })
  })

  it("HTTP-4: a status that is not an integer in 200–599 fails with LocalProtocolError HTTP-4", async () => {
    const bad: Array<unknown> = [100, 103, 199, 600, 999, 0, -200, 200.5, Number.NaN, Number.POSITIVE_INFINITY, "200", null]
    const app = httpApp((_scope, _receive, send) =>
      Effect.gen(function*() {
        const outcomes: Array<Outcome> = []
        for (const status of bad) outcomes.push(yield* trySend(send, { type: "http.response.start", status }))
        yield* reply(send, 203, json(outcomes))
      })
    )
    const r = await getOnce(app)
    expect(r.status).toBe(203)
    expect(parse(r)).toEqual(bad.map(() => rule("HTTP-4")))
  })

  it("HTTP-5: an upper-case or non-token header name fails with LocalProtocolError HTTP-5", async () => {
    const bad: Array<unknown> = [
      ["X-Upper", "v"],
      ["Content-Type", "text/plain"],
      ["bad name", "v"],
      ["", "v"],
      ["x:y", "v"],
      [":status", "200"],
      ["caf\u00e9", "v"],
      ["x\ny", "v"],
      ["x-only"],
      "x-not-a-pair"
    ]
    const app = httpApp((_scope, _receive, send) =>
      Effect.gen(function*() {
        const outcomes: Array<Outcome> = []
        for (const h of bad) {
          outcomes.push(yield* trySend(send, { type: "http.response.start", status: 200, headers: [["x-fine", "1"], h] }))
        }
        yield* reply(send, 200, json(outcomes), [["x-good", "1"]])
      })
    )
    const r = await getOnce(app)
    expect(r.status).toBe(200)
    expect(r.headers["x-good"]).toBe("1")
    expect(r.headers["x-fine"]).toBeUndefined()
    expect(parse(r)).toEqual(bad.map(() => rule("HTTP-5")))
  })

  it("HTTP-6: a header value with CR, LF, NUL or a code unit over 0xFF fails with LocalProtocolError HTTP-6", async () => {
    const bad: Array<unknown> = ["a\r\nb", "a\rb", "a\nb", "a\u0000b", "\u0100", "\u20ac", "\ud83d\ude00", 42, null]
    const app = httpApp((_scope, _receive, send) =>
      Effect.gen(function*() {
        const outcomes: Array<Outcome> = []
        for (const value of bad) {
          outcomes.push(yield* trySend(send, { type: "http.response.start", status: 200, headers: [["x-bad", value]] }))
        }
        yield* reply(send, 200, json(outcomes))
      })
    )
    const r = await getOnce(app)
    expect(r.status).toBe(200)
    expect(r.headers["x-bad"]).toBeUndefined()
    expect(parse(r)).toEqual(bad.map(() => rule("HTTP-6")))
  })

  it("CORE-3: an outbound event whose connectionId/streamId differ from the scope's fails with LocalProtocolError CORE-3", async () => {
    const app = httpApp((scope, _receive, send) =>
      Effect.gen(function*() {
        const c = scope.connectionId
        const s = scope.streamId
        const r = {
          otherConnection: yield* trySend(send, { type: "http.response.start", status: 200, connectionId: c + 1, streamId: s }),
          otherStream: yield* trySend(send, { type: "http.response.start", status: 200, connectionId: c, streamId: s + 2 }),
          onlyStream: yield* trySend(send, { type: "http.response.start", status: 200, streamId: s + 2 }),
          lifespanIds: yield* trySend(send, { type: "http.response.start", status: 200, connectionId: 0, streamId: 0 }),
          matching: yield* trySend(send, { type: "http.response.start", status: 200, connectionId: c, streamId: s }),
          bodyOtherStream: yield* trySend(send, { type: "http.response.body", body: enc("x"), moreBody: true, streamId: s + 2 }),
          bodyMatching: yield* trySend(send, { type: "http.response.body", body: enc("<"), moreBody: true, connectionId: c, streamId: s })
        }
        yield* send({ type: "http.response.body", body: json(r), streamId: s })
      })
    )
    const r = await getOnce(app)
    expect(r.status).toBe(200)
    const body = r.body.toString()
    expect(body[0]).toBe("<")
    expect(JSON.parse(body.slice(1))).toEqual({
      otherConnection: rule("CORE-3"),
      otherStream: rule("CORE-3"),
      onlyStream: rule("CORE-3"),
      lifespanIds: rule("CORE-3"),
      matching: OK,
      bodyOtherStream: rule("CORE-3"),
      bodyMatching: OK
    })
  })

  it("CORE-6: an outbound event type not defined for http fails with LocalProtocolError CORE-6", async () => {
    const bad = ["lifespan.startup.complete", "lifespan.shutdown.complete", "websocket.send", "http.request", "http.disconnect", "", undefined]
    const app = httpApp((_scope, _receive, send) =>
      Effect.gen(function*() {
        const outcomes: Array<Outcome> = []
        for (const type of bad) outcomes.push(yield* trySend(send, { type }))
        // the same, mid-response
        yield* send({ type: "http.response.start", status: 200 })
        outcomes.push(yield* trySend(send, { type: "lifespan.startup.complete" }))
        yield* send({ type: "http.response.body", body: json(outcomes) })
      })
    )
    const r = await getOnce(app)
    expect(r.status).toBe(200)
    expect(parse(r)).toEqual([...bad, "mid-response"].map(() => rule("CORE-6")))
  })
})
