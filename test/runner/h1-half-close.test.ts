/**
 * HTTP/1.1 request bodies that stop short and are followed by the client
 * half-closing its side (RFC 9112 §8; spec.md §4.3, rule HTTP-7): the client
 * can still read, so it gets 400, the app sees `http.disconnect` (never
 * `moreBody: false`) or, when it is not reading then, is interrupted
 * (HTTP-15), and the runner logs one line.
 */
import { Effect } from "effect"
import * as net from "node:net"
import { afterEach, beforeEach, describe, expect, it, onTestFinished } from "vitest"
import type { App } from "../../src/protocol/app.ts"
import type { InboundEvent } from "../../src/protocol/events.ts"
import { statusOf, until } from "../support/clients.ts"
import { listen, type TestServer } from "../support/server.ts"

interface Sent {
  /** Everything the server sent, latin-1. */
  readonly text: string
  /** The server closed the connection (within the deadline). */
  readonly closed: boolean
}

/**
 * Writes `head + body` on a raw TCP connection, half-closes it
 * (`socket.end()`: FIN, reading still open) after `endAfterMs`, and reads
 * until the server closes (at most 3 s).
 */
const halfClose = (port: number, bytes: string, endAfterMs = 30): Promise<Sent> =>
  new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1")
    let text = ""
    const timer = setTimeout(() => {
      socket.destroy()
      resolve({ text, closed: false })
    }, 3000)
    socket.on("data", (d: Buffer) => void (text += d.toString("latin1")))
    socket.on("error", () => {})
    socket.on("close", () => {
      clearTimeout(timer)
      resolve({ text, closed: true })
    })
    socket.on("connect", () => {
      socket.write(bytes)
      setTimeout(() => socket.end(), endAfterMs)
    })
  })

const events: Array<Array<string>> = []

/**
 * Reads the body (at once, or after `?wait=ms`), then answers 200 with the
 * byte count; with `?stream`, first starts a response and sends a chunk of
 * it. An interrupted app notes `interrupted`.
 */
const app: App = (scope, receive, send) =>
  Effect.gen(function*() {
    if (scope.type !== "http") return yield* Effect.fail(new Error("http only"))
    const seen: Array<string> = []
    events.push(seen)
    const query = new URLSearchParams(scope.queryString)
    if (scope.method === "GET") {
      // A response that takes a while, for a short request pipelined behind it.
      yield* Effect.sleep(200)
      yield* send({ type: "http.response.start", status: 200 })
      return yield* send({ type: "http.response.body", body: new TextEncoder().encode("slow") })
    }
    if (query.has("answered")) {
      // The whole response at once, the body unread; then work that goes on after it.
      yield* send({ type: "http.response.start", status: 200 })
      yield* send({ type: "http.response.body", body: new TextEncoder().encode("answered") })
      if (query.has("read")) {
        // Reads what is left of the body after its response.
        for (;;) {
          const event: InboundEvent = yield* receive
          seen.push(event.type === "http.request" ? `request ${event.body.length} ${event.moreBody}` : event.type)
          if (event.type !== "http.request" || !event.moreBody) return
        }
      }
      yield* Effect.sleep(300)
      seen.push("went on")
      return
    }
    if (query.has("stream")) {
      yield* send({ type: "http.response.start", status: 200 })
      yield* send({ type: "http.response.body", body: new TextEncoder().encode("first"), moreBody: true })
    }
    const wait = Number(query.get("wait") ?? 0)
    if (wait > 0) yield* Effect.sleep(wait).pipe(Effect.onInterrupt(() => Effect.sync(() => void seen.push("interrupted"))))
    let bytes = 0
    for (;;) {
      const event: InboundEvent = yield* receive
      if (event.type === "http.request") {
        bytes += event.body.length
        seen.push(`request ${event.body.length} ${event.moreBody}`)
        if (!event.moreBody) break
      } else {
        seen.push(event.type)
        return
      }
    }
    yield* send({ type: "http.response.start", status: 200 })
    yield* send({ type: "http.response.body", body: new TextEncoder().encode(`${bytes}`) })
  })

describe("HTTP-7: a short HTTP/1.1 body, then the client half-closes", () => {
  // A server per test: each expects its own error line, and repeated client errors are summed up once a second (RUN-38).
  let current: TestServer | undefined
  beforeEach(async () => {
    current = await listen(app)
  })
  afterEach(async () => {
    events.length = 0
    await current?.close()
  })
  const server = (): TestServer => current!

  it("HTTP-7: content-length 10, 4 bytes, FIN while the app waits in receive → 400, disconnect, one log line", async () => {
    const res = await halfClose(server().port, "POST /upload HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\n\r\nabcd")
    expect(res.closed).toBe(true)
    expect(statusOf(res.text)).toBe(400)
    expect(res.text).toMatch(/\r\nconnection: close\r\n/i)
    await until(() => server().lines.access.length === 1, "the access-log line")
    expect(events).toEqual([["request 4 true", "http.disconnect"]])
    expect(server().lines.error).toHaveLength(1)
    expect(server().lines.error[0]).toMatch(/POST \/upload HTTP\/1\.1: ContentLengthMismatch: body of 4 bytes, content-length 10/)
    expect(server().lines.access[0]).toMatch(/"POST \/upload HTTP\/1\.1" 400 .* end=malformed$/)
  })

  it("HTTP-7 HTTP-15: the FIN arrives while the app is not reading → 400 at once, and the app is interrupted", async () => {
    const started = Date.now()
    const res = await halfClose(server().port, "POST /upload?wait=2000 HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\n\r\nabcd", 10)
    expect(res.closed).toBe(true)
    expect(statusOf(res.text)).toBe(400)
    expect(Date.now() - started).toBeLessThan(1500)
    await until(() => events[0]?.includes("interrupted") === true, "the app's interruption")
    expect(events).toEqual([["interrupted"]])
    await until(() => server().lines.access.length === 1, "the access-log line")
    expect(server().lines.error).toHaveLength(1)
    expect(server().lines.error[0]).toMatch(/ContentLengthMismatch: the client ended its side before the body was whole \(content-length 10\)/)
    expect(server().lines.access[0]).toMatch(/ 400 .* end=malformed$/)
    expect(server().inflight()).toBe(0)
  })

  it("HTTP-7 HTTP-15: the FIN arrives while the app streams its response without reading → the connection closes and the app is interrupted", async () => {
    const res = await halfClose(server().port, "POST /upload?stream&wait=60000 HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\n\r\nabcd", 50)
    expect(res.closed).toBe(true)
    expect(statusOf(res.text)).toBe(200)
    expect(res.text).toContain("first")
    await until(() => events[0]?.includes("interrupted") === true, "the app's interruption")
    await until(() => server().inflight() === 0, "no app running")
    expect(server().lines.error).toHaveLength(1)
    expect(server().lines.error[0]).toMatch(/ContentLengthMismatch/)
  })

  it("HTTP-7 HTTP-35: the FIN arrives after the app answered, its body unread, while it works on → the response stands and the app goes on", async () => {
    const res = await halfClose(server().port, "POST /upload?answered HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\n\r\nabcd", 50)
    expect(res.closed).toBe(true)
    expect(statusOf(res.text)).toBe(200)
    expect(res.text.endsWith("\r\n\r\nanswered")).toBe(true)
    await until(() => events[0]?.includes("went on") === true, "the app's work after its response")
    expect(server().lines.error).toEqual([])
  })

  it("HTTP-7 HTTP-35: the FIN arrives while an app that answered reads on → its receive gets http.disconnect, nothing stays running", async () => {
    const res = await halfClose(server().port, "POST /upload?answered&read HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\n\r\nabcd", 50)
    expect(statusOf(res.text)).toBe(200)
    await until(() => events[0]?.includes("http.disconnect") === true, "the app's disconnect")
    expect(events[0]).toEqual(["request 4 true", "http.disconnect"])
    await until(() => server().inflight() === 0, "no app running")
  })

  it("HTTP-7 RUN-5: a short request pipelined behind a response still in progress gets its 400 after that response, whether its app reads at once or not (node:http's codec)", async () => {
    // The runner's own codec serves the GET, and a FIN behind a request in progress is the client leaving (HTTP-15): node:http's codec reads on.
    const nodeCodec = await listen(app, { http1Codec: "node" })
    onTestFinished(() => nodeCodec.close())
    for (const target of ["/upload", "/upload?wait=1000"]) {
      events.length = 0
      const res = await halfClose(nodeCodec.port, `GET /slow HTTP/1.1\r\nhost: x\r\n\r\nPOST ${target} HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\n\r\nabcd`, 50)
      expect(res.closed).toBe(true)
      const responses = res.text.split(/(?=HTTP\/1\.1 )/)
      expect(responses.map(statusOf)).toEqual([200, 400])
      expect(responses[0]!.endsWith("\r\n\r\nslow")).toBe(true)
    }
  })

  it("HTTP-7: no body byte at all before the FIN → 400", async () => {
    const res = await halfClose(server().port, "POST /upload HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\n\r\n")
    expect(statusOf(res.text)).toBe(400)
    expect(events).toEqual([["http.disconnect"]])
  })

  it("HTTP-7 HTTP-14: a complete body then a FIN is answered normally", async () => {
    const res = await halfClose(server().port, "POST /upload HTTP/1.1\r\nhost: x\r\ncontent-length: 4\r\n\r\nabcd")
    expect(statusOf(res.text)).toBe(200)
    expect(res.text.endsWith("\r\n\r\n4")).toBe(true)
    expect(server().lines.error).toEqual([])
  })

  it("HTTP-14 HTTP-7: a chunked body cut short by a FIN never completes for the app, and gets 400 and one log line", async () => {
    const res = await halfClose(server().port, "POST /upload HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n4\r\nabcd\r\n")
    await until(() => events.length === 1 && events[0]!.at(-1) === "http.disconnect", "the app's disconnect")
    expect(events[0]).not.toContain("request 0 false")
    expect(res.closed).toBe(true)
    expect(statusOf(res.text)).toBe(400)
    await until(() => server().lines.access.length === 1, "the access-log line")
    expect(server().lines.error).toHaveLength(1)
    expect(server().lines.error[0]).toMatch(/IncompleteBody: /)
    expect(server().lines.access[0]).toMatch(/ 400 .* end=malformed$/)
  })
})
