/**
 * The response fields an app sends, checked by `send` on HTTP/2 and
 * HTTP/1.1 alike (spec.md §3.4, §4.5): a single-value field twice (HTTP-16)
 * and a control character in a value (HTTP-6) fail the start with
 * `LocalProtocolError`; connection-specific fields are dropped from an
 * HTTP/2 response, which is still sent (RUN-6); the runner adds one `date`
 * to a head without one, never beside the app's (spec.md §8.2).
 */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import type { App } from "../../src/protocol/app.ts"
import type { OutboundEvent } from "../../src/protocol/events.ts"
import { unsupportedScope } from "../../src/protocol/unsupported.ts"
import { completeResponse, h2close, h2connect, h2request, rawHttp, statusOf } from "../support/clients.ts"
import { collect, connect } from "../support/h2client.ts"
import { exitOutcome as outcome, type SendOutcome } from "../support/outcome.ts"
import { withServer } from "../support/server.ts"

const text = (s: string): Uint8Array => new TextEncoder().encode(s)

describe("response fields checked on send", () => {
  it("HTTP-16: two content-type fields fail the http.response.start send with LocalProtocolError HTTP-16, on h2 and HTTP/1.1", async () => {
    const outcomes = new Map<string, SendOutcome>()
    const app: App = (scope, _receive, send) => {
      if (scope.type !== "http") return unsupportedScope(scope)
      return Effect.gen(function*() {
        const exit = yield* Effect.exit(
          send({ type: "http.response.start", status: 200, headers: [["content-type", "text/plain"], ["content-type", "text/html"]] })
        )
        outcomes.set(`${scope.httpVersion} ${scope.path}`, outcome(exit))
        yield* exit
        yield* send({ type: "http.response.body", body: text("two types") })
      })
    }
    await withServer(app, {}, async (server) => {
      const session = await h2connect(server.url)
      let h2: Awaited<ReturnType<typeof h2request>>
      try {
        h2 = await h2request(session, { ":path": "/dup" })
      } finally {
        await h2close(session)
      }
      const h1 = await rawHttp(server.port, ["GET /dup HTTP/1.1\r\nHost: x\r\n\r\n"], { done: completeResponse, timeoutMs: 2000 })
      expect({ h2: outcomes.get("2 /dup"), h1: outcomes.get("1.1 /dup") }).toEqual({
        h2: { tag: "LocalProtocolError", rule: "HTTP-16" },
        h1: { tag: "LocalProtocolError", rule: "HTTP-16" }
      })
      // The app failed before any response byte: 500 (RUN-2).
      expect({ h2: h2.status, h1: statusOf(h1.text) }).toEqual({ h2: 500, h1: 500 })
    })
  })

  it("HTTP-6: a header value with \\x01 fails the http.response.start send with LocalProtocolError HTTP-6, on h2 and HTTP/1.1", async () => {
    const outcomes = new Map<string, SendOutcome>()
    const app: App = (scope, _receive, send) => {
      if (scope.type !== "http") return unsupportedScope(scope)
      return Effect.gen(function*() {
        const exit = yield* Effect.exit(send({ type: "http.response.start", status: 200, headers: [["x-ctl", "a\x01b"]] }))
        outcomes.set(`${scope.httpVersion} ${scope.path}`, outcome(exit))
        yield* exit
        yield* send({ type: "http.response.body", body: text("ctl") })
      })
    }
    await withServer(app, {}, async (server) => {
      const session = await h2connect(server.url)
      try {
        await h2request(session, { ":path": "/ctl" })
      } finally {
        await h2close(session)
      }
      await rawHttp(server.port, ["GET /ctl HTTP/1.1\r\nHost: x\r\n\r\n"], { done: completeResponse, timeoutMs: 2000 })
      expect({ h2: outcomes.get("2 /ctl"), h1: outcomes.get("1.1 /ctl") }).toEqual({
        h2: { tag: "LocalProtocolError", rule: "HTTP-6" },
        h1: { tag: "LocalProtocolError", rule: "HTTP-6" }
      })
    })
  })

  it("RUN-6: an h2 response with te: trailers and http2-settings: x is sent (200) without either field", async () => {
    const outcomes: Array<SendOutcome> = []
    const app: App = (scope, _receive, send) => {
      if (scope.type !== "http") return unsupportedScope(scope)
      return Effect.gen(function*() {
        const events: Array<OutboundEvent> = [
          {
            type: "http.response.start",
            status: 200,
            headers: [["content-type", "text/plain"], ["te", "trailers"], ["http2-settings", "x"], ["x-kept", "yes"]]
          },
          { type: "http.response.body", body: text("ok") }
        ]
        for (const event of events) {
          const exit = yield* Effect.exit(send(event))
          outcomes.push(outcome(exit))
          yield* exit
        }
      })
    }
    await withServer(app, {}, async (server) => {
      const session = await connect(server.url)
      try {
        const r = await collect(session.request({ ":path": "/conn-specific" }))
        expect(outcomes).toEqual(["ok", "ok"])
        expect(r.status).toBe(200)
        expect(r.body.toString("latin1")).toBe("ok")
        expect(r.headers["x-kept"]).toBe("yes")
        const names = r.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase())
        expect(names.filter((n) => n === "te" || n === "http2-settings")).toEqual([])
      } finally {
        await h2close(session)
      }
    })
  })
  it("§8.2: one date on every response, the runner's (IMF-fixdate, now) when the app sent none, else the app's alone; on h2 and HTTP/1.1", async () => {
    const APP_DATE = "Sun, 06 Nov 1994 08:49:37 GMT"
    const app: App = (scope, _receive, send) => {
      if (scope.type !== "http") return unsupportedScope(scope)
      return Effect.gen(function*() {
        yield* send({ type: "http.response.start", status: 200, headers: scope.path === "/own" ? [["date", APP_DATE]] : [] })
        yield* send({ type: "http.response.body", body: text("dated") })
      })
    }
    await withServer(app, {}, async (server) => {
      const session = await connect(server.url)
      const h2Dates: Record<string, Array<string>> = {}
      try {
        for (const path of ["/", "/own"]) {
          const r = await collect(session.request({ ":path": path }))
          h2Dates[path] = r.rawHeaders.flatMap((n, i) => (i % 2 === 0 && n.toLowerCase() === "date" ? [r.rawHeaders[i + 1]!] : []))
        }
      } finally {
        await h2close(session)
      }
      const h1Dates: Record<string, Array<string>> = {}
      for (const path of ["/", "/own"]) {
        const h1 = await rawHttp(server.port, [`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`], { done: completeResponse, timeoutMs: 2000 })
        h1Dates[path] = [...h1.text.split("\r\n\r\n")[0]!.matchAll(/^date: (.*)$/gim)].map((m) => m[1]!)
      }
      for (const dates of [h2Dates, h1Dates]) {
        expect(dates["/own"]).toEqual([APP_DATE])
        expect(dates["/"]).toHaveLength(1)
        const [date] = dates["/"]!
        expect(date).toMatch(/^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT$/)
        expect(Math.abs(Date.parse(date!) - Date.now())).toBeLessThan(5_000)
      }
    })
  })
})
