/**
 * How the runner answers apps that fail, die, throw or return early
 * (spec.md §5): 500 before anything was sent, a reset after.
 */
import { Data, Effect } from "effect"
import { describe, expect, it } from "vitest"
import type { App } from "../../src/protocol/app.ts"
import { unsupportedScope } from "../../src/protocol/unsupported.ts"
import { bodyOf, completeResponse, h2close, h2connect, h2request, rawHttp, sleep, statusOf, until } from "../support/clients.ts"
import { h2probe } from "../support/h2probe.ts"
import { useServer, useSession } from "../support/server.ts"

class BoomError extends Data.TaggedError("BoomError")<{ readonly message: string }> {}

const text = (s: string) => new TextEncoder().encode(s)

/** The failure modes, by path. */
const modes = [
  "/fail-typed",
  "/die",
  "/throw",
  "/return-nothing",
  "/return-after-start",
  "/fail-after-body",
  "/return-partial"
] as const

const invoked: Array<string> = []
const BARRIER = 5
let barrier = 0

const app: App = (scope, _receive, send) => {
  if (scope.type !== "http") return unsupportedScope(scope)
  invoked.push(scope.path)
  // RUN-2: the app function itself throws when called.
  if (scope.path === "/throw") throw new Error("thrown synchronously by /throw")
  return Effect.gen(function*() {
    const start = { type: "http.response.start", status: 200, headers: [["content-type", "text/plain"]] } as const
    switch (scope.path) {
      case "/fail-typed":
        return yield* Effect.fail(new BoomError({ message: "typed failure before sending" }))
      case "/die":
        return yield* Effect.die(new Error("defect before sending"))
      case "/return-nothing":
        return
      case "/return-after-start":
        // The head is only buffered until the first body event: nothing is on the wire.
        yield* send(start)
        return
      case "/fail-after-body":
        yield* send(start)
        yield* send({ type: "http.response.body", body: text("partial"), moreBody: true })
        yield* Effect.sleep(20)
        return yield* Effect.fail(new BoomError({ message: "typed failure after the head" }))
      case "/return-partial":
        yield* send(start)
        yield* send({ type: "http.response.body", body: text("partial"), moreBody: true })
        yield* Effect.sleep(20)
        return
      case "/barrier": {
        // RUN-1: wait (bounded) until BARRIER streams have started; only concurrent streams get there.
        barrier += 1
        for (let i = 0; i < 400 && barrier < BARRIER; i++) yield* Effect.sleep(5)
        yield* send(start)
        yield* send({ type: "http.response.body", body: text(barrier >= BARRIER ? "all here" : "alone") })
        return
      }
      default: {
        // /ok?n=<i>: a two-chunk body, a little later (overlaps the failing streams).
        const n = new URLSearchParams(scope.queryString).get("n") ?? "-"
        yield* send(start)
        yield* Effect.sleep(10)
        yield* send({ type: "http.response.body", body: text(`ok `), moreBody: true })
        yield* Effect.sleep(10)
        yield* send({ type: "http.response.body", body: text(n) })
      }
    }
  })
}

const server = useServer(app)
const session = useSession(server)

const errorLinesFor = (path: string): Array<string> => server().lines.error.filter((l) => l.includes(` ${path} HTTP/`))

/** A 200 whose "partial" body was cut by RST_STREAM INTERNAL_ERROR, never ended (RUN-3). */
const expectResetAfterPartial = (h2: Awaited<ReturnType<typeof h2request>>): void => {
  expect({ status: h2.status, body: h2.body, ended: h2.ended, rstCode: h2.rstCode, error: h2.error }).toEqual({
    status: 200,
    body: "partial",
    ended: false,
    rstCode: 2,
    error: "ERR_HTTP2_STREAM_ERROR"
  })
}

describe("RUN-2: failures before any response byte → 500", () => {
  for (const [path, what, logged] of [
    ["/fail-typed", "fails with a typed error", /app failed: BoomError: typed failure before sending/],
    ["/die", "dies with a defect", /app failed: Error: defect before sending/],
    ["/throw", "throws synchronously when called", /app failed: Error: thrown synchronously by \/throw/]
  ] as const) {
    it(`RUN-2: an app that ${what} gets a 500 on h2 and HTTP/1.1, and the error is logged`, async () => {
      const before = errorLinesFor(path).length
      const h2 = await h2request(session(), { ":path": path })
      expect(h2.status).toBe(500)
      expect(h2.body).toBe("Internal Server Error\n")
      expect(h2.ended).toBe(true)
      expect(h2.rstCode ?? 0).toBe(0)

      const h1 = await rawHttp(server().port, [`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`], { done: completeResponse })
      expect(statusOf(h1.text), h1.text).toBe(500)
      expect(bodyOf(h1.text)).toBe("Internal Server Error\n")

      await until(() => errorLinesFor(path).length >= before + 2, `two error lines for ${path}`)
      const lines = errorLinesFor(path).slice(before)
      expect(lines).toHaveLength(2)
      for (const line of lines) expect(line).toMatch(logged)
    })
  }
})

describe("RUN-4: an app that returns without completing the response", () => {
  it("RUN-4: returning without sending anything → 500 (h2 and HTTP/1.1), logged as RUN-4", async () => {
    const h2 = await h2request(session(), { ":path": "/return-nothing" })
    expect(h2.status).toBe(500)
    expect(h2.body).toBe("Internal Server Error\n")
    const h1 = await rawHttp(server().port, ["GET /return-nothing HTTP/1.1\r\nHost: x\r\n\r\n"], { done: completeResponse })
    expect(statusOf(h1.text), h1.text).toBe(500)
    await until(() => errorLinesFor("/return-nothing").length >= 2, "two RUN-4 lines")
    for (const line of errorLinesFor("/return-nothing")) expect(line).toContain("RUN-4")
  })

  it("RUN-4: returning after http.response.start alone (no body event, nothing on the wire) → 500", async () => {
    const h2 = await h2request(session(), { ":path": "/return-after-start" })
    expect(h2.status).toBe(500)
    expect(h2.body).toBe("Internal Server Error\n")
    await until(() => errorLinesFor("/return-after-start").length >= 1, "a RUN-4 line")
    expect(errorLinesFor("/return-after-start")[0]).toContain("RUN-4")
  })

  // Regression: ServerHttp2Stream.close(code) first end()s the writable side, so the wire shows an
  // empty DATA frame with END_STREAM and no RST_STREAM: the client gets a "complete" truncated 200.
  // H2Exchange.wireReset destroys the stream instead (spec.md §8.6).
  it("RUN-4, RUN-3: returning after start + a partial body → h2 RST_STREAM INTERNAL_ERROR (rstCode 2), not END_STREAM; the connection survives", async () => {
    const h2 = await h2request(session(), { ":path": "/return-partial" })
    expectResetAfterPartial(h2)
    // Same session still serves.
    const next = await h2request(session(), { ":path": "/ok?n=next" })
    expect(next.body).toBe("ok next")
    await until(() => errorLinesFor("/return-partial").some((l) => l.includes("HTTP/2")), "a RUN-4 line")
    expect(errorLinesFor("/return-partial").find((l) => l.includes("HTTP/2"))).toContain("RUN-4")
  })

  it("RUN-4, RUN-3: returning after start + a partial body on HTTP/1.1 → the connection is closed, the chunked body has no last chunk", async () => {
    const h1 = await rawHttp(server().port, ["GET /return-partial HTTP/1.1\r\nHost: x\r\n\r\n"])
    expect(h1.closed).toBe(true)
    expect(statusOf(h1.text), h1.text).toBe(200)
    expect(h1.text.toLowerCase()).toContain("transfer-encoding: chunked")
    expect(bodyOf(h1.text)).toBe("7\r\npartial\r\n") // no last chunk
    await until(() => errorLinesFor("/return-partial").some((l) => l.includes("HTTP/1.1")), "a RUN-4 line")
    expect(errorLinesFor("/return-partial").find((l) => l.includes("HTTP/1.1"))).toContain("RUN-4")
    await until(() => server().lines.access.some((l) => l.includes("/return-partial HTTP/1.1")), "the access line")
    expect(server().lines.access.find((l) => l.includes("/return-partial HTTP/1.1"))).toMatch(/ end=app-incomplete$/)
  })
})

describe("RUN-3: failure after the response head was sent", () => {
  // Regression: END_STREAM instead of RST_STREAM (see above).
  it("RUN-3: h2: the stream is reset with INTERNAL_ERROR (rstCode 2) after the partial body, not ended, and the connection keeps serving", async () => {
    const h2 = await h2request(session(), { ":path": "/fail-after-body" })
    expectResetAfterPartial(h2)
    expect(session().closed || session().destroyed).toBe(false)
    const next = await h2request(session(), { ":path": "/ok?n=after" })
    expect(next.status).toBe(200)
    expect(next.body).toBe("ok after")
    await until(() => errorLinesFor("/fail-after-body").length >= 1, "an app-failed line")
    expect(errorLinesFor("/fail-after-body")[0]).toMatch(/app failed: BoomError: typed failure after the head/)
    // The access line says the response was cut short, not a complete 200.
    await until(() => server().lines.access.some((l) => l.includes("/fail-after-body")), "the access line")
    expect(server().lines.access.find((l) => l.includes("/fail-after-body"))).toMatch(/"GET \/fail-after-body HTTP\/2" 200 7 [\d.]+ms conn=\d+ stream=\d+ end=app-failed$/)
  })

  // Regression: with close(code) the probe saw DATA(7), DATA(0, END_STREAM), no RST_STREAM.
  it("RUN-3, RUN-4: h2 frames: after a partial body a failing or returning app's stream gets RST_STREAM INTERNAL_ERROR and never END_STREAM", async () => {
    const r = await h2probe({
      port: server().port,
      timeout: 3,
      requests: [
        { method: "GET", path: "/fail-after-body" },
        { method: "GET", path: "/return-partial" },
        { method: "GET", path: "/ok?n=probe" }
      ]
    })
    const wire = (stream: number) => ({ status: r.status(stream), body: r.body(stream), ended: r.ended(stream), reset: r.resetCode(stream) })
    expect({ failing: wire(1), returning: wire(3) }, r.summary).toEqual({
      failing: { status: 200, body: "partial", ended: false, reset: 2 },
      returning: { status: 200, body: "partial", ended: false, reset: 2 }
    })
    expect(wire(5)).toEqual({ status: 200, body: "ok probe", ended: true, reset: undefined })
    expect(r.goaway).toBeUndefined()
  })

  it("RUN-3: HTTP/1.1: the connection is closed and the client sees an incomplete chunked body", async () => {
    const r = await rawHttp(server().port, ["GET /fail-after-body HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n"])
    expect(r.closed).toBe(true)
    expect(statusOf(r.text), r.text).toBe(200)
    expect(r.text.toLowerCase()).toContain("transfer-encoding: chunked")
    expect(bodyOf(r.text)).toBe("7\r\npartial\r\n")
    expect(r.text.endsWith("0\r\n\r\n")).toBe(false)
  })
})

describe("RUN-5: failing streams do not affect their neighbours", () => {
  it("RUN-5: 20 concurrent streams on one h2 connection, every other one failing in some way: the others all succeed with their bodies", async () => {
    const local = await h2connect(server().url)
    try {
      const errorsBefore = server().lines.error.length
      const paths = Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? `/ok?n=${i}` : modes[(i >> 1) % modes.length]!))
      const outcomes = await Promise.all(paths.map((p) => h2request(local, { ":path": p })))
      // The neighbours: every one complete and correct.
      const ok = outcomes.flatMap((o, i) => (i % 2 === 0 ? [{ path: paths[i], status: o.status, body: o.body, ended: o.ended, rstCode: o.rstCode }] : []))
      expect(ok).toEqual(
        paths.flatMap((path, i) => (i % 2 === 0 ? [{ path, status: 200, body: `ok ${i}`, ended: true, rstCode: 0 }] : []))
      )
      // The failing ones failed, each in its own way (the reset code itself is RUN-3's test).
      outcomes.forEach((o, i) => {
        const path = paths[i]!
        if (i % 2 === 0) return
        if (path === "/fail-after-body" || path === "/return-partial") {
          expect({ path, status: o.status, body: o.body }).toEqual({ path, status: 200, body: "partial" })
        } else {
          expect({ path, status: o.status, body: o.body }).toEqual({ path, status: 500, body: "Internal Server Error\n" })
        }
      })
      // The 10 failing streams were logged, one error line each.
      await until(() => server().lines.error.length >= errorsBefore + 10, "10 error lines")
      await sleep(20)
      expect(server().lines.error.slice(errorsBefore)).toHaveLength(10)
      // The connection is still up and serving.
      expect(local.closed || local.destroyed).toBe(false)
      const last = await h2request(local, { ":path": "/ok?n=last" })
      expect(last.body).toBe("ok last")
    } finally {
      await h2close(local)
    }
  })
})

describe("RUN-1: one app invocation per stream, concurrently", () => {
  it("RUN-1: 5 streams on one h2 connection each wait until all 5 have started: all of them get there", async () => {
    const local = await h2connect(server().url)
    try {
      const before = invoked.length
      const outcomes = await Promise.all(Array.from({ length: BARRIER }, () => h2request(local, { ":path": "/barrier" })))
      expect(outcomes.map((o) => [o.status, o.body])).toEqual(Array.from({ length: BARRIER }, () => [200, "all here"]))
      expect(invoked.slice(before)).toEqual(Array.from({ length: BARRIER }, () => "/barrier"))
    } finally {
      await h2close(local)
    }
  })
})
