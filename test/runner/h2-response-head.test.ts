/**
 * The two forms of an HTTP/2 response head the runner hands node:http2's
 * `respond()` (src/runner/h2-exchange.ts): a header object, and the flat
 * list Node takes from 24.7 and 22.20 on. Whichever the running Node gets,
 * the client must receive the same head: each field's values in order,
 * connection-specific fields dropped (RUN-6), the same fields never indexed
 * (spec.md §7.8, HTTP-32), one `date` — the app's, else the runner's
 * (spec.md §8.2). Checked on the wire, against node:http2's client.
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
  /** The runner's `date`, if it gives one (the exchange always does); node adds its own to a head without one. */
  readonly date: string | undefined
}

/** What a client saw: each name's values in order (without `date`), the `date` values, and the never-indexed names. */
interface Seen {
  readonly status: number
  readonly fields: Record<string, Array<string>>
  readonly dates: Array<string>
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
    const { status, headers: fields, contentLength, neverIndex, date } = entry.head
    try {
      stream.respond(
        entry.form === "list" ? toNodeHeaderList(status, fields, contentLength, neverIndex, date) : toNodeHeaders(status, fields, contentLength, neverIndex, date),
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
      const dates: Array<string> = []
      for (let i = 0; i < raw.length; i += 2) {
        const name = raw[i]!
        if (name === "date") dates.push(raw[i + 1]!)
        else if (!name.startsWith(":")) (fields[name] ??= []).push(raw[i + 1]!)
      }
      const neverIndexed = [...new Set((headers as Record<symbol, Array<string> | undefined>)[http2.sensitiveHeaders] ?? [])].sort()
      resolve({ status: Number(headers[":status"]), fields, dates, neverIndexed })
      req.resume()
    })
  })
}

// Names that may repeat, one node refuses twice (authorization, a single-value field), connection-specific ones, never-indexed
// ones, and names an object with a prototype would take for its own (`constructor`, `__proto__`).
// And `date`: an app's own, which the runner's does not join.
const names = ["x-a", "x-b", "vary", "link", "set-cookie", "authorization", "cookie", "connection", "keep-alive", "te", "x-secret", "constructor", "__proto__", "date"]
const RUNNER_DATE = "Sun, 06 Nov 1994 08:49:37 GMT"
const head: fc.Arbitrary<Head> = fc.record({
  status: fc.constantFrom(200, 201, 204, 301, 404, 500, 503),
  headers: fc.array(fc.tuple(fc.constantFrom(...names), fc.stringMatching(/^[a-z0-9=;, ]{0,12}$/).map((v) => v.trim())), { maxLength: 12 }),
  // No body follows the head (endStream): a content-length other than 0 would be a malformed response.
  contentLength: fc.constantFrom(-1, 0),
  neverIndex: fc.option(fc.subarray(["x-secret", "x-a", "vary", "date"]), { nil: undefined }),
  date: fc.option(fc.constant(RUNNER_DATE), { nil: undefined })
})

describe("the response head's two forms (h2-exchange.ts)", () => {
  it("RUN-6 HTTP-32: a header object and a flat list give the client the same head", async () => {
    await fc.assert(
      fc.asyncProperty(head, async (h) => {
        // The list is every field, no hole (a list sized once and filled, or shortened to its fields).
        const list = toNodeHeaderList(h.status, h.headers, h.contentLength, h.neverIndex, h.date)
        expect(Array.from(list, (x) => typeof x)).toEqual(new Array<string>(list.length).fill("string"))
        const [asObject, asList] = await Promise.all([fetchHead(h, "object"), fetchHead(h, "list")])
        // node's own date (none given) is the clock's: the two may straddle a second.
        const ownDate = h.date === undefined && !h.headers.some(([n]) => n === "date")
        expect({ ...asList, dates: ownDate ? [] : asList.dates }).toEqual({ ...asObject, dates: ownDate ? [] : asObject.dates })
        // node refuses a head only for a single-value field the app gave twice: nothing the runner adds (its `date`) makes one.
        const twice = ["authorization", "date"].some((name) => h.headers.filter(([n]) => n === name).length > 1)
        expect(asList.fields["x-refused"] !== undefined).toBe(twice)
        if (twice) return
        // Never indexed: the names always so (spec.md §7.8) and those the app asked for, among the fields it sent.
        const dropped = ["connection", "keep-alive", "te"]
        const sent = new Set(h.headers.map(([n]) => n).filter((n) => !dropped.includes(n)))
        const asked = new Set(["authorization", "cookie", "proxy-authorization", "set-cookie", ...(h.neverIndex ?? [])])
        expect(asList.neverIndexed).toEqual([...sent].filter((n) => asked.has(n)).sort())
        // One date: the app's (all of its values), else the runner's, else node's.
        const appDates = h.headers.filter(([n]) => n === "date").map(([, v]) => v)
        if (appDates.length > 0) expect(asList.dates).toEqual(appDates)
        else if (h.date !== undefined) expect(asList.dates).toEqual([RUNNER_DATE])
        else expect(asList.dates).toHaveLength(1)
        // And what both say: no connection-specific field, every value of a name in the order the app gave it.
        for (const name of ["connection", "keep-alive", "te"]) expect(asList.fields[name]).toBeUndefined()
        const given = h.headers.filter(([n]) => !["connection", "keep-alive", "te", "date"].includes(n))
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
