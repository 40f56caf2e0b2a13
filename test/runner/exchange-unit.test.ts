/**
 * Content-Length policing and the body limit at the Exchange level
 * (spec.md §4.3 HTTP-7, §4.4 HTTP-8, §8.3 RUN-8).
 *
 * On the wire node:http2 polices an HTTP/2 body's Content-Length itself
 * (spec.md §8.6) and node:http frames an HTTP/1.1 body by it, so the runner's
 * own check never gets a wrong-length body there. Here a real `H1Exchange`
 * is driven in-process: the request body is a `PassThrough` that yields
 * whatever the test writes, the response a recording fake, and the host
 * records what the exchange reports as a remote error.
 */
import { Effect } from "effect"
import { EventEmitter } from "node:events"
import type { IncomingMessage, ServerResponse } from "node:http"
import { PassThrough } from "node:stream"
import { describe, expect, it } from "vitest"
import type { RemoteProtocolError } from "../../src/protocol/errors.ts"
import type { InboundEvent } from "../../src/protocol/events.ts"
import type { HttpScope } from "../../src/protocol/scope.ts"
import type { Exchange, ExchangeHost } from "../../src/runner/exchange.ts"
import { H1Exchange } from "../../src/runner/h1-exchange.ts"

/** A ServerResponse stand-in: records what the exchange puts on the "wire". */
class FakeResponse extends EventEmitter {
  writableFinished = false
  destroyed = false
  writableLength = 0
  readonly calls: Array<string> = []
  writeHead(status: number): this {
    this.calls.push(`writeHead ${status}`)
    return this
  }
  write(chunk: Uint8Array): boolean {
    this.calls.push(`write ${chunk.length}`)
    return true
  }
  end(chunk?: Uint8Array): this {
    this.calls.push(`end ${chunk?.length ?? 0}`)
    this.writableFinished = true
    return this
  }
  destroy(): this {
    this.calls.push("destroy")
    this.destroyed = true
    this.emit("close")
    return this
  }
}

const scope = {
  type: "http",
  egi: { version: "0.1" },
  httpVersion: "1.1",
  method: "POST",
  scheme: "http",
  authority: "test",
  path: "/",
  rawPath: "/",
  queryString: "",
  rootPath: "",
  headers: [],
  client: null,
  server: null,
  connectionId: 1,
  streamId: 1,
  extensions: {},
  state: {}
} as unknown as HttpScope

interface Rig {
  readonly ex: Exchange
  readonly body: PassThrough
  readonly res: FakeResponse
  readonly remote: Array<RemoteProtocolError>
}

/** An H1Exchange over a PassThrough body; `contentLength` -1 = none declared. */
const rig = (contentLength: number, maxBodySize = 1024 * 1024): Rig => {
  const body = new PassThrough()
  const res = new FakeResponse()
  const remote: Array<RemoteProtocolError> = []
  const host: ExchangeHost = {
    maxBodySize,
    writeBufferSize: 256 * 1024,
    maxHeaderListSize: 65536,
    onRemoteError: (_ex, error) => void remote.push(error)
  }
  const ex = new H1Exchange(
    scope,
    host,
    body as unknown as IncomingMessage,
    res as unknown as ServerResponse,
    contentLength,
    false
  )
  return { ex, body, res, remote }
}

/** One `receive`, bounded: a receive that never answers fails the test. */
const receiveOnce = (ex: Exchange): Promise<InboundEvent> =>
  Effect.runPromise(
    ex.receive.pipe(
      Effect.timeoutOrElse({
        duration: 1000,
        orElse: () => Effect.die(new Error("receive did not answer within 1 s"))
      })
    )
  )

/**
 * Writes `chunks` into the body one per macrotask (so that `receive` waits
 * for them as it would for a socket), then ends it; meanwhile receives until
 * http.disconnect or moreBody:false (at most 50 events).
 */
const drive = async (r: Rig, chunks: ReadonlyArray<number>): Promise<Array<InboundEvent>> => {
  const feeder = (async () => {
    for (const n of chunks) {
      await new Promise((resolve) => setTimeout(resolve, 2))
      r.body.write(Buffer.alloc(n, 0x78))
    }
    await new Promise((resolve) => setTimeout(resolve, 2))
    // node:http marks a message complete when its framing ended, before the body's end.
    ;(r.body as PassThrough & { complete?: boolean }).complete = true
    r.body.end()
  })()
  const events: Array<InboundEvent> = []
  for (let i = 0; i < 50; i++) {
    const event = await receiveOnce(r.ex)
    events.push(event)
    if (event.type === "http.disconnect") break
    if (event.type === "http.request" && !event.moreBody) break
  }
  await feeder
  return events
}

const delivered = (events: ReadonlyArray<InboundEvent>): number =>
  events.reduce((n, e) => n + (e.type === "http.request" ? e.body.length : 0), 0)
const complete = (events: ReadonlyArray<InboundEvent>): boolean =>
  events.some((e) => e.type === "http.request" && !e.moreBody)

describe("Exchange: request body length (in-process)", () => {
  it("HTTP-7: content-length 5, body of 10 (in chunks 3+3+4): at most 5 bytes delivered, never moreBody:false, ends in http.disconnect; remote error ContentLengthMismatch (400)", async () => {
    const r = rig(5)
    const events = await drive(r, [3, 3, 4])
    expect(delivered(events)).toBeLessThanOrEqual(5)
    expect(complete(events)).toBe(false)
    expect(events.at(-1)).toEqual({ type: "http.disconnect", connectionId: 1, streamId: 1, end: "malformed" })
    expect(r.remote.map((e) => [e.reason, e.status])).toEqual([["ContentLengthMismatch", 400]])
    expect(r.ex.endReason).toBe("malformed")
  })

  it("HTTP-7: content-length 5, body of 10 in one piece: nothing of it delivered, ends in http.disconnect; remote error ContentLengthMismatch", async () => {
    const r = rig(5)
    const events = await drive(r, [10])
    expect(delivered(events)).toBe(0)
    expect(complete(events)).toBe(false)
    expect(events.at(-1)?.type).toBe("http.disconnect")
    expect(r.remote.map((e) => e.reason)).toEqual(["ContentLengthMismatch"])
  })

  it("HTTP-7: content-length 10, body of 5 then end (underrun): never moreBody:false, ends in http.disconnect; remote error ContentLengthMismatch (400)", async () => {
    const r = rig(10)
    const events = await drive(r, [2, 3])
    expect(delivered(events)).toBeLessThanOrEqual(5)
    expect(complete(events)).toBe(false)
    expect(events.at(-1)).toEqual({ type: "http.disconnect", connectionId: 1, streamId: 1, end: "malformed" })
    expect(r.remote.map((e) => [e.reason, e.status])).toEqual([["ContentLengthMismatch", 400]])
    expect(r.ex.endReason).toBe("malformed")
  })

  it("HTTP-7: content-length 5, exactly 5 bytes then end: all 5 delivered, then moreBody:false; no remote error", async () => {
    const r = rig(5)
    const events = await drive(r, [2, 3])
    expect(delivered(events)).toBe(5)
    expect(events.at(-1)).toMatchObject({ type: "http.request", moreBody: false })
    expect(events.every((e) => e.type === "http.request" && e.connectionId === 1 && e.streamId === 1)).toBe(true)
    expect(r.remote).toEqual([])
    expect(r.ex.endReason).toBeUndefined()
  })

  it("HTTP-8: after an HTTP-7 disconnect, every later receive yields the identical http.disconnect (and reports no second error)", async () => {
    const r = rig(5)
    const events = await drive(r, [3, 3, 4])
    const first = events.at(-1)!
    expect(first.type).toBe("http.disconnect")
    for (let i = 0; i < 3; i++) expect(await receiveOnce(r.ex)).toStrictEqual(first)
    expect(r.remote).toHaveLength(1)
  })

  it("HTTP-8: after an underrun disconnect, receive yields the identical http.disconnect again", async () => {
    const r = rig(10)
    const events = await drive(r, [5])
    const first = events.at(-1)!
    expect(first.type).toBe("http.disconnect")
    expect(await receiveOnce(r.ex)).toStrictEqual(first)
    expect(await receiveOnce(r.ex)).toStrictEqual(first)
    expect(r.remote).toHaveLength(1)
  })

  it("RUN-8: maxBodySize 8, no content-length, 20 bytes (chunks of 5): at most 8 bytes delivered, never moreBody:false, http.disconnect; remote error BodyTooLarge (413); send then fails with StreamClosedError", async () => {
    const r = rig(-1, 8)
    const events = await drive(r, [5, 5, 5, 5])
    expect(delivered(events)).toBeLessThanOrEqual(8)
    expect(complete(events)).toBe(false)
    expect(events.at(-1)).toEqual({ type: "http.disconnect", connectionId: 1, streamId: 1, end: "too-large" })
    expect(r.remote.map((e) => [e.reason, e.status])).toEqual([["BodyTooLarge", 413]])
    expect(r.ex.endReason).toBe("too-large")
    const sent = await Effect.runPromise(Effect.flip(r.ex.send({ type: "http.response.start", status: 200 })))
    expect(sent._tag).toBe("StreamClosedError")
  })
})
