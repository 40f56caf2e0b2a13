/**
 * The response writer of the runner's own HTTP/1.1 codec
 * (src/runner/http1/response-writer.ts): what it frames, when the
 * connection persists, the overruns it refuses, and — with fast-check —
 * that node's own HTTP/1.1 client reads back what went in.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { FramingError, ResponseWriter, type WireParts } from "../../src/runner/http1/response-writer.ts"
import { useCannedResponse } from "../support/canned-response.ts"

const DATE = "Tue, 01 Dec 2026 06:00:00 GMT"

const text = (parts: WireParts | FramingError): string => {
  if (parts instanceof FramingError) throw parts
  return parts.map((p) => (typeof p === "string" ? p : Buffer.from(p).toString("latin1"))).join("")
}

describe("a response", () => {
  it("with a length: the bytes as they are, and the connection persists", () => {
    const w = new ResponseWriter("GET", "1.1", true, 5)
    expect(text(w.head(200, [["content-type", "text/plain"]], 5, DATE))).toContain("content-length: 5\r\nconnection: keep-alive\r\nkeep-alive: timeout=5\r\n\r\n")
    expect(text(w.data(new Uint8Array([104, 105])))).toBe("hi")
    expect(text(w.data(new Uint8Array([33, 33, 33])))).toBe("!!!")
    expect(text(w.end([]))).toBe("")
    expect([w.done, w.persists]).toEqual([true, true])
  })

  it("without a length: chunked over HTTP/1.1 with trailers, close-delimited over HTTP/1.0", () => {
    const w = new ResponseWriter("GET", "1.1", true, 0)
    expect(text(w.head(200, [], -1, DATE))).toContain("transfer-encoding: chunked\r\nconnection: keep-alive\r\n\r\n")
    expect(text(w.data(new Uint8Array(26)))).toBe(`1a\r\n${"\0".repeat(26)}\r\n`)
    expect(text(w.end([["x-sum", "1"]]))).toBe("0\r\nx-sum: 1\r\n\r\n")
    expect(w.persists).toBe(true)
    const old = new ResponseWriter("GET", "1.0", true, 5)
    expect(text(old.head(200, [], -1, DATE))).toContain("connection: close\r\n\r\n")
    expect(text(old.data(new Uint8Array([1])))).toBe("\x01")
    expect(old.persists).toBe(false)
  })

  it("to HEAD, or 204/304: no body bytes, whatever the app sends", () => {
    const w = new ResponseWriter("HEAD", "1.1", true, 5)
    expect(text(w.head(200, [], 5, DATE))).toContain("content-length: 5\r\n")
    expect(text(w.data(new Uint8Array(5)))).toBe("")
    expect(text(w.end([]))).toBe("")
    const empty = new ResponseWriter("GET", "1.1", true, 5)
    expect(text(empty.head(204, [], -1, DATE))).not.toMatch(/content-length|transfer-encoding/)
    expect(text(empty.data(new Uint8Array(3)))).toBe("")
  })

  it("closes after it when the app says connection: close, or when told before the head", () => {
    const w = new ResponseWriter("GET", "1.1", true, 5)
    expect(text(w.head(200, [["connection", "close"]], 0, DATE))).toContain("connection: close\r\n")
    expect(w.persists).toBe(false)
    const drained = new ResponseWriter("GET", "1.1", true, 5)
    drained.closeAfter()
    expect(text(drained.head(200, [], 0, DATE))).toContain("connection: close\r\n")
    const late = new ResponseWriter("GET", "1.1", true, 5)
    late.head(200, [], 0, DATE)
    late.closeAfter()
    expect(late.persists).toBe(true)
  })

  it("writes 103 before the head over HTTP/1.1 only", () => {
    expect(text(new ResponseWriter("GET", "1.1", true, 5).interim(103, [["link", "</a>; rel=preload"]]))).toBe("HTTP/1.1 103 Early Hints\r\nlink: </a>; rel=preload\r\n\r\n")
    expect(text(new ResponseWriter("GET", "1.0", true, 5).interim(103, [["link", "</a>"]]))).toBe("")
  })

  it("refuses to overrun or fall short of its content-length, and calls out of order", () => {
    const w = new ResponseWriter("GET", "1.1", true, 5)
    expect(w.data(new Uint8Array(1))).toBeInstanceOf(FramingError)
    w.head(200, [], 3, DATE)
    expect(w.interim(103, [])).toBeInstanceOf(FramingError)
    expect(w.head(200, [], 3, DATE)).toBeInstanceOf(FramingError)
    expect(w.data(new Uint8Array(4))).toBeInstanceOf(FramingError)
    text(w.data(new Uint8Array(2)))
    expect(w.end([])).toBeInstanceOf(FramingError)
    text(w.data(new Uint8Array(1)))
    text(w.end([]))
    expect(w.end([])).toBeInstanceOf(FramingError)
    expect(w.data(new Uint8Array(1))).toBeInstanceOf(FramingError)
  })
})

describe("what node's HTTP/1.1 client reads back", () => {
  const { read } = useCannedResponse()

  const name = fc.stringMatching(/^x-[a-z0-9-]{1,10}$/)
  const value = fc.stringMatching(/^[\x21-\x7e]([\x20-\x7e]{0,20}[\x21-\x7e])?$/)

  it("status, fields, body however the app sends it (length known or not) and trailers (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(200, 201, 404, 500),
        fc.uniqueArray(fc.tuple(name, value), { maxLength: 4, selector: ([n]) => n }),
        fc.array(fc.uint8Array({ maxLength: 700 }), { maxLength: 5 }),
        fc.boolean(),
        fc.uniqueArray(fc.tuple(name, value), { maxLength: 2, selector: ([n]) => n }),
        fc.constantFrom<"1.0" | "1.1">("1.0", "1.1"),
        async (status, fields, chunks, known, trailers, version) => {
          const body = Buffer.concat(chunks)
          const w = new ResponseWriter("GET", version, true, 5)
          const parts: WireParts = []
          const add = (p: WireParts | FramingError): void => {
            if (p instanceof FramingError) throw p
            parts.push(...p)
          }
          add(w.head(status, fields, known ? body.length : -1, DATE))
          for (const c of chunks) add(w.data(c))
          add(w.end(trailers))
          const r = await read(Buffer.concat(parts.map((p) => (typeof p === "string" ? Buffer.from(p, "latin1") : p))))
          expect(r.status).toBe(status)
          for (const [n, v] of fields) expect(r.headers[n]).toBe(v)
          expect(r.body.equals(body)).toBe(true)
          if (!known && version === "1.1") for (const [n, v] of trailers) expect(r.trailers[n]).toBe(v)
          expect(w.persists).toBe(version === "1.1" || known)
        }
      ),
      { numRuns: 40 }
    )
  })
})
