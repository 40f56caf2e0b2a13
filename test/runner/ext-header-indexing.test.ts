/**
 * HPACK never-indexed request fields reach the app (spec.md §7.8, rule
 * HTTP-32): `http.response.header_indexing.requestNeverIndexed` lists the
 * request fields that arrived as literals never indexed (RFC 7541 §6.2.3),
 * and no other. Clients: node:http2 (`http2.sensitiveHeaders` on the
 * request) and a raw frame client that picks each field's representation.
 */
import { Effect } from "effect"
import * as http2 from "node:http2"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { App } from "../../src/protocol/app.ts"
import { within } from "../support/async.ts"
import { h2close, h2connect, h2request, rawHttp, statusOf, bodyOf, completeResponse } from "../support/clients.ts"
import { ended, Flag, frame, FrameType, rawH2 } from "../support/h2raw.ts"
import { listen, type TestServer } from "../support/server.ts"

/** The three literal representations of RFC 7541 §6.2, each with a new (literal) name, no Huffman. */
const Repr = { incremental: 0x40, withoutIndexing: 0x00, neverIndexed: 0x10 } as const

/** One literal field of at most 126-byte name and value in representation `repr`. */
const literal = (repr: number, name: string, value: string): Buffer =>
  Buffer.concat([Buffer.from([repr, name.length]), Buffer.from(name, "latin1"), Buffer.from([value.length]), Buffer.from(value, "latin1")])

describe("HTTP-32: request fields that arrived never indexed are flagged to the app", () => {
  let server: TestServer
  /** The app answers with the extension's requestNeverIndexed as JSON (or "absent"). */
  const app: App = (scope, _receive, send) =>
    Effect.gen(function*() {
      if (scope.type !== "http") return
      const ext = scope.extensions["http.response.header_indexing"]
      const body = ext === undefined ? "absent" : JSON.stringify(ext.requestNeverIndexed)
      yield* send({ type: "http.response.start", status: 200, headers: [["content-type", "application/json"]] })
      yield* send({ type: "http.response.body", body: new TextEncoder().encode(body) })
    })
  beforeAll(async () => {
    server = await listen(app)
  })
  afterAll(() => server.close())

  it("HTTP-32: node:http2 sends x-secret never indexed and x-plain normally: the app sees only x-secret", async () => {
    const session = await h2connect(server.url)
    try {
      const r = await h2request(session, {
        ":path": "/",
        "x-secret": "s3cr3t",
        "x-plain": "p",
        [http2.sensitiveHeaders]: ["x-secret"]
      })
      expect(r.status).toBe(200)
      expect(JSON.parse(r.body)).toEqual(["x-secret"])
      // The same fields again, none marked: nothing is flagged (x-plain now comes from the dynamic table).
      const again = await h2request(session, { ":path": "/", "x-secret": "s3cr3t", "x-plain": "p" })
      expect(JSON.parse(again.body)).toEqual([])
    } finally {
      await h2close(session)
    }
  })

  it("HTTP-32: of the three literal representations only never-indexed is flagged; a name sent twice is listed once, in order of arrival", async () => {
    const block = Buffer.concat([
      literal(Repr.withoutIndexing, ":method", "GET"),
      literal(Repr.withoutIndexing, ":scheme", "http"),
      literal(Repr.withoutIndexing, ":authority", `127.0.0.1:${server.port}`),
      literal(Repr.withoutIndexing, ":path", "/raw"),
      literal(Repr.neverIndexed, "x-token", "a"),
      literal(Repr.incremental, "x-incremental", "b"),
      literal(Repr.withoutIndexing, "x-without", "c"),
      literal(Repr.neverIndexed, "x-api-key", "d"),
      literal(Repr.neverIndexed, "x-token", "e")
    ])
    const c = await rawH2(server.port, [frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, 1, block)])
    try {
      expect(await c.until((fs) => ended(fs, 1), 3000)).toBe(true)
      const body = Buffer.concat(c.frames.filter((f) => f.type === FrameType.DATA && f.stream === 1).map((f) => f.payload)).toString()
      expect(JSON.parse(body)).toEqual(["x-token", "x-api-key"])
    } finally {
      c.destroy()
    }
  })

  it("HTTP-32: HTTP/1.1 has no HPACK: the extension is absent", async () => {
    const r = await within(
      rawHttp(server.port, ["GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"], { done: completeResponse }),
      3000,
      "HTTP/1.1 response"
    )
    expect(statusOf(r.text)).toBe(200)
    expect(bodyOf(r.text)).toBe("absent")
  })
})
