/**
 * HTTP-14 as a property: whatever the size of a body and however the client
 * cuts it into writes, examples/echo.ts hands back exactly the bytes sent —
 * over HTTP/2 (node:http2 client) and HTTP/1.1 (node:http client, chunked and
 * with a Content-Length).
 */
import fc from "fast-check"
import { once } from "node:events"
import * as http from "node:http"
import type * as http2 from "node:http2"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import echo from "../../examples/echo.ts"
import { within } from "../support/async.ts"
import { closeSession, connect, request } from "../support/h2client.ts"
import { listen, type TestServer } from "../support/server.ts"
import { pseudoRandomBytes } from "../support/bytes.ts"

const CONTENT_TYPE = "application/x-egi-property"
const MiB = 1024 * 1024
const NUM_RUNS = 30

/** A body: its size, the seed of its bytes, and where the client cuts it into writes. */
interface Upload {
  readonly size: number
  readonly seed: number
  readonly cuts: ReadonlyArray<number>
}

const upload: fc.Arbitrary<Upload> = fc
  .oneof(
    { weight: 2, arbitrary: fc.integer({ min: 0, max: 1024 }) },
    { weight: 3, arbitrary: fc.integer({ min: 0, max: 128 * 1024 }) },
    { weight: 2, arbitrary: fc.integer({ min: 0, max: 2 * MiB }) },
    { weight: 1, arbitrary: fc.constantFrom(0, 1, 16383, 16384, 16385, 65535, 65536, 65537, 2 * MiB) }
  )
  .chain((size) =>
    fc.record({
      size: fc.constant(size),
      seed: fc.integer(),
      // duplicate cut points make empty writes, which must change nothing
      cuts: fc.array(fc.integer({ min: 0, max: size }), { maxLength: 24 }).map((a) => [...a].sort((x, y) => x - y))
    })
  )

const chunksOf = (body: Buffer, cuts: ReadonlyArray<number>): Array<Buffer> => {
  const out: Array<Buffer> = []
  let at = 0
  for (const cut of [...cuts, body.length]) {
    out.push(body.subarray(at, cut))
    at = cut
  }
  return out
}

const describeUpload = (u: Upload, chunks: ReadonlyArray<Buffer>) =>
  `size ${u.size}, seed ${u.seed}, writes [${chunks.map((c) => c.length).join(", ")}]`

/** Index of the first differing byte, or -1. */
const firstDifference = (a: Buffer, b: Buffer): number => {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i
  return a.length === b.length ? -1 : n
}

let server: TestServer
let session: http2.ClientHttp2Session
let agent: http.Agent

beforeAll(async () => {
  server = await listen(echo, { accessLog: false })
  session = await connect(server.url)
  agent = new http.Agent({ keepAlive: true, maxSockets: 4 })
})

afterAll(async () => {
  agent?.destroy()
  if (session !== undefined) await closeSession(session)
  await server?.close()
})

/** POST over HTTP/1.1 with node:http, one `write` per chunk. */
const postH1 = (chunks: ReadonlyArray<Buffer>, framing: "chunked" | "content-length") =>
  new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
    const total = chunks.reduce((n, c) => n + c.length, 0)
    const headers: http.OutgoingHttpHeaders = { "content-type": CONTENT_TYPE }
    if (framing === "chunked") headers["transfer-encoding"] = "chunked"
    else headers["content-length"] = String(total)
    const req = http.request({ agent, host: "127.0.0.1", port: server.port, method: "POST", path: "/echo", headers }, (res) => {
      const parts: Array<Buffer> = []
      res.on("data", (c: Buffer) => parts.push(c))
      res.on("error", reject)
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) }))
    })
    req.on("error", reject)
    void (async () => {
      for (const chunk of chunks) if (!req.write(chunk)) await once(req, "drain")
      req.end()
    })().catch(reject)
  })

describe("examples/echo.ts echoes any body, however it is cut", () => {
  it("HTTP-14: over HTTP/2 (node:http2, one DATA write per chunk) the echoed bytes are the bytes sent", async () => {
    await fc.assert(
      fc.asyncProperty(upload, async (u) => {
        const body = pseudoRandomBytes(u.size, u.seed)
        const chunks = chunksOf(body, u.cuts)
        const r = await within(
          request(session, { ":method": "POST", ":path": "/echo", "content-type": CONTENT_TYPE }, chunks),
          10_000,
          describeUpload(u, chunks)
        )
        expect(r.status, describeUpload(u, chunks)).toBe(200)
        expect(r.rstCode).toBe(0)
        expect(r.headers["content-type"]).toBe(CONTENT_TYPE)
        expect({ length: r.body.length, firstDifference: firstDifference(r.body, body) }, describeUpload(u, chunks)).toEqual({
          length: body.length,
          firstDifference: -1
        })
      }),
      { numRuns: NUM_RUNS }
    )
  })

  for (const framing of ["chunked", "content-length"] as const) {
    it(`HTTP-14: over HTTP/1.1 (node:http, ${framing}) the echoed bytes are the bytes sent`, async () => {
      await fc.assert(
        fc.asyncProperty(upload, async (u) => {
          const body = pseudoRandomBytes(u.size, u.seed)
          const chunks = chunksOf(body, u.cuts)
          const r = await within(postH1(chunks, framing), 10_000, describeUpload(u, chunks))
          expect(r.status, describeUpload(u, chunks)).toBe(200)
          expect(r.headers["content-type"]).toBe(CONTENT_TYPE)
          expect({ length: r.body.length, firstDifference: firstDifference(r.body, body) }, describeUpload(u, chunks)).toEqual({
            length: body.length,
            firstDifference: -1
          })
        }),
        { numRuns: NUM_RUNS }
      )
    })
  }
})
