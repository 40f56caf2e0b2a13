/**
 * HTTP-14 as a property: whatever the size of a body and however the client
 * cuts it into writes (egi/testing's `chunked`), examples/echo.ts hands back
 * exactly the bytes sent — over HTTP/2 (node:http2 client) and HTTP/1.1
 * (node:http client, chunked and with a Content-Length).
 */
import fc from "fast-check"
import { once } from "node:events"
import * as http from "node:http"
import { afterAll, describe, expect, it } from "vitest"
import echo from "../../examples/echo.ts"
import { chunked } from "../../src/testing/arbitraries.ts"
import { within } from "../support/async.ts"
import { pseudoRandomBytes } from "../support/bytes.ts"
import { request } from "../support/h2client.ts"
import { useServer, useSession } from "../support/server.ts"

const CONTENT_TYPE = "application/x-egi-property"
const MiB = 1024 * 1024
const NUM_RUNS = 30

/** A body: its size, the seed of its bytes, and the writes the client cuts it into (`chunked`). */
interface Upload {
  readonly size: number
  readonly seed: number
  readonly body: Buffer
  readonly chunks: ReadonlyArray<Uint8Array>
}

const upload: fc.Arbitrary<Upload> = fc
  .oneof(
    { weight: 2, arbitrary: fc.integer({ min: 0, max: 1024 }) },
    { weight: 3, arbitrary: fc.integer({ min: 0, max: 128 * 1024 }) },
    { weight: 2, arbitrary: fc.integer({ min: 0, max: 2 * MiB }) },
    { weight: 1, arbitrary: fc.constantFrom(0, 1, 16383, 16384, 16385, 65535, 65536, 65537, 2 * MiB) }
  )
  .chain((size) =>
    fc.integer().chain((seed) => {
      const body = pseudoRandomBytes(size, seed)
      // empty chunks (repeated cut points) are empty writes, which must change nothing
      return chunked(body).map((chunks): Upload => ({ size, seed, body, chunks }))
    })
  )

const describeUpload = (u: Upload) => `size ${u.size}, seed ${u.seed}, writes [${u.chunks.map((c) => c.length).join(", ")}]`

/** Index of the first differing byte, or -1. */
const firstDifference = (a: Buffer, b: Buffer): number => {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i
  return a.length === b.length ? -1 : n
}

const server = useServer(echo, { accessLog: false })
const session = useSession(server)
const agent = new http.Agent({ keepAlive: true, maxSockets: 4 })
afterAll(() => agent.destroy())

/** POST over HTTP/1.1 with node:http, one `write` per chunk. */
const postH1 = (chunks: ReadonlyArray<Uint8Array>, framing: "chunked" | "content-length") =>
  new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
    const total = chunks.reduce((n, c) => n + c.length, 0)
    const headers: http.OutgoingHttpHeaders = { "content-type": CONTENT_TYPE }
    if (framing === "chunked") headers["transfer-encoding"] = "chunked"
    else headers["content-length"] = String(total)
    const req = http.request({ agent, host: "127.0.0.1", port: server().port, method: "POST", path: "/echo", headers }, (res) => {
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
        const r = await within(
          request(session(), { ":method": "POST", ":path": "/echo", "content-type": CONTENT_TYPE }, u.chunks),
          10_000,
          describeUpload(u)
        )
        expect(r.status, describeUpload(u)).toBe(200)
        expect(r.rstCode).toBe(0)
        expect(r.headers["content-type"]).toBe(CONTENT_TYPE)
        expect({ length: r.body.length, firstDifference: firstDifference(r.body, u.body) }, describeUpload(u)).toEqual({
          length: u.body.length,
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
          const r = await within(postH1(u.chunks, framing), 10_000, describeUpload(u))
          expect(r.status, describeUpload(u)).toBe(200)
          expect(r.headers["content-type"]).toBe(CONTENT_TYPE)
          expect({ length: r.body.length, firstDifference: firstDifference(r.body, u.body) }, describeUpload(u)).toEqual({
            length: u.body.length,
            firstDifference: -1
          })
        }),
        { numRuns: NUM_RUNS }
      )
    })
  }
})
