/**
 * The two forms of an HTTP/2 response head the runner hands node:http2's
 * `respond()` (src/runner/h2-exchange.ts): a header object, and the flat
 * list Node takes from 24.7 and 22.20 on. Whichever the running Node gets,
 * the client must receive the same head: each field's values in order,
 * connection-specific fields dropped (RUN-6), the same fields never indexed
 * (spec.md §7.8, HTTP-32). Checked on the wire, against node:http2's client.
 */
import fc from "fast-check"
import * as http2 from "node:http2"
import type { AddressInfo } from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { Headers } from "../../src/protocol/headers.ts"
import { respondTakesList, toNodeHeaderList, toNodeHeaders } from "../../src/runner/h2-exchange.ts"

interface Head {
  readonly status: number
  readonly headers: Headers
  readonly contentLength: number
  readonly neverIndex: ReadonlyArray<string> | undefined
}

/** What a client saw: each name's values in order (without `date`, which the server adds), and the never-indexed names. */
interface Seen {
  readonly status: number
  readonly fields: Record<string, Array<string>>
  readonly neverIndexed: Array<string>
}

let server: http2.Http2Server
let client: http2.ClientHttp2Session
/** The head each request path answers with, by form. */
const heads = new Map<string, { head: Head; form: "object" | "list" }>()

beforeAll(async () => {
  server = http2.createServer()
  server.on("stream", (stream, headers) => {
    const entry = heads.get(String(headers[":path"]))!
    const { status, headers: fields, contentLength, neverIndex } = entry.head
    try {
      stream.respond(
        entry.form === "list" ? toNodeHeaderList(status, fields, contentLength, neverIndex) : toNodeHeaders(status, fields, contentLength, neverIndex),
        { endStream: true }
      )
    } catch (err) {
      // node refuses a head (a single-value field given twice): the client is told which refusal.
      stream.respond({ ":status": 500, "x-refused": (err as { code?: string }).code ?? "?" }, { endStream: true })
    }
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  client = http2.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)
})

afterAll(async () => {
  client.close()
  await new Promise((resolve) => server.close(resolve))
})

let paths = 0
const fetchHead = (head: Head, form: "object" | "list"): Promise<Seen> => {
  const path = `/${++paths}`
  heads.set(path, { head, form })
  return new Promise((resolve, reject) => {
    const req = client.request({ ":path": path }, { endStream: true })
    req.on("error", reject)
    req.on("response", (headers, _flags, raw: Array<string>) => {
      const fields = Object.create(null) as Record<string, Array<string>>
      for (let i = 0; i < raw.length; i += 2) {
        const name = raw[i]!
        if (name.startsWith(":") || name === "date") continue
        ;(fields[name] ??= []).push(raw[i + 1]!)
      }
      const neverIndexed = [...new Set((headers as Record<symbol, Array<string> | undefined>)[http2.sensitiveHeaders] ?? [])].sort()
      resolve({ status: Number(headers[":status"]), fields, neverIndexed })
      req.resume()
    })
  })
}

// Names that may repeat, one node refuses twice (authorization, a single-value field), connection-specific ones, never-indexed
// ones, and names an object with a prototype would take for its own (`constructor`, `__proto__`).
const names = ["x-a", "x-b", "vary", "link", "set-cookie", "authorization", "cookie", "connection", "keep-alive", "te", "x-secret", "constructor", "__proto__"]
const head: fc.Arbitrary<Head> = fc.record({
  status: fc.constantFrom(200, 201, 204, 301, 404, 500, 503),
  headers: fc.array(fc.tuple(fc.constantFrom(...names), fc.stringMatching(/^[a-z0-9=;, ]{0,12}$/).map((v) => v.trim())), { maxLength: 12 }),
  // No body follows the head (endStream): a content-length other than 0 would be a malformed response.
  contentLength: fc.constantFrom(-1, 0),
  neverIndex: fc.option(fc.subarray(["x-secret", "x-a", "vary"]), { nil: undefined })
})

describe("the response head's two forms (h2-exchange.ts)", () => {
  it("RUN-6 HTTP-32: a header object and a flat list give the client the same head", async () => {
    await fc.assert(
      fc.asyncProperty(head, async (h) => {
        const [asObject, asList] = await Promise.all([fetchHead(h, "object"), fetchHead(h, "list")])
        expect(asList).toEqual(asObject)
        if (asList.fields["x-refused"] !== undefined) return
        // And what both say: no connection-specific field, every value of a name in the order the app gave it.
        for (const name of ["connection", "keep-alive", "te"]) expect(asList.fields[name]).toBeUndefined()
        const given = h.headers.filter(([n]) => !["connection", "keep-alive", "te"].includes(n))
        for (const [name] of given) expect(asList.fields[name]).toEqual(given.filter(([n]) => n === name).map(([, v]) => v))
      }),
      { numRuns: 150 }
    )
  })

  it("the running Node takes the flat list (24.7+, 22.20+): the runner sends it", () => {
    const [major, minor] = process.versions.node.split(".").map(Number) as [number, number]
    expect(respondTakesList).toBe(major > 24 || (major === 24 && minor >= 7) || (major === 22 && minor >= 20))
  })
})
