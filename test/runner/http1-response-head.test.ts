/**
 * The response side of the runner's own HTTP/1.1 codec
 * (src/runner/http1/response-head.ts): framing decisions, the head, and —
 * with fast-check — that node's own HTTP/1.1 client (llhttp) reads what it
 * writes back as the status, fields, body and trailers that went in.
 */
import fc from "fast-check"
import { describe, expect, it, vi } from "vitest"
import type { Headers } from "../../src/protocol/headers.ts"
import { HttpDate } from "../../src/runner/http-date.ts"
import { asksToClose, chunkHeader, CRLF, lastChunk, responseFraming, responseHead } from "../../src/runner/http1/response-head.ts"
import { useCannedResponse } from "../support/canned-response.ts"

const DATE = "Tue, 01 Dec 2026 06:00:00 GMT"

describe("response framing", () => {
  it("follows RFC 9112 §6.3 and RFC 9110 §8.6", () => {
    expect(responseFraming(200, "GET", "1.1", 5)).toEqual({ kind: "length", length: 5 })
    expect(responseFraming(200, "GET", "1.1", -1)).toEqual({ kind: "chunked" })
    expect(responseFraming(200, "GET", "1.0", -1)).toEqual({ kind: "close" })
    expect(responseFraming(200, "HEAD", "1.1", 5)).toEqual({ kind: "none", length: 5 })
    expect(responseFraming(200, "HEAD", "1.1", -1)).toEqual({ kind: "none", length: -1 })
    expect(responseFraming(304, "GET", "1.1", 5)).toEqual({ kind: "none", length: 5 })
    expect(responseFraming(204, "GET", "1.1", 5)).toEqual({ kind: "none", length: -1 })
    expect(responseFraming(103, "GET", "1.1", -1)).toEqual({ kind: "none", length: -1 })
  })

  it("sees an app's connection: close", () => {
    expect(asksToClose([["connection", "Upgrade, close"]])).toBe(true)
    expect(asksToClose([["x", "close"], ["connection", "closed"]])).toBe(false)
  })
})

describe("the response head", () => {
  it("has the status line, the app's fields but the runner's own, a date, the framing and the connection's fate", () => {
    const headers: Headers = [["content-type", "text/plain"], ["content-length", "99"], ["transfer-encoding", "gzip"], ["connection", "x"], ["keep-alive", "y"], ["x-a", "1"], ["x-a", "2"]]
    expect(responseHead(200, headers, { kind: "length", length: 5 }, true, 5, DATE)).toBe(
      `HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nx-a: 1\r\nx-a: 2\r\ndate: ${DATE}\r\ncontent-length: 5\r\nconnection: keep-alive\r\nkeep-alive: timeout=5\r\n\r\n`
    )
    expect(responseHead(404, [["date", "then"]], { kind: "chunked" }, false, 5, DATE)).toBe(
      "HTTP/1.1 404 Not Found\r\ndate: then\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n"
    )
    expect(responseHead(200, [], { kind: "close" }, true, 5, DATE)).toBe(`HTTP/1.1 200 OK\r\ndate: ${DATE}\r\nconnection: close\r\n\r\n`)
    expect(responseHead(599, [], { kind: "none", length: -1 }, true, 0, DATE)).toBe(`HTTP/1.1 599 Unknown\r\ndate: ${DATE}\r\nconnection: keep-alive\r\n\r\n`)
  })

  it("writes an interim response as its status line and fields only", () => {
    expect(responseHead(103, [["link", "</a.css>; rel=preload"]], { kind: "none", length: -1 }, true, 5, DATE)).toBe(
      "HTTP/1.1 103 Early Hints\r\nlink: </a.css>; rel=preload\r\n\r\n"
    )
  })

  it("makes the date once per second, and the next second's at the next second", () => {
    vi.useFakeTimers({ now: Date.UTC(2026, 11, 1, 6, 0, 0, 10) })
    try {
      const d = new HttpDate()
      expect(d.now()).toBe(DATE)
      vi.advanceTimersByTime(979)
      expect(d.now()).toBe(DATE)
      vi.advanceTimersByTime(11)
      expect(d.now()).toBe("Tue, 01 Dec 2026 06:00:01 GMT")
      vi.advanceTimersByTime(2500)
      expect(d.now()).toBe("Tue, 01 Dec 2026 06:00:03 GMT")
    } finally {
      vi.useRealTimers()
    }
  })
})

describe("what node's HTTP/1.1 client reads back", () => {
  const { read } = useCannedResponse()

  const token = fc.stringMatching(/^x-[a-z0-9-]{1,10}$/)
  const value = fc.stringMatching(/^[\x21-\x7e]([\x20-\x7e]{0,20}[\x21-\x7e])?$/)

  it("status, fields, body (by length or chunked, cut anywhere) and trailers, as written (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(200, 201, 404, 500),
        fc.uniqueArray(fc.tuple(token, value), { maxLength: 5, selector: ([n]) => n }),
        fc.uint8Array({ maxLength: 3000 }),
        fc.boolean(),
        fc.array(fc.nat(), { maxLength: 5 }),
        fc.uniqueArray(fc.tuple(token, value), { maxLength: 2, selector: ([n]) => n }),
        async (status, fields, body, chunked, cuts, trailers) => {
          const framing = responseFraming(status, "GET", "1.1", chunked ? -1 : body.length)
          const head = responseHead(status, fields, framing, false, 0, DATE)
          let wire: Buffer
          if (framing.kind === "chunked") {
            const points = [...new Set(cuts.map((c) => c % (body.length + 1)))].filter((p) => p > 0).sort((a, b) => a - b)
            const parts: Array<Buffer> = [Buffer.from(head, "latin1")]
            let at = 0
            for (const p of [...points, body.length]) {
              if (p <= at) continue
              parts.push(Buffer.from(chunkHeader(p - at), "latin1"), Buffer.from(body.subarray(at, p)), Buffer.from(CRLF, "latin1"))
              at = p
            }
            parts.push(Buffer.from(lastChunk(trailers), "latin1"))
            wire = Buffer.concat(parts)
          } else wire = Buffer.concat([Buffer.from(head, "latin1"), body])
          const r = await read(wire)
          expect(r.status).toBe(status)
          for (const [n, v] of fields) expect(r.headers[n]).toBe(v)
          expect(r.headers.date).toBe(DATE)
          expect(r.body.equals(Buffer.from(body))).toBe(true)
          if (framing.kind === "chunked") for (const [n, v] of trailers) expect(r.trailers[n]).toBe(v)
        }
      ),
      { numRuns: 40 }
    )
  })
})
