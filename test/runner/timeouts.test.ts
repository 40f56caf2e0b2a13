/**
 * The connection timeouts of spec.md §8.3 on real sockets: protocol
 * detection (RUN-9), the HTTP/2 idle timeout that never cuts a stream short
 * (RUN-7), and the HTTP/1.1 header timeout — each checked on time, within
 * a bound.
 */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import type { App } from "../../src/protocol/app.ts"
import { unsupportedScope } from "../../src/protocol/unsupported.ts"
import { h2close, h2connect, h2request, rawHttp, statusOf, until } from "../support/clients.ts"
import { withServer } from "../support/server.ts"

const text = (s: string): Uint8Array => new TextEncoder().encode(s)

describe("connection timeouts (spec.md §8.3)", () => {
  it("RUN-9: protocol detection times out: a silent connection and one that sent only \"PRI * HTTP/2.0\\r\\n\" are closed within ~1.5 s (headerTimeout 300)", async () => {
    const app: App = (scope, _receive, send) =>
      scope.type !== "http"
        ? unsupportedScope(scope)
        : Effect.andThen(send({ type: "http.response.start", status: 200 }), send({ type: "http.response.body" }))
    await withServer(app, { headerTimeout: 300 }, async (server) => {
      const timed = async (parts: ReadonlyArray<string>) => {
        const t0 = Date.now()
        const r = await rawHttp(server.port, parts, { timeoutMs: 1500 })
        return { closed: r.closed, ms: Date.now() - t0, text: r.text }
      }
      const [silent, partial] = await Promise.all([timed([]), timed(["PRI * HTTP/2.0\r\n"])])
      expect(silent.closed, `silent connection still open after ${silent.ms} ms`).toBe(true)
      expect(partial.closed, `partial-preface connection still open after ${partial.ms} ms`).toBe(true)
      expect(silent.ms).toBeLessThan(1500)
      expect(partial.ms).toBeLessThan(1500)
      // Closed by the detection timeout, not answered as some protocol.
      expect(silent.ms).toBeGreaterThanOrEqual(250)
      expect([silent.text, partial.text]).toEqual(["", ""])
    })
  })

  it("RUN-7 §8.3 idle timeout (400 ms): an h2 connection whose only stream runs a 1.5 s app gets no GOAWAY before its response; an idle connection gets GOAWAY within ~1.5 s", async () => {
    const app: App = (scope, _receive, send) => {
      if (scope.type !== "http") return unsupportedScope(scope)
      return Effect.gen(function*() {
        if (scope.path === "/long") yield* Effect.sleep(1500)
        yield* send({ type: "http.response.start", status: 200 })
        yield* send({ type: "http.response.body", body: text(scope.path) })
      })
    }
    await withServer(app, { idleTimeout: 400 }, async (server) => {
      const busy = await h2connect(server.url)
      const idle = await h2connect(server.url)
      let busyGoaway = 0
      let idleGoaway = 0
      busy.on("goaway", () => void (busyGoaway ||= Date.now()))
      idle.on("goaway", () => void (idleGoaway ||= Date.now()))
      try {
        const long = h2request(busy, { ":path": "/long" })
        const quick = await h2request(idle, { ":path": "/quick" })
        const quickAt = Date.now()
        expect(quick.status).toBe(200)
        const r = await long
        const longAt = Date.now()
        expect({ status: r.status, ended: r.ended, body: r.body }).toEqual({ status: 200, ended: true, body: "/long" })
        expect(busyGoaway === 0 || busyGoaway >= longAt, `GOAWAY ${longAt - busyGoaway} ms before the response ended`).toBe(true)
        await until(() => idleGoaway > 0, "GOAWAY on the idle connection", Math.max(0, quickAt + 1500 - Date.now()))
        expect(idleGoaway - quickAt).toBeLessThan(1500)
        // It is the idle timeout that closed it (§8.3: 1–1.25 timeouts after the last byte), not something else.
        expect(idleGoaway - quickAt).toBeGreaterThanOrEqual(300)
      } finally {
        await Promise.all([h2close(busy), h2close(idle)])
      }
    })
  })

  it("§8.3 header timeout: HTTP/1.1 header timeout is checked on time: a head that stops half-way gets 408 or a close within ~2 s (headerTimeout 500)", async () => {
    const app: App = (scope, _receive, send) =>
      scope.type !== "http"
        ? unsupportedScope(scope)
        : Effect.andThen(send({ type: "http.response.start", status: 200 }), send({ type: "http.response.body" }))
    await withServer(app, { headerTimeout: 500 }, async (server) => {
      const t0 = Date.now()
      const r = await rawHttp(server.port, ["GET / HTTP/1.1\r\nHost: x\r\n"], { timeoutMs: 2000 })
      const ms = Date.now() - t0
      expect(r.closed || statusOf(r.text) === 408, `no 408 and no close after ${ms} ms: ${JSON.stringify(r.text)}`).toBe(true)
      expect(ms).toBeLessThan(2000)
      if (r.text !== "") expect(statusOf(r.text)).toBe(408)
    })
  })
})
