/**
 * The request reader of the runner's own HTTP/1.1 codec
 * (src/runner/http1/request-reader.ts): pipelined requests come out one at
 * a time, in order, byte-exact however the connection splits them
 * (fast-check), and its bounds hold against a client that trickles.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { HeadError } from "../../src/runner/http1/head.ts"
import { type RequestEvent, RequestReader } from "../../src/runner/http1/request-reader.ts"

const bytesOf = (text: string): Uint8Array => Buffer.from(text, "latin1")

interface Seen {
  readonly method: string
  readonly target: string
  readonly body: string
  readonly trailers: ReadonlyArray<string>
}

/** Feeds `wire` cut at `cuts`, calling `next()` after each request's end, as a server would once it answered. */
const readAll = (reader: RequestReader, wire: Uint8Array, cuts: ReadonlyArray<number>) => {
  const seen: Array<Seen> = []
  const errors: Array<number> = []
  let current: { method: string; target: string; body: Array<Uint8Array> } | undefined
  const take = (events: ReadonlyArray<RequestEvent>): void => {
    for (const e of events) {
      if (e.type === "head") current = { method: e.head.method, target: e.head.target, body: [] }
      else if (e.type === "data") current!.body.push(Buffer.from(e.bytes))
      else if (e.type === "end") {
        seen.push({ method: current!.method, target: current!.target, body: Buffer.concat(current!.body).toString("latin1"), trailers: e.trailers })
        current = undefined
        take(reader.next())
      } else if (e.type === "error") errors.push(e.error.status)
      else throw new Error("declined without an accept")
    }
  }
  const points = [...new Set(cuts.map((c) => c % (wire.length + 1)))].sort((a, b) => a - b)
  let at = 0
  for (const p of [...points, wire.length]) {
    if (p <= at) continue
    take(reader.receive(wire.subarray(at, p)))
    at = p
  }
  return { seen, errors }
}

describe("reading requests", () => {
  it("gives head, data and end, and holds a pipelined request until the exchange is over", () => {
    const reader = new RequestReader(8192)
    const events = reader.receive(bytesOf("POST /a HTTP/1.1\r\nhost: x\r\ncontent-length: 3\r\n\r\nabcGET /b HTTP/1.1\r\nhost: x\r\n\r\n"))
    expect(events.map((e) => e.type)).toEqual(["head", "data", "end"])
    expect(reader.state).toBe("exchange")
    expect(reader.buffered).toBe(28)
    const next = reader.next()
    expect(next.map((e) => e.type)).toEqual(["head", "end"])
    expect((next[0] as Extract<RequestEvent, { type: "head" }>).head.target).toBe("/b")
  })

  it("hands off after an upgrade or CONNECT head, keeping what followed it", () => {
    const reader = new RequestReader(8192)
    const events = reader.receive(bytesOf("GET /ws HTTP/1.1\r\nhost: x\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n\x81\x05hello"))
    expect(events.map((e) => e.type)).toEqual(["head"])
    expect(reader.state).toBe("handedOff")
    expect(Buffer.from(reader.rest()).toString("latin1")).toBe("\x81\x05hello")
    const connect = new RequestReader(8192)
    connect.receive(bytesOf("CONNECT a:443 HTTP/1.1\r\nhost: a:443\r\n\r\n"))
    expect(connect.state).toBe("handedOff")
  })

  it("stops at a head its caller declines, and gives back that head and all after it", () => {
    const reader = new RequestReader(8192, (head) => head.framing.kind === "none")
    const wire = "GET /a HTTP/1.1\r\nhost: x\r\n\r\nPOST /b HTTP/1.1\r\nhost: x\r\ncontent-length: 3\r\n\r\nabcGET /c HTTP/1.1\r\nhost: x\r\n\r\n"
    expect(reader.receive(bytesOf(wire)).map((e) => e.type)).toEqual(["head", "end"])
    expect(reader.next().map((e) => e.type)).toEqual(["declined"])
    expect(Buffer.from(reader.unread()).toString("latin1")).toBe(wire.slice(wire.indexOf("POST")))
    expect(reader.receive(bytesOf("more"))).toEqual([])
  })

  it("gives back the bytes of a head it refused, for another parser to answer", () => {
    const reader = new RequestReader(8192)
    const wire = "GET / HTTP/1.1\r\nhost: x\r\nbad line\r\n\r\n"
    expect(reader.receive(bytesOf(wire)).map((e) => e.type)).toEqual(["error"])
    expect(Buffer.from(reader.unread()).toString("latin1")).toBe(wire)
  })

  it("knows when the connection's end would cut a request short", () => {
    const reader = new RequestReader(8192)
    expect(reader.midRequest).toBe(false)
    reader.receive(bytesOf("POST / HTTP/1.1\r\nho"))
    expect(reader.midRequest).toBe(true)
    reader.receive(bytesOf("st: x\r\ncontent-length: 2\r\n\r\na"))
    expect(reader.midRequest).toBe(true)
    reader.receive(bytesOf("b"))
    expect(reader.midRequest).toBe(false)
  })

  const token = fc.stringMatching(/^[A-Z]{1,7}$/).filter((m) => m !== "CONNECT")
  const request = fc.record({
    method: token,
    target: fc.stringMatching(/^\/[\x21-\x7e]{0,20}$/),
    body: fc.string({ maxLength: 300 }).map((s) => Buffer.from(s).toString("latin1")),
    chunked: fc.boolean(),
    chunk: fc.integer({ min: 1, max: 64 }),
    trailers: fc.array(fc.tuple(fc.stringMatching(/^x-[a-z]{1,6}$/), fc.stringMatching(/^[a-z0-9]{1,8}$/)), { maxLength: 2 }),
    blankLines: fc.integer({ min: 0, max: 2 })
  })

  it("reads any pipelined requests, split anywhere, one at a time and byte-exact (property)", () => {
    fc.assert(
      fc.property(fc.array(request, { minLength: 1, maxLength: 5 }), fc.array(fc.nat(), { maxLength: 12 }), (requests, cuts) => {
        const wire = requests.map((r) => {
          const blank = "\r\n".repeat(r.blankLines)
          if (!r.chunked) return `${blank}${r.method} ${r.target} HTTP/1.1\r\nhost: h\r\ncontent-length: ${r.body.length}\r\n\r\n${r.body}`
          let chunks = ""
          for (let i = 0; i < r.body.length; i += r.chunk) {
            const part = r.body.slice(i, i + r.chunk)
            chunks += `${part.length.toString(16)}\r\n${part}\r\n`
          }
          return `${blank}${r.method} ${r.target} HTTP/1.1\r\nhost: h\r\ntransfer-encoding: chunked\r\n\r\n${chunks}0\r\n${r.trailers.map(([n, v]) => `${n}: ${v}\r\n`).join("")}\r\n`
        }).join("")
        const { seen, errors } = readAll(new RequestReader(8192), bytesOf(wire), cuts)
        expect(errors).toEqual([])
        expect(seen).toEqual(requests.map((r) => ({ method: r.method, target: r.target, body: r.body, trailers: r.chunked ? r.trailers.flat() : [] })))
      }),
      { numRuns: 300 }
    )
  })
})

describe("bounds and errors", () => {
  it("refuses a head past the limit (431), trickled one octet at a time or behind empty lines", () => {
    const trickled = new RequestReader(256)
    const head = bytesOf(`GET / HTTP/1.1\r\nhost: x\r\nx: ${"a".repeat(300)}\r\n\r\n`)
    let error: number | undefined
    for (let i = 0; i < head.length && error === undefined; i++) {
      for (const e of trickled.receive(head.subarray(i, i + 1))) if (e.type === "error") error = e.error.status
    }
    expect(error).toBe(431)
    const blank = new RequestReader(256)
    const events = blank.receive(bytesOf(`${"\r\n".repeat(200)}GET / HTTP/1.1\r\nhost: x\r\n\r\n`))
    expect(events).toHaveLength(1)
    expect((events[0] as Extract<RequestEvent, { type: "error" }>).error.status).toBe(431)
  })

  it("copies a head trickled one octet at a time a bounded number of times, not once per octet", () => {
    const reader = new RequestReader(70_000)
    const head = bytesOf(`GET / HTTP/1.1\r\nhost: x\r\nx: ${"a".repeat(65_000)}\r\n\r\n`)
    const allocUnsafe = Buffer.allocUnsafe
    const concat = Buffer.concat
    let copies = 0
    Buffer.allocUnsafe = ((size: number) => (copies++, allocUnsafe(size))) as typeof Buffer.allocUnsafe
    Buffer.concat = ((list: ReadonlyArray<Uint8Array>, length?: number) => (copies++, concat(list, length))) as typeof Buffer.concat
    const events: Array<RequestEvent> = []
    try {
      for (let i = 0; i < head.length; i++) events.push(...reader.receive(head.subarray(i, i + 1)))
    } finally {
      Buffer.allocUnsafe = allocUnsafe
      Buffer.concat = concat
    }
    expect(events.map((e) => e.type)).toEqual(["head", "end"])
    // The store doubles: ~log2(65 KiB / 4 KiB) growths, where a concatenation per octet made 65,000.
    expect(copies).toBeLessThan(20)
  })

  it("takes a head at the limit, empty lines included", () => {
    const head = "GET / HTTP/1.1\r\nhost: x\r\n\r\n"
    expect(new RequestReader(head.length + 2).receive(bytesOf(`\r\n${head}`)).map((e) => e.type)).toEqual(["head", "end"])
    expect(new RequestReader(head.length + 1).receive(bytesOf(`\r\n${head}`)).map((e) => e.type)).toEqual(["error"])
  })

  it("answers a malformed head with its error, and reads nothing after it", () => {
    const reader = new RequestReader(8192)
    const events = reader.receive(bytesOf("GET / HTTP/1.1\r\nhost: x\r\ncontent-length: 1\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n"))
    expect(events).toHaveLength(1)
    expect((events[0] as Extract<RequestEvent, { type: "error" }>).error).toBeInstanceOf(HeadError)
    expect(reader.state).toBe("failed")
    expect(reader.receive(bytesOf("GET / HTTP/1.1\r\nhost: x\r\n\r\n"))).toEqual([])
  })

  it("answers bad chunked framing with its error (400)", () => {
    const reader = new RequestReader(8192)
    const events = reader.receive(bytesOf("POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabcd\r\n"))
    // The data of the piece that broke the framing is not given: the request is malformed.
    expect(events.map((e) => e.type)).toEqual(["head", "error"])
    expect((events[1] as Extract<RequestEvent, { type: "error" }>).error.status).toBe(400)
  })
})
