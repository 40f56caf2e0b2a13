/**
 * The hand-off and the upgrade escape (spec.md §10.6) over HTTP/2.
 */
import { Effect } from "effect"
import fc from "fast-check"
import { createHash } from "node:crypto"
import type * as http2 from "node:http2"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import handoff, { HEAD_BYTES } from "../../examples/handoff.ts"
import type { App } from "../../src/protocol/app.ts"
import { fromClassic } from "../../src/shim/shim.ts"
import { UPGRADE_HEADER } from "../../src/shim/upgrade.ts"
import { closeSession, connect, request } from "../support/h2client.ts"
import { listen, type TestServer } from "../support/server.ts"
import { pseudoRandomBytes } from "../support/bytes.ts"

const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])

describe("hand-off (examples/handoff.ts)", () => {
  let server: TestServer
  let session: http2.ClientHttp2Session
  beforeAll(async () => {
    server = await listen(handoff as App)
    session = await connect(server.url)
  })
  afterAll(async () => {
    await closeSession(session)
    await server.close()
  })

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
          const r = await request(session, { ":method": "POST", ":path": "/" }, chunks)
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
    const r = await request(session, { ":method": "POST", ":path": "/" }, [Buffer.alloc(100_000, 1)])
    expect(r.status).toBe(415)
  })
})

describe("upgrade escape", () => {
  const FIXTURE = new URL("./fixtures/classic-app.ts", import.meta.url).href
  const quiet = { error: () => {}, info: () => {} }
  const hosts = {
    "/pass": fromClassic({ module: FIXTURE, export: "viaPassThrough" }, { workers: 1, logger: quiet }),
    "/alter": fromClassic({ module: FIXTURE, export: "viaAddsHeader" }, { workers: 1, logger: quiet }),
    "/replace": fromClassic({ module: FIXTURE, export: "viaReplacesBody" }, { workers: 1, logger: quiet })
  }
  // /<which>/escape?skip=n → the host for <which>, with PATH_INFO /escape.
  const router: App = (scope, receive, send) => {
    if (scope.type !== "http") return Effect.void
    const prefix = scope.path.slice(0, scope.path.indexOf("/", 1)) as keyof typeof hosts
    return hosts[prefix]({ ...scope, rootPath: prefix }, receive, send)
  }
  let server: TestServer
  let session: http2.ClientHttp2Session
  beforeAll(async () => {
    server = await listen(router)
    session = await connect(server.url)
  })
  afterAll(async () => {
    await closeSession(session)
    await server.close()
    await Promise.all(Object.values(hosts).map((h) => h.pool.close()))
  })

  it("CLASSIC-11: through a pass-through middleware the async app runs, with the body the classic app did not read", async () => {
    const body = pseudoRandomBytes(300_000, 42)
    const r = await request(session, { ":method": "POST", ":path": "/pass/escape?skip=10" }, [
      body.subarray(0, 5),
      body.subarray(5, 70_000),
      body.subarray(70_000)
    ])
    expect(r.status).toBe(200)
    expect(r.headers["x-escaped"]).toBe("1")
    expect(r.headers[UPGRADE_HEADER]).toBeUndefined()
    expect(r.body.equals(body.subarray(10))).toBe(true)
  })

  it("CLASSIC-11: a middleware that adds a header alters the response: it goes out as is (501), the async app never runs", async () => {
    const r = await request(session, { ":method": "POST", ":path": "/alter/escape" }, [Buffer.from("abc")])
    expect(r.status).toBe(501)
    expect(r.headers["x-added"]).toBe("1")
    expect(r.headers["x-escaped"]).toBeUndefined()
    expect(r.headers[UPGRADE_HEADER]).toMatch(/^[0-9a-f-]{36}$/)
    expect(r.body.toString()).toContain("a middleware altered the upgrade response")
  })

  it("CLASSIC-11: a middleware that replaces the body: the middleware's response is sent, the async app never runs", async () => {
    const r = await request(session, { ":method": "GET", ":path": "/replace/escape" })
    expect(r.status).toBe(501)
    expect(r.headers["x-escaped"]).toBeUndefined()
  })
})

