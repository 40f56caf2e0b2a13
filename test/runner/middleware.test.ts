/**
 * A middleware that transforms response bodies (spec.md §3.3.1, CORE-12):
 * examples/footer.ts behind the real server, on HTTP/2 (where the server
 * lists every extension) and HTTP/1.1.
 */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { bypassing, withFooter } from "../../examples/footer.ts"
import type { App } from "../../src/protocol/app.ts"
import { deferred, within } from "../support/async.ts"
import { rawHttp } from "../support/clients.ts"
import { closeSession, collect, connect } from "../support/h2client.ts"
import { httpApp, type Outcome, rule, trySend } from "../support/outcome.ts"
import { listen } from "../support/server.ts"

const enc = new TextEncoder()
const FOOTER = "<footer>f</footer>"

interface Seen {
  readonly listed: ReadonlyArray<string>
  readonly refused: ReadonlyArray<Outcome>
}

/** The inner app: says which bypassing extensions it was offered, tries their events, then sends a page. */
const inner = (seen: (s: Seen) => void): App =>
  httpApp((scope, _receive, send) =>
    Effect.gen(function*() {
      const listed = bypassing.filter((name) => (scope.extensions as Record<string, unknown>)[name] !== undefined)
      const refused = [
        yield* trySend(send, { type: "http.response.pathsend", path: "/etc/hostname" }),
        yield* trySend(send, { type: "http.response.zerocopysend", file: 0 }),
        yield* trySend(send, { type: "http.response.push", path: "/style.css" }),
        yield* trySend(send, { type: "http.response.start", status: 200, trailers: true }),
        yield* trySend(send, { type: "http.response.trailers", headers: [] })
      ]
      seen({ listed, refused })
      const page = enc.encode("<p>hi</p>")
      yield* send({ type: "http.response.start", status: 200, headers: [["content-type", "text/html"], ["content-length", String(page.length)]] })
      yield* send({ type: "http.response.body", body: page })
    })
  )

describe("CORE-12: a body-transforming middleware takes away the extensions that bypass it", () => {
  it("CORE-12 CORE-7: examples/footer.ts offers no pathsend, zerocopysend, trailers or push to its inner app, refuses their events with CORE-7, and its footer reaches the client (HTTP/2, HTTP/1.1)", async () => {
    const results: Array<Seen> = []
    const twice = deferred()
    const server = await listen(withFooter(FOOTER)(inner((s) => {
      results.push(s)
      if (results.length === 2) twice.resolve()
    })))
    const session = await connect(server.url)
    try {
      const h2 = await collect(session.request({ ":path": "/" }))
      expect(h2.status).toBe(200)
      expect(h2.body.toString()).toBe("<p>hi</p>" + FOOTER)
      expect(h2.headers["content-length"]).not.toBe("9")
      const h1 = await rawHttp(server.port, ["GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"])
      expect(h1.text).toContain("<p>hi</p>")
      expect(h1.text).toContain(FOOTER)
      await within(twice.promise, 5000, "both requests")
      for (const seen of results) {
        expect(seen.listed).toEqual([])
        expect(seen.refused).toEqual([rule("CORE-7"), rule("CORE-7"), rule("CORE-7"), rule("CORE-7"), rule("CORE-7")])
      }
    } finally {
      await closeSession(session)
      await server.close()
    }
  })

  it("CORE-12: without the middleware the same server lists those extensions on HTTP/2 — the middleware, not the stream, took them away", async () => {
    const seen = deferred<ReadonlyArray<string>>()
    const server = await listen(httpApp((scope, _receive, send) =>
      Effect.gen(function*() {
        seen.resolve(bypassing.filter((name) => (scope.extensions as Record<string, unknown>)[name] !== undefined))
        yield* send({ type: "http.response.start", status: 204 })
        yield* send({ type: "http.response.body" })
      })
    ))
    const session = await connect(server.url)
    try {
      await collect(session.request({ ":path": "/" }))
      expect(await within(seen.promise, 5000, "the listing")).toEqual([...bypassing])
    } finally {
      await closeSession(session)
      await server.close()
    }
  })
})
