/**
 * The hand-off and the upgrade escape (spec.md §10.6) over HTTP/2.
 */
import { Effect } from "effect"
import fc from "fast-check"
import { createHash } from "node:crypto"
import type * as http2 from "node:http2"
import { afterAll, describe, expect, it } from "vitest"
import handoff, { HEAD_BYTES } from "../../examples/handoff.ts"
import type { App } from "../../src/protocol/app.ts"
import { handOff } from "../../src/shim/handoff.ts"
import { fromClassic } from "../../src/shim/shim.ts"
import { UPGRADE_HEADER } from "../../src/shim/upgrade.ts"
import { bodyOf, rawHttp, statusOf } from "../support/clients.ts"
import { request } from "../support/h2client.ts"
import { useServer, useSession } from "../support/server.ts"
import { pseudoRandomBytes } from "../support/bytes.ts"

const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])

describe("hand-off (examples/handoff.ts)", () => {
  const server = useServer(handoff as App)
  const session = useSession(server)

  it("CLASSIC-10: the classic hasher's input starts at byte 65536, for any size and chunking around it", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 200_000 }),
        fc.integer(),
        fc.array(fc.integer({ min: 1, max: 70_000 }), { maxLength: 6 }),
        async (extra, seed, cuts) => {
          const body = Buffer.concat([PNG, pseudoRandomBytes(Math.max(0, HEAD_BYTES - PNG.length - 3000) + extra, seed)])
          const chunks: Array<Buffer> = []
          let from = 0
          for (const c of cuts) {
            if (from >= body.length) break
            chunks.push(body.subarray(from, Math.min(body.length, from + c)))
            from += c
          }
          if (from < body.length) chunks.push(body.subarray(from))
          const r = await request(session(), { ":method": "POST", ":path": "/" }, chunks)
          expect(r.status).toBe(200)
          const rest = body.subarray(Math.min(HEAD_BYTES, body.length))
          expect(JSON.parse(r.body.toString())).toEqual({
            bytes: rest.length,
            sha256: createHash("sha256").update(rest).digest("hex")
          })
        }
      ),
      { numRuns: 25 }
    )
  })

  it("CLASSIC-10: a body without the PNG signature gets 415 from the async half", async () => {
    const r = await request(session(), { ":method": "POST", ":path": "/" }, [Buffer.alloc(100_000, 1)])
    expect(r.status).toBe(415)
  })
})

describe("CONTENT_LENGTH after a hand-off", () => {
  const FIXTURE = new URL("./fixtures/classic-app.ts", import.meta.url).href
  const classic = fromClassic({ module: FIXTURE, export: "app" }, { workers: 1, logger: { error: () => {}, info: () => {} } })
  /**
   * POST /length?k=n: reads events until n bytes are in (or the body ends),
   * uses the first n and hands the rest to the classic /length route, telling
   * it how many it consumed (`tell=0`: not told; `lie=m`: says m; `none`: no
   * `unread` at all, nothing read).
   */
  const splitter: App = (scope, receive, send) =>
    Effect.gen(function*() {
      if (scope.type !== "http") return
      const q = new URLSearchParams(scope.queryString)
      if (q.has("none")) return yield* handOff(classic, scope, receive, send)
      const k = Number(q.get("k") ?? 0)
      const parts: Array<Uint8Array> = []
      let have = 0
      let moreBody = true
      while (have < k && moreBody) {
        const event = yield* receive
        if (event.type !== "http.request") return
        parts.push(event.body)
        have += event.body.length
        moreBody = event.moreBody
      }
      const head = Buffer.concat(parts)
      const used = Math.min(k, head.length)
      const body = head.subarray(used)
      const consumed = q.has("lie") ? Number(q.get("lie")) : used
      return yield* handOff(classic, scope, receive, send, q.get("tell") === "0" ? { body, moreBody } : { body, moreBody, consumed })
    })
  afterAll(() => classic.pool.close())
  const server = useServer(splitter)
  const session = useSession(server)
  const post = async (path: string, body: Buffer, headers: http2.OutgoingHttpHeaders = {}) => {
    const r = await request(session(), { ":method": "POST", ":path": path, ...headers }, [body])
    return { status: r.status, json: r.status === 200 ? JSON.parse(r.body.toString()) : undefined }
  }

  it("CLASSIC-13: a declared length of 22, 3 bytes consumed by the async app: CONTENT_LENGTH is 19, input yields 19", async () => {
    const r = await post("/length?k=3", Buffer.from("0123456789abcdefghijkl"), { "content-length": "22" })
    expect(r).toEqual({ status: 200, json: { contentLength: "19", bytes: 19 } })
  })

  it("CLASSIC-13: CONTENT_LENGTH is what input yields, for any size, chunking and split point (HTTP/2 with content-length)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 150_000 }),
        fc.integer({ min: 0, max: 160_000 }),
        fc.array(fc.integer({ min: 1, max: 70_000 }), { maxLength: 5 }),
        async (size, k, cuts) => {
          const body = pseudoRandomBytes(size, size)
          const chunks: Array<Buffer> = []
          let from = 0
          for (const c of cuts) {
            if (from >= size) break
            chunks.push(body.subarray(from, Math.min(size, from + c)))
            from += c
          }
          if (from < size || chunks.length === 0) chunks.push(body.subarray(from))
          const r = await request(session(), { ":method": "POST", ":path": `/length?k=${k}`, "content-length": String(size) }, chunks)
          const left = Math.max(0, size - k)
          expect(r.status).toBe(200)
          expect(JSON.parse(r.body.toString())).toEqual({ contentLength: String(left), bytes: left })
        }
      ),
      { numRuns: 20 }
    )
  })

  it("CLASSIC-13: no declared length (HTTP/2 without content-length): CONTENT_LENGTH stays absent", async () => {
    const r = await post("/length?k=3", Buffer.from("0123456789abcdefghijkl"))
    expect(r).toEqual({ status: 200, json: { contentLength: null, bytes: 19 } })
  })

  it("CLASSIC-13: over HTTP/1.1, content-length gives the remainder and chunked leaves it absent", async () => {
    const fixed = await rawHttp(server().port, [
      "POST /length?k=3 HTTP/1.1\r\nhost: x\r\ncontent-length: 22\r\nconnection: close\r\n\r\n0123456789abcdefghijkl"
    ])
    expect(statusOf(fixed.text)).toBe(200)
    expect(JSON.parse(bodyOf(fixed.text))).toEqual({ contentLength: "19", bytes: 19 })
    const chunked = await rawHttp(server().port, [
      "POST /length?k=3 HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n16\r\n0123456789abcdefghijkl\r\n0\r\n\r\n"
    ])
    expect(statusOf(chunked.text)).toBe(200)
    expect(JSON.parse(bodyOf(chunked.text))).toEqual({ contentLength: null, bytes: 19 })
  })

  it("CLASSIC-13: a hand-off before any receive keeps the declared length; one not told what was consumed drops it", async () => {
    const body = Buffer.from("0123456789abcdefghijkl")
    expect(await post("/length?none", body, { "content-length": "22" })).toEqual({ status: 200, json: { contentLength: "22", bytes: 22 } })
    expect(await post("/length?k=3&tell=0", body, { "content-length": "22" })).toEqual({ status: 200, json: { contentLength: null, bytes: 19 } })
  })

  it("CLASSIC-13: consumed past the declared length fails the hand-off (HandOffError, 500) before the classic app runs", async () => {
    const r = await post("/length?k=3&lie=23", Buffer.from("0123456789abcdefghijkl"), { "content-length": "22" })
    expect(r.status).toBe(500)
    expect(server().lines.error.some((l) => l.includes("HandOffError"))).toBe(true)
  })
})

describe("upgrade escape", () => {
  const FIXTURE = new URL("./fixtures/classic-app.ts", import.meta.url).href
  const quiet = { error: () => {}, info: () => {} }
  const logged: Array<string> = []
  const logger = { error: (line: string) => void logged.push(line), info: () => {} }
  const hosts = {
    "/pass": fromClassic({ module: FIXTURE, export: "viaPassThrough" }, { workers: 1, logger: quiet }),
    "/alter": fromClassic({ module: FIXTURE, export: "viaAddsHeader" }, { workers: 1, logger }),
    "/replace": fromClassic({ module: FIXTURE, export: "viaReplacesBody" }, { workers: 1, logger }),
    "/copy": fromClassic({ module: FIXTURE, export: "viaCopiesBody" }, { workers: 1, logger }),
    "/reyield": fromClassic({ module: FIXTURE, export: "viaReYields" }, { workers: 1, logger }),
    "/cache": fromClassic({ module: FIXTURE, export: "viaCaches" }, { workers: 1, logger })
  }
  // /<which>/escape?skip=n → the host for <which>, with PATH_INFO /escape.
  const router: App = (scope, receive, send) => {
    if (scope.type !== "http") return Effect.void
    const prefix = scope.path.slice(0, scope.path.indexOf("/", 1)) as keyof typeof hosts
    return hosts[prefix]({ ...scope, rootPath: prefix }, receive, send)
  }
  afterAll(async () => {
    await Promise.all(Object.values(hosts).map((h) => h.pool.close()))
  })
  const server = useServer(router)
  const session = useSession(server)

  it("CLASSIC-11: through a pass-through middleware the async app runs, with the body the classic app did not read", async () => {
    const body = pseudoRandomBytes(300_000, 42)
    const r = await request(session(), { ":method": "POST", ":path": "/pass/escape?skip=10" }, [
      body.subarray(0, 5),
      body.subarray(5, 70_000),
      body.subarray(70_000)
    ])
    expect(r.status).toBe(200)
    expect(r.headers["x-escaped"]).toBe("1")
    expect(r.headers[UPGRADE_HEADER]).toBeUndefined()
    expect(r.body.equals(body.subarray(10))).toBe(true)
  })

  it("CLASSIC-11: a middleware that copies the body unchanged ([...app(environ, startResponse)]) leaves it unaltered: the async app runs", async () => {
    const body = pseudoRandomBytes(100_000, 7)
    const r = await request(session(), { ":method": "POST", ":path": "/copy/escape?skip=3" }, [body])
    expect(r.status).toBe(200)
    expect(r.headers["x-escaped"]).toBe("1")
    expect(r.headers[UPGRADE_HEADER]).toBeUndefined()
    expect(r.body.equals(body.subarray(3))).toBe(true)
  })

  it("CLASSIC-11: a middleware that re-yields the body's chunks from a generator of its own leaves it unaltered: the async app runs", async () => {
    const r = await request(session(), { ":method": "POST", ":path": "/reyield/escape" }, [Buffer.from("abc")])
    expect(r.status).toBe(200)
    expect(r.headers["x-escaped"]).toBe("1")
    expect(r.body.toString()).toBe("abc")
  })

  it("CLASSIC-11, CLASSIC-14: a middleware that adds a header alters the response: it goes out as a 501 without the egi-upgrade field, one line logged", async () => {
    logged.length = 0
    const r = await request(session(), { ":method": "POST", ":path": "/alter/escape" }, [Buffer.from("abc")])
    expect(r.status).toBe(501)
    expect(r.headers["x-added"]).toBe("1")
    expect(r.headers["x-escaped"]).toBeUndefined()
    expect(r.headers[UPGRADE_HEADER]).toBeUndefined()
    expect(r.rawHeaders.some((h) => h.toLowerCase() === UPGRADE_HEADER)).toBe(false)
    expect(r.body.toString()).toContain("a middleware altered the upgrade response")
    expect(logged).toHaveLength(1)
    expect(logged[0]).toMatch(/egi\.upgrade.*POST \/alter\/escape.*header list/)
  })

  it("CLASSIC-11, CLASSIC-14: a middleware that replaces the body: its response is sent without the egi-upgrade field, the async app never runs", async () => {
    logged.length = 0
    const r = await request(session(), { ":method": "GET", ":path": "/replace/escape" })
    expect(r.status).toBe(501)
    expect(r.headers["x-escaped"]).toBeUndefined()
    expect(r.headers[UPGRADE_HEADER]).toBeUndefined()
    expect(r.body.toString()).toMatch(/^<p>This resource needs the EGI async API/)
    expect(logged).toHaveLength(1)
    expect(logged[0]).toMatch(/egi\.upgrade.*GET \/replace\/escape.*body/)
  })

  it("CLASSIC-14: a tagged response replayed by a caching middleware to a later request goes out without its egi-upgrade field", async () => {
    logged.length = 0
    const first = await request(session(), { ":method": "POST", ":path": "/cache/escape" }, [Buffer.from("first")])
    expect(first.status).toBe(200)
    expect(first.body.toString()).toBe("first")
    const replay = await request(session(), { ":method": "POST", ":path": "/cache/escape" }, [Buffer.from("second")])
    expect(replay.status).toBe(501)
    expect(replay.headers["x-escaped"]).toBeUndefined()
    expect(replay.headers[UPGRADE_HEADER]).toBeUndefined()
    expect(logged).toHaveLength(1)
    expect(logged[0]).toMatch(/egi\.upgrade.*POST \/cache\/escape.*not made by this request/)
  })
})

