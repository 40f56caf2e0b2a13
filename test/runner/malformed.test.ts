/**
 * Malformed and oversized requests on real sockets: Content-Length
 * mismatches on h2 (a frame-level python-h2 probe sends what node:http2
 * clients refuse to), bad HTTP/1.1 heads (one pipelined behind a streaming
 * response among them), client resets mid-upload, and the body limit
 * (maxBodySize), with what the app's `send` gets after it.
 */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import type { App } from "../../src/protocol/app.ts"
import { unsupportedScope } from "../../src/protocol/unsupported.ts"
import { bodyOf, completeResponse, h2close, h2connect, h2request, rawHttp, statusOf, until } from "../support/clients.ts"
import { h2probe, startProbe } from "../support/h2probe.ts"
import { exitOutcome as outcome, type SendOutcome } from "../support/outcome.ts"
import { bodyBytes, bodyText, type Call, recorder, sawComplete } from "../support/recorder.ts"
import { useServer, withServer } from "../support/server.ts"

/** The app saw a disconnect as its last event, no complete body, and HTTP-8's repeat. */
const expectDisconnected = (call: Call | undefined, maxBytes: number): Call => {
  expect(call, "the app was invoked").toBeDefined()
  const c = call!
  expect(sawComplete(c), `never a complete body: ${JSON.stringify(c.events.map((e) => e.type))}`).toBe(false)
  expect(bodyBytes(c)).toBeLessThanOrEqual(maxBytes)
  const last = c.events.at(-1)
  expect(last?.type).toBe("http.disconnect")
  expect(last?.connectionId).toBe(c.connectionId)
  expect(last?.streamId).toBe(c.streamId)
  // HTTP-8: the next receive yields the same disconnect again.
  expect(c.repeat).toEqual(last)
  return c
}

const text = (s: string): Uint8Array => new TextEncoder().encode(s)

/** Decodes an HTTP/1.1 chunked body; `complete` when the last-chunk and its CRLF arrived. */
const dechunk = (body: string): { readonly data: string; readonly complete: boolean; readonly rest: string } => {
  let data = ""
  let at = 0
  for (;;) {
    const eol = body.indexOf("\r\n", at)
    if (eol < 0) return { data, complete: false, rest: body.slice(at) }
    const size = parseInt(body.slice(at, eol), 16)
    if (!Number.isFinite(size)) return { data, complete: false, rest: body.slice(at) }
    if (size === 0) {
      const end = body.indexOf("\r\n", eol + 2)
      return end === eol + 2 ? { data, complete: true, rest: body.slice(end + 2) } : { data, complete: false, rest: body.slice(eol + 2) }
    }
    if (body.length < eol + 2 + size + 2) return { data, complete: false, rest: body.slice(at) }
    data += body.slice(eol + 2, eol + 2 + size)
    at = eol + 2 + size + 2
  }
}

describe("HTTP-7 content-length mismatch on h2", () => {
  const rec = recorder()
  const server = useServer(rec.app)

  /**
   * POSTs `path` declaring `declared` bytes and sending `sent`, the DATA held
   * until the app runs, then GETs `path-after` on the same connection.
   */
  const lengthMismatch = async (path: string, declared: number, sent: number) => {
    const probe = startProbe({
      port: server().port,
      timeout: 4,
      requests: [
        { method: "POST", path, headers: [["content-length", String(declared)]], data: sent, hold: ["data"] },
        { method: "GET", path: `${path}-after` }
      ]
    })
    await until(() => rec.find(path) !== undefined, `the ${path} app to start`)
    probe.release()
    return probe.result
  }

  it("HTTP-7, HTTP-8: underrun (content-length 10, 5 bytes + END_STREAM): the app sees http.disconnect, the peer gets RST_STREAM PROTOCOL_ERROR or 400, the connection keeps serving", async () => {
    // HEADERS first; the DATA only once the app is running (else node:http2 may reset the
    // stream before it is ever handed to the runner).
    const r = await lengthMismatch("/under", 10, 5)
    // Stream 1 was rejected: RST_STREAM PROTOCOL_ERROR (node:http2) or a complete 400.
    const reset = r.resetCode(1)
    const status = r.status(1)
    expect(reset === 1 || (status === 400 && r.ended(1)), r.summary).toBe(true)
    expect(status === undefined || status === 400, r.summary).toBe(true)
    // The connection is alive: stream 3 on the same connection gets a full 200.
    expect(r.goaway, r.summary).toBeUndefined()
    expect(r.status(3), r.summary).toBe(200)
    expect(r.body(3)).toBe("got 0")
    expect(r.ended(3)).toBe(true)
    expect(r.timedOut, r.summary).toBe(false)

    await until(() => rec.find("/under")?.done === true, "the /under app to end")
    const c = expectDisconnected(rec.find("/under"), 10)
    // The 5 bytes that did arrive may have been delivered, never more.
    expect(bodyText(c)).toBe("x".repeat(bodyBytes(c)))
    expect(rec.find("/under-after")?.connectionId).toBe(c.connectionId)
  })

  it("HTTP-7: overrun (content-length 5, 10 bytes): the app never gets more than 5 bytes nor a complete body (node:http2 ends the connection with GOAWAY INTERNAL_ERROR)", async () => {
    const r = await lengthMismatch("/over", 5, 10)
    // What the wire shows on Node 24: the whole connection goes, GOAWAY INTERNAL_ERROR (2)
    // naming stream 1 as the last processed; no response for stream 1.
    expect(r.goaway, r.summary).toEqual({ error_code: 2, last_stream_id: 1 })
    expect(r.status(1), r.summary).toBeUndefined()
    expect(r.bodyLength(1)).toBe(0)
    // ...and closes the TCP connection: the second request cannot be sent.
    expect(r.socketClosed, r.summary).toBe(true)
    expect(r.timedOut, r.summary).toBe(false)
    expect(r.events.some((e) => e.type === "SendFailed"), r.summary).toBe(true)
    expect(r.events.some((e) => e.type === "Sent" && e.stream === 3), r.summary).toBe(false)

    await until(() => rec.find("/over")?.done === true, "the /over app to end")
    expectDisconnected(rec.find("/over"), 5)
    expect(rec.find("/over-after")).toBeUndefined()

    // The server itself is fine: a new connection is served.
    const again = await h2probe({ port: server().port, timeout: 3, requests: [{ method: "GET", path: "/over-new" }] })
    expect(again.status(1), again.summary).toBe(200)
    expect(again.body(1)).toBe("got 0")
  })

  it("HTTP-14, HTTP-8: a client RST_STREAM CANCEL after a partial upload: receive yields the bytes sent, then http.disconnect with errorCode 8, never moreBody:false", async () => {
    // The RST_STREAM goes out once the app has received the 5 bytes.
    const probe = startProbe({
      port: server().port,
      timeout: 4,
      requests: [
        { method: "POST", path: "/cancel", data: "hello", endStream: false, rst: 8, hold: ["rst"] },
        { method: "GET", path: "/cancel-after" }
      ]
    })
    await until(() => {
      const c = rec.find("/cancel")
      return c !== undefined && bodyBytes(c) === 5
    }, "the /cancel app to receive 5 bytes")
    probe.release()
    const r = await probe.result
    expect(r.events.some((e) => e.type === "Sent" && e.what === "rst" && e.code === 8), r.summary).toBe(true)
    expect(r.status(1), r.summary).toBeUndefined()
    expect(r.status(3), r.summary).toBe(200)
    expect(r.goaway).toBeUndefined()

    await until(() => rec.find("/cancel")?.done === true, "the /cancel app to end")
    const c = expectDisconnected(rec.find("/cancel"), 5)
    // HTTP-14: what was delivered is exactly what the client sent before the reset.
    expect(bodyText(c)).toBe("hello")
    expect(c.events.filter((e) => e.type === "http.request").every((e) => e.type === "http.request" && e.moreBody)).toBe(true)
    expect(c.events.at(-1)).toEqual({ type: "http.disconnect", connectionId: c.connectionId, streamId: c.streamId, end: "reset", errorCode: 8 })
  })
})

describe("HTTP-7 forbidden request fields on h2 (RFC 9113 §8.2.2)", () => {
  const rec = recorder()
  const server = useServer(rec.app)

  for (const [name, value] of [["connection", "keep-alive"], ["transfer-encoding", "chunked"], ["te", "gzip"], ["X-Upper", "1"]] as const) {
    it(`HTTP-7, RUN-5: a request carrying \`${name}: ${value}\` is a stream error (RST_STREAM PROTOCOL_ERROR), the app never runs, the connection keeps serving`, async () => {
      const r = await h2probe({
        port: server().port,
        timeout: 3,
        requests: [{ method: "GET", path: `/bad-${name}`, headers: [[name, value]] }, { method: "GET", path: "/fine" }]
      })
      expect(r.resetCode(1), r.summary).toBe(1)
      expect(r.goaway, r.summary).toBeUndefined()
      expect(r.status(3), r.summary).toBe(200)
      expect(rec.find(`/bad-${name}`)).toBeUndefined()
    })
  }
})

describe("HTTP-12 field names on h2 arrive lower-case (RFC 9113 §8.2.1)", () => {
  const rec = recorder()
  const server = useServer(rec.app)

  // The runner takes HTTP/2 names as node:http2 reports them, without lower-casing them again (fromRaw):
  // nghttp2 must reset a stream whose trailers carry an upper-case name, as it does for its head (HTTP-7 above).
  it("HTTP-12: trailers with an upper-case field name are a stream error (RST_STREAM PROTOCOL_ERROR); the app never gets them; the connection keeps serving", async () => {
    const r = await h2probe({
      port: server().port,
      timeout: 3,
      requests: [
        { method: "POST", path: "/upper-trailer", headers: [["te", "trailers"]], data: "hi", trailers: [["X-Upper", "1"]] },
        { method: "GET", path: "/fine" }
      ]
    })
    expect(r.resetCode(1), r.summary).toBe(1)
    expect(r.goaway, r.summary).toBeUndefined()
    expect(r.status(3), r.summary).toBe(200)
    const call = rec.find("/upper-trailer")
    expect(call?.events.some((e) => e.type === "http.request.trailers") ?? false).toBe(false)
  })
})

describe("HTTP/1.1 malformed heads", () => {
  const rec = recorder()
  const server = useServer(rec.app)

  it("HTTP-7: an HTTP/1.1 request with an invalid header line gets 400 from the runner, the app does not run, the process keeps serving", async () => {
    const bad = await rawHttp(server().port, ["GET /bad HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n"])
    expect(statusOf(bad.text), bad.text).toBe(400)
    expect(/\r\nconnection: close\r\n/i.test(bad.text)).toBe(true)
    expect(bad.closed).toBe(true)
    expect(rec.calls).toHaveLength(0)
    expect(server().lines.error.some((l) => l.includes("malformed HTTP/1.1 request") && l.includes("400"))).toBe(true)

    const good = await rawHttp(server().port, ["GET /good HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"])
    expect(statusOf(good.text), good.text).toBe(200)
    expect(bodyOf(good.text)).toBe("got 0")
    expect(rec.calls.map((c) => c.path)).toEqual(["/good"])
  })

  it("RUN-5: HTTP/1.1 pipelining: a bad request line behind a streaming response gets no 400 spliced into that response; the response arrives whole, then the connection closes", async () => {
    const app: App = (scope, _receive, send) => {
      if (scope.type !== "http") return unsupportedScope(scope)
      return Effect.gen(function*() {
        yield* send({ type: "http.response.start", status: 200, headers: [["content-type", "text/plain"]] })
        for (let i = 1; i <= 3; i++) {
          yield* send({ type: "http.response.body", body: text(`chunk${i};`), moreBody: true })
          yield* Effect.sleep(200)
        }
        yield* send({ type: "http.response.body" })
      })
    }
    await withServer(app, { drainTimeout: 500 }, async (server) => {
      const r = await rawHttp(server.port, ["GET /slow HTTP/1.1\r\nHost: x\r\n\r\nBAD REQUEST LINE\x01\r\n\r\n"], { timeoutMs: 2500 })
      const head = r.text.indexOf("\r\n\r\n")
      const body = dechunk(head < 0 ? "" : r.text.slice(head + 4))
      expect(
        {
          spliced400: r.text.includes("HTTP/1.1 400"),
          status: statusOf(r.text),
          chunked: head >= 0 && r.text.slice(0, head).toLowerCase().includes("transfer-encoding: chunked"),
          body: body.data,
          lastChunk: body.complete,
          trailing: body.rest,
          closed: r.closed
        },
        `received ${JSON.stringify(r.text)}`
      ).toEqual({ spliced400: false, status: 200, chunked: true, body: "chunk1;chunk2;chunk3;", lastChunk: true, trailing: "", closed: true })
    })
  })
})

describe("RUN-8 body limit (maxBodySize 1000)", () => {
  const rec = recorder()
  const server = useServer(rec.app, { maxBodySize: 1000 })

  it("RUN-8: a Content-Length over maxBodySize gets 413 without running the app (h2 and HTTP/1.1); exactly maxBodySize is accepted", async () => {
    const h2 = await h2probe({
      port: server().port,
      timeout: 4,
      requests: [
        { method: "POST", path: "/cl-h2", headers: [["content-length", "5000"]], endStream: false },
        { method: "POST", path: "/cl-h2-exact", headers: [["content-length", "1000"]], data: 1000 }
      ]
    })
    expect(h2.status(1), h2.summary).toBe(413)
    expect(h2.body(1)).toBe("Content Too Large\n")
    expect(h2.status(3), h2.summary).toBe(200)
    expect(h2.body(3)).toBe("got 1000")

    const h1 = await rawHttp(server().port, ["POST /cl-h1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n"])
    expect(statusOf(h1.text), h1.text).toBe(413)
    expect(bodyOf(h1.text)).toBe("Content Too Large\n")
    expect(/\r\nconnection: close\r\n/i.test(h1.text)).toBe(true)
    expect(h1.closed).toBe(true)

    // The app ran for the accepted request only.
    expect(rec.calls.map((c) => c.path)).toEqual(["/cl-h2-exact"])
    expect(server().lines.access.filter((l) => / 413 .*end=too-large$/.test(l))).toHaveLength(2)
  })

  it("RUN-8: a chunked HTTP/1.1 upload crossing maxBodySize: the app sees http.disconnect (at most 1000 bytes), the client gets 413", async () => {
    const chunk = `1f4\r\n${"y".repeat(500)}\r\n`
    // Three 500-byte chunks, no last chunk: the third crosses the limit.
    const r = await rawHttp(
      server().port,
      ["POST /chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", chunk, chunk, chunk],
      { gapMs: 20 }
    )
    expect(statusOf(r.text), r.text).toBe(413)
    expect(bodyOf(r.text)).toBe("Content Too Large\n")
    expect(r.closed).toBe(true)
    await until(() => rec.find("/chunked")?.done === true, "the /chunked app to end")
    const c = expectDisconnected(rec.find("/chunked"), 1000)
    expect(bodyText(c)).toBe("y".repeat(bodyBytes(c)))
  })

  it("RUN-8: an h2 upload without content-length crossing maxBodySize: the app sees http.disconnect (at most 1000 bytes), the client gets 413, the connection keeps serving", async () => {
    const probe = startProbe({
      port: server().port,
      timeout: 4,
      requests: [
        { method: "POST", path: "/nolength", data: 3000, chunk: 500, dataDelayMs: 15, hold: ["data"] },
        { method: "GET", path: "/nolength-after" }
      ]
    })
    await until(() => rec.find("/nolength") !== undefined, "the /nolength app to start")
    probe.release()
    const r = await probe.result
    expect(r.status(1), r.summary).toBe(413)
    expect(r.body(1)).toBe("Content Too Large\n")
    expect(r.ended(1)).toBe(true)
    // The upload was stopped: not all 3000 bytes went out.
    const sent = r.events.reduce((n, e) => n + (e.type === "Sent" && e.what === "data" && e.stream === 1 ? e.length ?? 0 : 0), 0)
    expect(sent).toBeLessThan(3000)
    expect(r.status(3), r.summary).toBe(200)
    expect(r.goaway).toBeUndefined()
    await until(() => rec.find("/nolength")?.done === true, "the /nolength app to end")
    expectDisconnected(rec.find("/nolength"), 1000)
  })

  it("HTTP-9 RUN-8: a body over maxBodySize ends the stream; the app's send after http.disconnect fails with StreamClosedError (not HTTP-3) and is not logged as an app failure, on h2 and HTTP/1.1", async () => {
    const outcomes = new Map<string, SendOutcome>()
    const app: App = (scope, receive, send) => {
      if (scope.type !== "http") return unsupportedScope(scope)
      return Effect.gen(function*() {
        for (;;) {
          const e = yield* receive
          if (e.type === "http.disconnect") break
          if (e.type === "http.request" && !e.moreBody) {
            outcomes.set(scope.path, { tag: "whole body delivered" })
            break
          }
        }
        yield* send({ type: "http.response.start", status: 200 }).pipe(
          Effect.onExit((exit) => Effect.sync(() => void (outcomes.has(scope.path) || outcomes.set(scope.path, outcome(exit)))))
        )
        yield* send({ type: "http.response.body", body: text("late") })
      })
    }
    await withServer(app, { maxBodySize: 1000 }, async (server) => {
      const session = await h2connect(server.url)
      let h2: Awaited<ReturnType<typeof h2request>>
      try {
        h2 = await h2request(session, { ":method": "POST", ":path": "/h2" }, "x".repeat(5000))
      } finally {
        await h2close(session)
      }
      const h1 = await rawHttp(
        server.port,
        ["POST /h1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", `1388\r\n${"x".repeat(5000)}\r\n0\r\n\r\n`],
        { done: completeResponse, timeoutMs: 2000 }
      )
      await until(() => server.lines.access.length >= 2 && server.inflight() === 0, "both requests finished", 1000)
      expect({ h2: h2.status, h1: statusOf(h1.text) }).toEqual({ h2: 413, h1: 413 })
      expect({ h2: outcomes.get("/h2"), h1: outcomes.get("/h1") }).toEqual({
        h2: { tag: "StreamClosedError" },
        h1: { tag: "StreamClosedError" }
      })
      expect(server.lines.error.filter((l) => l.includes("app failed"))).toEqual([])
    })
  })
})
