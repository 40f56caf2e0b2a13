/**
 * Flow control end to end (spec.md §4.3, §4.6): a client that does not read
 * stalls a streaming app (HTTP-10), and an app that does not receive stalls an
 * uploading client (HTTP-11) — on HTTP/2 through the flow-control windows, on
 * HTTP/1.1 through TCP. Each side then resumes and the transfer completes
 * intact. An app that took one chunk and waits bounds the upload to the
 * stream window plus node's buffer.
 */
import { Effect } from "effect"
import { createHash } from "node:crypto"
import { once } from "node:events"
import * as net from "node:net"
import { describe, expect, it } from "vitest"
import type { EgiScope, Receive, Send } from "../../src/index.ts"
import { unsupportedScope } from "../../src/protocol/unsupported.ts"
import { type Deferred, deferred, settle, sleep, within } from "../support/async.ts"
import { closeSession, collect, connect, writeChunks } from "../support/h2client.ts"
import { useServers } from "../support/server.ts"

const KiB = 1024
const MiB = 1024 * KiB

const { serve, defer } = useServers({ drainTimeout: 500 })

// ---------------------------------------------------------------------------
// HTTP-10: a client that does not read
// ---------------------------------------------------------------------------

/** Streams `total` bytes in 64 KiB chunks, counting the bytes whose send completed. */
const streamingApp = (total: number, counter: { completed: number }, started: Deferred<void>) =>
  Effect.fnUntraced(function*(scope: EgiScope, _receive: Receive, send: Send) {
    if (scope.type !== "http") return yield* unsupportedScope(scope)
    started.resolve()
    const chunk = new Uint8Array(64 * KiB).fill(0x61)
    yield* send({ type: "http.response.start", status: 200, headers: [["content-type", "application/octet-stream"]] })
    for (let sent = 0; sent < total; sent += chunk.length) {
      yield* send({ type: "http.response.body", body: chunk, moreBody: true })
      counter.completed += chunk.length
    }
    yield* send({ type: "http.response.body" })
  })

describe("HTTP-10: send waits while the client does not read", () => {
  it("HTTP-10: HTTP/2: the app's completed sends stay under 1 MiB (window + stream buffer) and stop growing; once the client reads, all 16 MiB arrive", async () => {
    const total = 16 * MiB
    const counter = { completed: 0 }
    const started = deferred()
    const server = await serve(streamingApp(total, counter, started))
    const session = await connect(server.url)
    defer(() => closeSession(session))

    const stream = session.request({ ":path": "/" }, { endStream: true })
    stream.on("error", () => {})
    const [headers] = (await within(once(stream, "response"), 5000, "response head")) as [Record<string, unknown>]
    expect(headers[":status"]).toBe(200)

    const [a, b] = await settle(() => counter.completed)
    expect(b).toBe(a)
    expect(a).toBeLessThan(1 * MiB)

    // Reading un-stalls the app: the rest of the body arrives, intact in length.
    let received = 0
    stream.on("data", (c: Buffer) => (received += c.length))
    await within(once(stream, "end"), 10_000, "the rest of the body")
    expect(received).toBe(total)
    expect(counter.completed).toBe(total)
  })

  it("HTTP-10: HTTP/1.1: with a client socket that is not read, completed sends stay under 16 MiB (TCP buffers) and stop growing; then all 32 MiB arrive", async () => {
    const total = 32 * MiB
    const counter = { completed: 0 }
    const started = deferred()
    const server = await serve(streamingApp(total, counter, started))
    const socket = net.connect(server.port, "127.0.0.1")
    defer(() => void socket.destroy())
    socket.pause()
    await once(socket, "connect")
    socket.write("GET /stream HTTP/1.1\r\nhost: test\r\n\r\n")

    await within(started.promise, 5000, "the app to start")
    const [a, b] = await settle(() => counter.completed)
    expect(b).toBe(a)
    expect(a).toBeLessThan(16 * MiB)

    // Reading un-stalls the app: the chunked body ends with its last chunk.
    let received = 0
    let tail = ""
    const done = deferred()
    socket.on("data", (c: Buffer) => {
      received += c.length
      tail = (tail + c.subarray(Math.max(0, c.length - 16)).toString("latin1")).slice(-16)
      if (tail.endsWith("\r\n0\r\n\r\n")) done.resolve()
    })
    socket.resume()
    await within(done.promise, 10_000, "the last chunk")
    expect(received).toBeGreaterThan(total)
    expect(counter.completed).toBe(total)
  })
})

// ---------------------------------------------------------------------------
// HTTP-11: an app that does not receive
// ---------------------------------------------------------------------------

/** Waits for `go`, then reads the whole body and answers with its length and SHA-256. */
const hashingApp = (go: Deferred<void>, started: Deferred<void>) =>
  Effect.fnUntraced(function*(scope: EgiScope, receive: Receive, send: Send) {
    if (scope.type !== "http") return yield* unsupportedScope(scope)
    started.resolve()
    yield* Effect.promise(() => go.promise)
    const hash = createHash("sha256")
    let length = 0
    let complete = false
    for (let i = 0; i < 1_000_000; i++) {
      const event = yield* receive
      if (event.type !== "http.request") break
      hash.update(event.body)
      length += event.body.length
      if (!event.moreBody) {
        complete = true
        break
      }
    }
    yield* send({ type: "http.response.start", status: complete ? 200 : 400 })
    yield* send({ type: "http.response.body", body: new TextEncoder().encode(JSON.stringify({ length, sha256: hash.digest("hex") })) })
  })

/** `total` bytes of a repeating, position-dependent pattern, in 64 KiB pieces. */
const uploadChunks = (total: number): { chunks: Array<Buffer>; sha256: string } => {
  const piece = 64 * KiB
  const chunks: Array<Buffer> = []
  const hash = createHash("sha256")
  for (let at = 0; at < total; at += piece) {
    const c = Buffer.alloc(Math.min(piece, total - at))
    for (let i = 0; i < c.length; i += 4) c.writeUInt32LE((at + i) >>> 0, i)
    chunks.push(c)
    hash.update(c)
  }
  return { chunks, sha256: hash.digest("hex") }
}

describe("HTTP-11: receive is the read credit", () => {
  it("HTTP-11: HTTP/2: while the app does not receive, a 16 MiB upload gets less than 1 MiB onto the wire; then it completes intact", async () => {
    const total = 16 * MiB
    const { chunks, sha256 } = uploadChunks(total)
    const go = deferred()
    const started = deferred()
    defer(() => go.resolve())
    const server = await serve(hashingApp(go, started))
    const session = await connect(server.url)
    defer(() => closeSession(session))
    const socket = session.socket
    const before = socket.bytesWritten

    const stream = session.request({ ":method": "POST", ":path": "/upload" })
    const result = collect(stream)
    let handed = 0
    const writer = (async () => {
      for (const chunk of chunks) {
        handed += chunk.length
        if (!stream.write(chunk)) await once(stream, "drain")
      }
      stream.end()
    })()
    await within(started.promise, 5000, "the app to start")

    const onWire = () => socket.bytesWritten - before
    const [a, b] = await settle(onWire)
    expect(b).toBe(a)
    expect(a).toBeLessThan(1 * MiB)
    expect(handed).toBeLessThan(2 * MiB)

    go.resolve()
    await within(writer, 10_000, "the upload")
    const r = await within(result, 10_000, "the response")
    expect(r.status).toBe(200)
    expect(JSON.parse(r.body.toString())).toEqual({ length: total, sha256 })
  })

  it("HTTP-11: HTTP/1.1: while the app does not receive, a 32 MiB upload stalls under 16 MiB (TCP buffers); then it completes intact", async () => {
    const total = 32 * MiB
    const { chunks, sha256 } = uploadChunks(total)
    const go = deferred()
    const started = deferred()
    defer(() => go.resolve())
    const server = await serve(hashingApp(go, started))
    const socket = net.connect(server.port, "127.0.0.1")
    defer(() => void socket.destroy())
    await once(socket, "connect")
    let response = ""
    socket.setEncoding("latin1")
    socket.on("data", (s: string) => (response += s))
    socket.write(`POST /upload HTTP/1.1\r\nhost: test\r\ncontent-length: ${total}\r\n\r\n`)
    const writer = (async () => {
      for (const chunk of chunks) if (!socket.write(chunk)) await once(socket, "drain")
    })()
    await within(started.promise, 5000, "the app to start")

    // bytes the kernel took (bytesWritten counts node's own queue too)
    const accepted = () => socket.bytesWritten - socket.writableLength
    const [a, b] = await settle(accepted)
    expect(b).toBe(a)
    expect(a).toBeLessThan(16 * MiB)

    go.resolve()
    await within(writer, 10_000, "the upload")
    await within(
      (async () => {
        for (let i = 0; i < 500 && !response.includes("}"); i++) await sleep(10)
      })(),
      10_000,
      "the response"
    )
    expect(response.startsWith("HTTP/1.1 200 OK\r\n")).toBe(true)
    const body = response.slice(response.indexOf("\r\n\r\n") + 4)
    expect(JSON.parse(body)).toEqual({ length: total, sha256 })
  })

  it("HTTP-11: HTTP/2: an app that took ONE chunk and waits: a 16 MiB upload gets under 300 KiB onto the client's socket (64 KiB window + 64 KiB buffer + the chunk) and stays there; released, the app reads the rest and the upload arrives intact", async () => {
    const total = 16 * MiB
    const { chunks, sha256 } = uploadChunks(total)

    const go = deferred()
    const tookOne = deferred<number>()
    defer(() => go.resolve())
    const app = Effect.fnUntraced(function*(scope: EgiScope, receive: Receive, send: Send) {
      if (scope.type !== "http") return yield* unsupportedScope(scope)
      const h = createHash("sha256")
      let length = 0
      let complete = false
      const first = yield* receive
      if (first.type === "http.request") {
        h.update(first.body)
        length += first.body.length
        complete = !first.moreBody
      }
      tookOne.resolve(length)
      yield* Effect.promise(() => go.promise)
      for (let i = 0; i < 1_000_000 && !complete; i++) {
        const event = yield* receive
        if (event.type !== "http.request") break
        h.update(event.body)
        length += event.body.length
        complete = !event.moreBody
      }
      yield* send({ type: "http.response.start", status: complete ? 200 : 400 })
      yield* send({ type: "http.response.body", body: new TextEncoder().encode(JSON.stringify({ length, sha256: h.digest("hex") })) })
    })
    const server = await serve(app)
    const session = await connect(server.url)
    defer(() => closeSession(session))
    const socket = session.socket
    const before = socket.bytesWritten

    const stream = session.request({ ":method": "POST", ":path": "/upload" })
    const result = collect(stream)
    const writer = writeChunks(stream, chunks)
    const firstChunk = await within(tookOne.promise, 3000, "the app's first chunk")
    expect(firstChunk).toBeGreaterThan(0)

    await sleep(500)
    const a = socket.bytesWritten - before
    await sleep(200)
    const b = socket.bytesWritten - before
    expect(a).toBeLessThan(300 * KiB)
    expect(b).toBe(a)

    go.resolve()
    await within(writer, 10_000, "the upload")
    const r = await within(result, 10_000, "the response")
    expect(r.status).toBe(200)
    expect(JSON.parse(r.body.toString())).toEqual({ length: total, sha256 })
  })
})
