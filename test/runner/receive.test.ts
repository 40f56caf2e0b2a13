/**
 * What `receive` yields on a real server (spec.md §4.3, §4.4, §4.7 table 2):
 * after a complete exchange, `http.disconnect` and nothing else, on every
 * stream; two fibers receiving at once share one upload exactly.
 *
 * Every wait is bounded: a runner that hangs makes a test fail, not stall.
 */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import type { App } from "../../src/protocol/app.ts"
import type { InboundEvent } from "../../src/protocol/events.ts"
import { unsupportedScope } from "../../src/protocol/unsupported.ts"
import { h2close, h2connect, h2request, sleep, until } from "../support/clients.ts"
import { collect, connect } from "../support/h2client.ts"
import { withServer } from "../support/server.ts"

const text = (s: string): Uint8Array => new TextEncoder().encode(s)
const latin1 = (b: Uint8Array): string => Buffer.from(b).toString("latin1")

describe("receive after the exchange, and receive from two fibers", () => {
  it("HTTP-8 HTTP-15: h2, 200 requests: after a complete body and a finished response, receive yields http.disconnect (no errorCode) and no app is left running", async () => {
    const disconnects: Array<InboundEvent> = []
    const repeats: Array<InboundEvent> = []
    const app: App = (scope, receive, send) => {
      if (scope.type !== "http") return unsupportedScope(scope)
      return Effect.gen(function*() {
        let n = 0
        for (;;) {
          const e = yield* receive
          if (e.type !== "http.request") return yield* Effect.die(new Error(`unexpected ${e.type} before the body ended`))
          n += e.body.length
          if (!e.moreBody) break
        }
        yield* send({ type: "http.response.start", status: 200, headers: [["content-type", "text/plain"]] })
        yield* send({ type: "http.response.body", body: text(`got ${n}`) })
        // The `complete` state (§4.7 table 2): receive waits for the end of the exchange.
        let e = yield* receive
        while (e.type !== "http.disconnect") e = yield* receive
        disconnects.push(e)
        repeats.push(yield* receive)
      })
    }
    await withServer(app, { drainTimeout: 500 }, async (server) => {
      const sessions = await Promise.all([1, 2, 3, 4].map(() => h2connect(server.url)))
      try {
        const results = await Promise.all(
          sessions.flatMap((session, s) =>
            Array.from({ length: 50 }, (_, i) =>
              i % 2 === 0
                ? h2request(session, { ":method": "GET", ":path": `/get/${s}/${i}` })
                : h2request(session, { ":method": "POST", ":path": `/post/${s}/${i}` }, "x".repeat(1 + i * 37))
            )
          )
        )
        expect(results.filter((r) => r.status !== 200 || !r.ended)).toEqual([])
        // The sessions stay open: nothing but the finished exchange may end the apps.
        await until(() => server.inflight() === 0, `inflight 0 (still ${server.inflight()}, ${disconnects.length} told)`, 1000)
        expect(disconnects).toHaveLength(200)
        expect(disconnects.filter((e) => "errorCode" in e)).toEqual([])
        expect(repeats.filter((e) => e.type !== "http.disconnect")).toEqual([])
        expect(server.lines.error).toEqual([])
      } finally {
        await Promise.all(sessions.map(h2close))
      }
    })
  })

  it("HTTP-14: two fibers looping on receive while an h2 upload arrives in chunks: in hand-out order they get the upload exactly, one moreBody:false, and both end", async () => {
    type Got = { readonly fiber: number; readonly event: InboundEvent }
    const got: Array<Got> = []
    const ended = new Set<number>()
    let appDone = false
    const app: App = (scope, receive, send) => {
      if (scope.type !== "http") return unsupportedScope(scope)
      const loop = (fiber: number) =>
        Effect.gen(function*() {
          for (;;) {
            const event = yield* receive
            got.push({ fiber, event })
            if (event.type === "http.disconnect") break
            if (event.type === "http.request" && !event.moreBody) {
              yield* send({ type: "http.response.start", status: 200 })
              yield* send({ type: "http.response.body", body: text("both") })
              break
            }
          }
          ended.add(fiber)
        })
      return Effect.all([loop(1), loop(2)], { concurrency: 2 }).pipe(Effect.tap(() => Effect.sync(() => void (appDone = true))))
    }
    await withServer(app, { drainTimeout: 500 }, async (server) => {
      const session = await connect(server.url)
      try {
        const parts = Array.from({ length: 6 }, (_, i) => text(`part-${i}:${"abcdefgh".repeat(i + 1)}|`))
        const stream = session.request({ ":method": "POST", ":path": "/both" })
        const result = collect(stream)
        for (const part of parts) {
          stream.write(part)
          await sleep(40)
        }
        stream.end()
        const r = await Promise.race([result, sleep(2000).then(() => undefined)])
        await until(() => appDone, `both receivers to end (ended: ${[...ended].join(",") || "none"})`, 1500)
        expect(r?.status).toBe(200)
        const bodies = got.flatMap((g) => (g.event.type === "http.request" ? [latin1(g.event.body)] : []))
        expect(bodies.join("")).toBe(parts.map(latin1).join(""))
        expect(got.filter((g) => g.event.type === "http.request" && !g.event.moreBody)).toHaveLength(1)
        for (const fiber of [1, 2]) {
          const last = got.filter((g) => g.fiber === fiber).at(-1)?.event
          const kind = last === undefined
            ? "nothing"
            : last.type === "http.disconnect"
            ? "disconnect"
            : last.type === "http.request" && !last.moreBody
            ? "last"
            : "more"
          expect(kind, `fiber ${fiber}'s final event`).toMatch(/^(disconnect|last)$/)
        }
        expect([...ended].sort()).toEqual([1, 2])
      } finally {
        await h2close(session)
      }
    })
  })
})
