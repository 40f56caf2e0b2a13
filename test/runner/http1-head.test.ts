/**
 * The HTTP/1.1 request-head parser of the runner's own codec
 * (src/runner/http1/head.ts): what it accepts, what it refuses with which
 * status (the request-smuggling vectors first), and, with fast-check, that
 * a head split anywhere is found whole and parses to what was written.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { headEnd, HeadError, leadingEmptyLines, MAX_FIELDS, parseHead, type RequestHead } from "../../src/runner/http1/head.ts"

const bytesOf = (text: string): Uint8Array => Buffer.from(text, "latin1")

const parse = (text: string): RequestHead | HeadError => {
  const bytes = bytesOf(text)
  const skip = leadingEmptyLines(bytes, 0)
  const end = headEnd(bytes, skip)
  if (end < 0) throw new Error("no complete head")
  return parseHead(bytes, skip, end)
}

const ok = (text: string): RequestHead => {
  const head = parse(text)
  if (head instanceof HeadError) throw new Error(`refused: ${head.message}`)
  return head
}

const refused = (text: string): number => {
  const head = parse(text)
  if (!(head instanceof HeadError)) throw new Error(`accepted: ${JSON.stringify(head)}`)
  return head.status
}

describe("a request head", () => {
  it("gives method, target, version, raw fields (names as sent, values trimmed) and no body", () => {
    const head = ok("GET /a?b=c HTTP/1.1\r\nHost: x\r\nX-Two:  v w \t\r\nx-two: 2\r\n\r\n")
    expect(head).toEqual({
      method: "GET",
      target: "/a?b=c",
      httpVersion: "1.1",
      rawHeaders: ["Host", "x", "X-Two", "v w", "x-two", "2"],
      host: "x",
      framing: { kind: "none" },
      keepAlive: true,
      expectContinue: false,
      upgrade: false
    })
  })

  it("skips empty lines before the request-line (RFC 9112 §2.2)", () => {
    expect(ok("\r\n\r\nGET / HTTP/1.1\r\nhost: x\r\n\r\n").method).toBe("GET")
  })

  it("takes obs-text in the target and field values as latin1, like node:http", () => {
    const head = ok("GET /\xe9 HTTP/1.1\r\nhost: x\r\nx: caf\xe9\r\n\r\n")
    expect(head.target).toBe("/\xe9")
    expect(head.rawHeaders[3]).toBe("caf\xe9")
  })

  it("frames a body by content-length or chunked", () => {
    expect(ok("POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 12\r\n\r\n").framing).toEqual({ kind: "length", length: 12 })
    expect(ok("POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 5, 5\r\n\r\n").framing).toEqual({ kind: "length", length: 5 })
    expect(ok("POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n").framing).toEqual({ kind: "none" })
    expect(ok("POST / HTTP/1.1\r\nhost: x\r\nTransfer-Encoding: Chunked\r\n\r\n").framing).toEqual({ kind: "chunked" })
  })

  it("keeps the connection by version and connection options (RFC 9112 §9.3)", () => {
    expect(ok("GET / HTTP/1.1\r\nhost: x\r\n\r\n").keepAlive).toBe(true)
    expect(ok("GET / HTTP/1.1\r\nhost: x\r\nconnection: foo, Close\r\n\r\n").keepAlive).toBe(false)
    expect(ok("GET / HTTP/1.0\r\n\r\n").keepAlive).toBe(false)
    expect(ok("GET / HTTP/1.0\r\nconnection: keep-alive\r\n\r\n").keepAlive).toBe(true)
    expect(ok("GET / HTTP/1.2\r\nhost: x\r\n\r\n").httpVersion).toBe("1.1")
  })

  it("sees 100-continue (HTTP/1.1 only) and an upgrade", () => {
    expect(ok("POST / HTTP/1.1\r\nhost: x\r\nexpect: 100-Continue\r\ncontent-length: 1\r\n\r\n").expectContinue).toBe(true)
    expect(ok("POST / HTTP/1.0\r\nexpect: 100-continue\r\ncontent-length: 1\r\n\r\n").expectContinue).toBe(false)
    expect(ok("GET / HTTP/1.1\r\nhost: x\r\nconnection: Upgrade\r\nupgrade: websocket\r\n\r\n").upgrade).toBe(true)
    expect(ok("GET / HTTP/1.1\r\nhost: x\r\nupgrade: websocket\r\n\r\n").upgrade).toBe(false)
  })
})

describe("refused heads", () => {
  const cases: ReadonlyArray<readonly [string, string, number]> = [
    // Framing two parsers could read differently (request smuggling).
    ["content-length beside transfer-encoding", "POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n", 400],
    ["transfer-encoding in HTTP/1.0", "POST / HTTP/1.0\r\ntransfer-encoding: chunked\r\n\r\n", 400],
    ["chunked not last", "POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked, identity\r\n\r\n", 400],
    ["chunked twice", "POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\ntransfer-encoding: chunked\r\n\r\n", 400],
    ["an unknown coding before chunked", "POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: gzip, chunked\r\n\r\n", 501],
    ["an empty transfer-encoding", "POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: \r\n\r\n", 400],
    ["two content-lengths that differ", "POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n", 400],
    ["a content-length list that differs", "POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 1, 2\r\n\r\n", 400],
    ["a signed content-length", "POST / HTTP/1.1\r\nhost: x\r\ncontent-length: +1\r\n\r\n", 400],
    ["a hex content-length", "POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 0x10\r\n\r\n", 400],
    ["a content-length past 2^53", "POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 99999999999999999\r\n\r\n", 400],
    ["an empty content-length", "POST / HTTP/1.1\r\nhost: x\r\ncontent-length: \r\n\r\n", 400],
    ["a content-length wrapped in 0xA0 octets (no OWS)", "POST / HTTP/1.1\r\nhost: x\r\ncontent-length: \xa00\xa0\r\n\r\n", 400],
    ["chunked behind a 0xA0 octet", "POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: \xa0chunked\r\n\r\n", 400],
    ["whitespace before a colon", "POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding : chunked\r\n\r\n", 400],
    ["obs-fold", "GET / HTTP/1.1\r\nhost: x\r\nx: a\r\n b\r\n\r\n", 400],
    ["a bare LF ending a field line", "GET / HTTP/1.1\r\nhost: x\nx: y\r\n\r\n", 400],
    ["a bare CR inside a field value", "GET / HTTP/1.1\r\nhost: x\r\nx: a\rb\r\n\r\n", 400],
    ["a bare LF ending the request-line", "GET / HTTP/1.1\nhost: x\r\n\r\n", 400],
    // Host (RFC 9112 §3.2).
    ["HTTP/1.1 without host", "GET / HTTP/1.1\r\nx: y\r\n\r\n", 400],
    ["two hosts", "GET / HTTP/1.1\r\nhost: a\r\nHost: b\r\n\r\n", 400],
    // The request-line.
    ["two spaces after the method", "GET  / HTTP/1.1\r\nhost: x\r\n\r\n", 400],
    ["a space in the target", "GET /a b HTTP/1.1\r\nhost: x\r\n\r\n", 400],
    ["a control octet in the target", "GET /a\x01 HTTP/1.1\r\nhost: x\r\n\r\n", 400],
    ["a method that is no token", "G(T / HTTP/1.1\r\nhost: x\r\n\r\n", 400],
    ["a lower-case version", "GET / http/1.1\r\nhost: x\r\n\r\n", 400],
    ["a version with two digits", "GET / HTTP/1.10\r\nhost: x\r\n\r\n", 400],
    ["no version", "GET /\r\nhost: x\r\n\r\n", 400],
    ["HTTP/2.0 over HTTP/1.1", "GET / HTTP/2.0\r\nhost: x\r\n\r\n", 505],
    // Fields.
    ["a field without a name", "GET / HTTP/1.1\r\nhost: x\r\n: y\r\n\r\n", 400],
    ["a field name that is no token", "GET / HTTP/1.1\r\nhost: x\r\nx(y): z\r\n\r\n", 400],
    ["a NUL in a field value", "GET / HTTP/1.1\r\nhost: x\r\nx: a\x00b\r\n\r\n", 400],
    ["a DEL in a field value", "GET / HTTP/1.1\r\nhost: x\r\nx: a\x7fb\r\n\r\n", 400],
    ["an expectation other than 100-continue", "GET / HTTP/1.1\r\nhost: x\r\nexpect: 200-ok\r\n\r\n", 417]
  ]
  it.each(cases)("%s", (_name, text, status) => {
    expect(refused(text)).toBe(status)
  })

  it(`more than ${MAX_FIELDS} field lines: 431 (node:http would cut them at its maxHeadersCount)`, () => {
    const fields = (n: number) => Array.from({ length: n }, (_, i) => `x-${i}: v\r\n`).join("")
    expect(ok(`GET / HTTP/1.1\r\nhost: x\r\n${fields(MAX_FIELDS - 1)}\r\n`).rawHeaders).toHaveLength(2 * MAX_FIELDS)
    expect(refused(`GET / HTTP/1.1\r\nhost: x\r\n${fields(MAX_FIELDS)}\r\n`)).toBe(431)
  })

  it("names the RFC rule it applies", () => {
    const error = parse("POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n")
    expect(error).toBeInstanceOf(HeadError)
    expect((error as HeadError).rule).toBe("RFC 9112 §6.1")
  })
})

describe("finding the end of a head", () => {
  it("is -1 until the empty line arrives, then just past it", () => {
    expect(headEnd(bytesOf("GET / HTTP/1.1\r\nhost: x\r\n\r"), 0)).toBe(-1)
    expect(headEnd(bytesOf("GET / HTTP/1.1\r\nhost: x\r\n\r\nBODY"), 0)).toBe(27)
  })

  const token = fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}$/)
  const value = fc.stringMatching(/^[\x21-\x7e]([\x20-\x7e]{0,20}[\x21-\x7e])?$/)
  const request = fc.record({
    method: token,
    target: fc.stringMatching(/^\/[\x21-\x7e]{0,30}$/),
    fields: fc.array(fc.tuple(token, value), { maxLength: 12 }).map((l) =>
      l.filter(([n]) => !["host", "content-length", "transfer-encoding", "expect", "connection", "upgrade"].includes(n.toLowerCase()))
    ),
    cuts: fc.array(fc.nat(), { maxLength: 8 })
  })

  it("finds a head however it is split, searching only the octets that are new each time, and parses what was written (property)", () => {
    fc.assert(
      fc.property(request, ({ method, target, fields, cuts }) => {
        const text = `${method} ${target} HTTP/1.1\r\nhost: h\r\n${fields.map(([n, v]) => `${n}: ${v}\r\n`).join("")}\r\nrest`
        const all = bytesOf(text)
        const whole = all.length - 4
        const points = [...new Set(cuts.map((c) => c % all.length))].sort((a, b) => a - b)
        // Arrive in pieces: search only what is new each time (from the last stop).
        let searched = 0
        let found = -1
        for (const point of [...points, all.length]) {
          found = headEnd(all.subarray(0, point), searched)
          if (found >= 0) break
          searched = point
        }
        expect(found).toBe(whole)
        const head = parseHead(all, 0, found)
        expect(head).not.toBeInstanceOf(HeadError)
        const h = head as RequestHead
        expect([h.method, h.target, h.rawHeaders]).toEqual([method, target, ["host", "h", ...fields.flat()]])
      }),
      { numRuns: 300 }
    )
  })
})
