/**
 * The chunked-coding decoder of the runner's own HTTP/1.1 codec
 * (src/runner/http1/chunked.ts): bodies, extensions and trailers decoded
 * however the bytes are split (fast-check), the bounds a client cannot get
 * round, and the framing errors with their statuses.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { ChunkedDecoder, ChunkedError, MAX_CHUNK_EXTENSIONS, MAX_CHUNK_LINE } from "../../src/runner/http1/chunked.ts"

const bytesOf = (text: string): Uint8Array => Buffer.from(text, "latin1")

/** Feeds `input` cut at `cuts`; the data, trailers, octets consumed, or the error. */
const decode = (input: Uint8Array, cuts: ReadonlyArray<number> = [], maxTrailerSize = 65536) => {
  const decoder = new ChunkedDecoder(maxTrailerSize)
  const points = [...new Set(cuts.map((c) => c % (input.length + 1)))].sort((a, b) => a - b)
  const data: Array<Uint8Array> = []
  let at = 0
  for (const point of [...points, input.length]) {
    if (point <= at) continue
    const part = decoder.push(input.subarray(at, point))
    if (part instanceof ChunkedError) return part
    data.push(...part.data)
    if (part.done) return { body: Buffer.concat(data), trailers: part.trailers, consumed: at + part.consumed, done: true }
    expect(part.consumed).toBe(point - at)
    at = point
  }
  return { body: Buffer.concat(data), trailers: [] as ReadonlyArray<string>, consumed: at, done: false }
}

const statusOf = (text: string, maxTrailerSize?: number): number => {
  const r = decode(bytesOf(text), [], maxTrailerSize)
  if (!(r instanceof ChunkedError)) throw new Error(`decoded: ${JSON.stringify(r)}`)
  return r.status
}

describe("decoding a chunked body", () => {
  it("gives the data, the trailers, and where the next request starts", () => {
    const r = decode(bytesOf("5\r\nhello\r\n6;a=b;c=\"d e\"\r\n world\r\n0\r\nx-sum: 1\r\nX-B:  2 \r\n\r\nGET / HTTP/1.1\r\n"))
    expect(r).toEqual({ body: Buffer.from("hello world"), trailers: ["x-sum", "1", "X-B", "2"], consumed: 58, done: true })
  })

  it("takes an empty body, sizes in either case with leading zeros, and whitespace before an extension", () => {
    expect(decode(bytesOf("0\r\n\r\n"))).toEqual({ body: Buffer.alloc(0), trailers: [], consumed: 5, done: true })
    expect(decode(bytesOf("0000A \t;x\r\n0123456789\r\n0\r\n\r\n"))).toMatchObject({ body: Buffer.from("0123456789"), done: true })
    expect(decode(bytesOf("a\r\n0123456789\r\n0\r\n\r\n"))).toMatchObject({ body: Buffer.from("0123456789"), done: true })
  })

  it("is not done before the trailer section's empty line", () => {
    expect(decode(bytesOf("3\r\nabc\r\n0\r\nx: y\r\n"))).toMatchObject({ body: Buffer.from("abc"), done: false })
  })

  const body = fc.uint8Array({ maxLength: 600 })
  const extension = fc.stringMatching(/^(;[a-z]{1,5}(=([a-z0-9]{1,5}|"[ a-z]{0,5}"))?){0,2}$/)
  const trailer = fc.array(fc.tuple(fc.stringMatching(/^[a-z][a-z0-9-]{0,8}$/), fc.stringMatching(/^[\x21-\x7e]{1,10}$/)), { maxLength: 3 })

  it("decodes any body, chunked any way and split anywhere, to its bytes and trailers (property)", () => {
    fc.assert(
      fc.property(body, fc.array(fc.nat(), { maxLength: 6 }), fc.array(extension, { minLength: 8, maxLength: 8 }), trailer, fc.array(fc.nat(), { maxLength: 10 }), (b, sizes, exts, trailers, cuts) => {
        const parts: Array<string> = []
        let at = 0
        let k = 0
        for (const size of sizes) {
          const n = Math.min(b.length - at, (size % 200) + 1)
          if (n <= 0) break
          parts.push(`${n.toString(16)}${exts[k++ % 8]}\r\n`, Buffer.from(b.subarray(at, at + n)).toString("latin1"), "\r\n")
          at += n
        }
        if (at < b.length) parts.push(`${(b.length - at).toString(16)}\r\n`, Buffer.from(b.subarray(at)).toString("latin1"), "\r\n")
        parts.push(`0${exts[7]}\r\n`, ...trailers.map(([n, v]) => `${n}: ${v}\r\n`), "\r\n")
        const encoded = bytesOf(parts.join(""))
        const input = Buffer.concat([encoded, bytesOf("NEXT")])
        const r = decode(input, cuts)
        expect(r).not.toBeInstanceOf(ChunkedError)
        expect(r).toEqual({ body: Buffer.from(b), trailers: trailers.flat(), consumed: encoded.length, done: true })
      }),
      { numRuns: 300 }
    )
  })

  it("gives data as views of the input, not copies", () => {
    const input = bytesOf("4\r\nabcd\r\n")
    const part = new ChunkedDecoder(1024).push(input)
    if (part instanceof ChunkedError) throw part
    expect(part.data[0]!.buffer).toBe(input.buffer)
  })
})

describe("refused chunked bodies", () => {
  const cases: ReadonlyArray<readonly [string, string, number]> = [
    ["no size", "\r\nabc\r\n0\r\n\r\n", 400],
    ["a size that is no hex", "g\r\n", 400],
    ["a size with a sign", "+5\r\nhello\r\n", 400],
    ["a size past 2^52", "10000000000000\r\n", 400],
    ["data longer than its size", "3\r\nabcd\r\n0\r\n\r\n", 400],
    ["data not followed by CRLF", "3\r\nabc\rX", 400],
    ["a bare LF after the size", "3\nabc\r\n", 400],
    ["a bare CR after the size", "3\rabc\r\n", 400],
    ["junk after the size", "3 x\r\nabc\r\n", 400],
    ["a control octet in an extension", "3;a\x01\r\nabc\r\n", 400],
    ["a NUL in an extension", "3;a=\x00\r\nabc\r\n", 400],
    ["a folded trailer", "0\r\nx: a\r\n b\r\n\r\n", 400],
    ["a trailer without a colon", "0\r\nbad\r\n\r\n", 400]
  ]
  it.each(cases)("%s", (_name, text, status) => {
    expect(statusOf(text)).toBe(status)
  })

  it(`a chunk-size line past ${MAX_CHUNK_LINE} bytes, in leading zeros or whitespace or an extension: 400`, () => {
    expect(statusOf(`${"0".repeat(MAX_CHUNK_LINE)}1\r\na\r\n`)).toBe(400)
    expect(statusOf(`1${" ".repeat(MAX_CHUNK_LINE)}\r\na\r\n`)).toBe(400)
    expect(statusOf(`1;${"x".repeat(MAX_CHUNK_LINE)}\r\na\r\n`)).toBe(400)
    expect(decode(bytesOf(`1;${"x".repeat(MAX_CHUNK_LINE - 4)}\r\na\r\n0\r\n\r\n`))).toMatchObject({ done: true })
  })

  it(`extensions past ${MAX_CHUNK_EXTENSIONS} bytes in one body, however spread over chunks: 413`, () => {
    const chunk = `1;${"x".repeat(1000)}\r\na\r\n`
    expect(statusOf(chunk.repeat(17))).toBe(413)
    expect(decode(bytesOf(`${chunk.repeat(16)}0\r\n\r\n`))).toMatchObject({ done: true })
  })

  it("a trailer section past the limit, even trickled in without an end: 431", () => {
    expect(statusOf(`0\r\n${"x: y\r\n".repeat(20)}\r\n`, 64)).toBe(431)
    const decoder = new ChunkedDecoder(64)
    expect(decoder.push(bytesOf("0\r\n"))).toMatchObject({ done: false })
    let last: unknown
    for (let i = 0; i < 100 && !(last instanceof ChunkedError); i++) last = decoder.push(bytesOf("x"))
    expect(last).toBeInstanceOf(ChunkedError)
    expect((last as ChunkedError).status).toBe(431)
  })
})
