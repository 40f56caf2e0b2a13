/**
 * Hostile HTTP/2 clients against the header-list limit (spec.md §8.3,
 * RUN-26): node:http2 enforces SETTINGS_MAX_HEADER_LIST_SIZE only once the
 * client has ACKed the SETTINGS that carry it, so a client that sends its
 * request first (as curl does) or never ACKs must still be held to it —
 * also when HPACK turns a few wire bytes into a large decoded list.
 */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import type { EgiScope, Receive, Send } from "../../src/index.ts"
import { unsupportedScope } from "../../src/protocol/unsupported.ts"
import {
  ended,
  frame,
  FrameType,
  headerBlock,
  headerFrames,
  indexedField,
  indexedLiteral,
  type RawH2,
  requestHeaders,
  requestPseudo,
  responseStatus,
  goaway,
  rstCode,
  deferredRawH2,
  H2Error
} from "../support/h2raw.ts"
import { countingApp } from "../support/counting-app.ts"
import { useServers } from "../support/server.ts"

const { serve, defer } = useServers({ drainTimeout: 500 })

const LIMIT = 8192
const { ENHANCE_YOUR_CALM, NO_ERROR, SETTINGS_TIMEOUT } = H2Error

const raw = deferredRawH2(defer)

/** `count` fields `x-big-<i>` of `size` bytes of value each. */
const bigFields = (count: number, size: number): Array<readonly [string, string]> =>
  Array.from({ length: count }, (_, i) => [`x-big-${i}`, "a".repeat(size)] as const)

/** RFC 9113 §6.5.2: the size of a header list is the sum of name + value + 32 octets over its fields. */
const listSize = (fields: ReadonlyArray<readonly [string, string]>): number =>
  fields.reduce((n, [name, value]) => n + name.length + value.length + 32, 0)

const settled = (c: RawH2, stream: number, ms = 3000): Promise<boolean> =>
  c.until((f) => ended(f, stream) || rstCode(f, stream) !== undefined, ms)

describe("RUN-26 HTTP/2 header-list limit, whatever the SETTINGS state", () => {
  it("RUN-26: a 30 kB header list sent before the SETTINGS ACK (HEADERS + CONTINUATION in the first write) gets a complete 431, the app never runs, one log line and an access-log line; the connection still serves a small request", async () => {
    const { app, stats } = countingApp()
    const server = await serve(app, { maxHeaderListSize: LIMIT })
    const fields = [...requestPseudo(server.port, "/big"), ...bigFields(8, 3800)]
    expect(listSize(fields)).toBeGreaterThan(30_000)
    const c = await raw(server.port, [headerFrames(1, headerBlock(fields))])
    expect(await settled(c, 1)).toBe(true)
    expect([responseStatus(c.frames, 1), ended(c.frames, 1)]).toEqual([431, true])
    expect(stats.calls).toBe(0)
    const lines = server.lines.error.filter((l) => l.includes("431") || /header list/i.test(l))
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(/^conn=\d+ stream=1 /)
    expect(server.lines.access.filter((l) => l.includes(" 431 ") && l.includes("end=too-large"))).toHaveLength(1)

    c.send(requestHeaders(3, server.port, "/small"))
    expect(await settled(c, 3)).toBe(true)
    expect([responseStatus(c.frames, 3), rstCode(c.frames, 3)]).toEqual([200, undefined])
    expect(stats.paths).toEqual(["/small"])
  })

  it("RUN-26: a client that never ACKs the SETTINGS and sends one 4 kB field then 100 one-byte references to it (HPACK: ~4 kB on the wire, ~400 kB decoded) gets 431; the app never runs", async () => {
    const { app, stats } = countingApp()
    const server = await serve(app, { maxHeaderListSize: LIMIT })
    const c = await raw(server.port, [], false)
    const block = Buffer.concat([
      headerBlock(requestPseudo(server.port, "/amplified")),
      indexedLiteral("x-amp", "b".repeat(4000)),
      ...Array.from({ length: 100 }, () => indexedField(62))
    ])
    expect(block.length).toBeLessThan(4500)
    c.send(headerFrames(1, block))
    expect(await settled(c, 1)).toBe(true)
    expect([responseStatus(c.frames, 1), ended(c.frames, 1)]).toEqual([431, true])
    expect(stats.calls).toBe(0)
    expect(server.lines.error.filter((l) => /header list/i.test(l))).toHaveLength(1)
  })

  it("RUN-26: a request with a body still to come, over the limit before the ACK, gets 431 then RST_STREAM NO_ERROR (stop sending); the app never runs", async () => {
    const { app, stats } = countingApp()
    const server = await serve(app, { maxHeaderListSize: LIMIT })
    const fields = [...requestPseudo(server.port, "/upload"), ["content-length", "100000"] as const, ...bigFields(4, 3000)]
    const c = await raw(server.port, [headerFrames(1, headerBlock(fields), false)])
    expect(await c.until((f) => rstCode(f, 1) !== undefined, 3000)).toBe(true)
    expect([responseStatus(c.frames, 1), ended(c.frames, 1), rstCode(c.frames, 1)]).toEqual([431, true, NO_ERROR])
    expect(stats.calls).toBe(0)
  })

  it("RUN-26: after the SETTINGS ACK node:http2 stops decoding at the limit: RST_STREAM ENHANCE_YOUR_CALM (11), the app never runs", async () => {
    const { app, stats } = countingApp()
    const server = await serve(app, { maxHeaderListSize: LIMIT })
    const c = await raw(server.port)
    // A PING round trip: the server has read our SETTINGS ACK before the request.
    c.send(Buffer.from([0, 0, 8, 6, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8]))
    expect(await c.until((f) => f.some((x) => x.type === 6 && (x.flags & 1) !== 0), 3000)).toBe(true)
    c.send(headerFrames(1, headerBlock([...requestPseudo(server.port, "/big"), ...bigFields(8, 3800)])))
    expect(await settled(c, 1)).toBe(true)
    expect(rstCode(c.frames, 1)).toBe(ENHANCE_YOUR_CALM)
    expect(stats.calls).toBe(0)
  })

  it("RUN-26: request trailers over the limit, sent before the ACK after a small head: the app reading the body gets http.disconnect (too-large), never the trailers; the client gets 431; one log line", async () => {
    const seen: Array<string> = []
    const app = Effect.fnUntraced(function*(scope: EgiScope, receive: Receive, send: Send) {
      if (scope.type !== "http") return yield* unsupportedScope(scope)
      while (true) {
        const event = yield* receive
        seen.push(event.type === "http.disconnect" ? `disconnect:${event.end}` : event.type)
        if (event.type === "http.disconnect" || event.type === "http.request.trailers") break
        if (event.type === "http.request" && !event.moreBody && event.trailers !== true) break
      }
      if (seen.at(-1)?.startsWith("disconnect") === true) return
      yield* send({ type: "http.response.start", status: 200, headers: [] })
      yield* send({ type: "http.response.body", body: new TextEncoder().encode("ok") })
    })
    const server = await serve(app, { maxHeaderListSize: LIMIT })
    const head = headerFrames(1, headerBlock([...requestPseudo(server.port, "/trailers"), ["te", "trailers"]]), false)
    const data = frame(FrameType.DATA, 0, 1, Buffer.from("body"))
    const trailers = headerFrames(1, headerBlock(bigFields(8, 3800)), true)
    const c = await raw(server.port, [head, data, trailers])
    expect(await settled(c, 1)).toBe(true)
    expect([responseStatus(c.frames, 1), ended(c.frames, 1)]).toEqual([431, true])
    const body = Buffer.concat(c.frames.filter((f) => f.type === FrameType.DATA && f.stream === 1).map((f) => f.payload)).toString()
    expect(body).toBe("Request Header Fields Too Large\n")
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(seen).not.toContain("http.request.trailers")
    expect(seen.at(-1)).toBe("disconnect:too-large")
    expect(server.lines.error.filter((l) => /header list/i.test(l))).toHaveLength(1)
  })

  it("RUN-26: request trailers over the limit after the app completed its response (it answers, then reads): the response stays complete, with no error reset, and the app gets http.disconnect too-large", async () => {
    const seen: Array<string> = []
    const app = Effect.fnUntraced(function*(scope: EgiScope, receive: Receive, send: Send) {
      if (scope.type !== "http") return yield* unsupportedScope(scope)
      yield* send({ type: "http.response.start", status: 200, headers: [] })
      yield* send({ type: "http.response.body", body: new TextEncoder().encode("early") })
      while (true) {
        const event = yield* receive
        seen.push(event.type === "http.disconnect" ? `disconnect:${event.end}` : event.type)
        if (event.type === "http.disconnect" || event.type === "http.request.trailers") return
      }
    })
    const server = await serve(app, { maxHeaderListSize: LIMIT })
    const head = headerFrames(1, headerBlock([...requestPseudo(server.port, "/duplex"), ["te", "trailers"]]), false)
    const c = await raw(server.port, [head], false)
    expect(await c.until((f) => ended(f, 1), 3000)).toBe(true)
    c.send(Buffer.concat([frame(FrameType.DATA, 0, 1, Buffer.from("body")), headerFrames(1, headerBlock(bigFields(8, 3800)), true)]))
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(seen).toEqual(["http.request", "disconnect:too-large"])
    expect([responseStatus(c.frames, 1), ended(c.frames, 1)]).toEqual([200, true])
    expect([undefined, NO_ERROR]).toContain(rstCode(c.frames, 1))
  })

  it("RUN-26: a WebSocket handshake over HTTP/2 (extended CONNECT, RFC 8441) over the limit, from a client that never ACKs, gets 431; the app never runs", async () => {
    const { app, stats } = countingApp()
    const server = await serve(app, { maxHeaderListSize: LIMIT })
    const c = await raw(server.port, [], false)
    const fields = [
      [":method", "CONNECT"],
      [":protocol", "websocket"],
      [":scheme", "http"],
      [":authority", `127.0.0.1:${server.port}`],
      [":path", "/ws"],
      ["sec-websocket-version", "13"],
      ...bigFields(8, 3800)
    ] as const
    c.send(headerFrames(1, headerBlock(fields), false))
    expect(await c.until((f) => ended(f, 1) || rstCode(f, 1) !== undefined, 3000)).toBe(true)
    expect(responseStatus(c.frames, 1)).toBe(431)
    expect(stats.calls).toBe(0)
    expect(server.lines.error.filter((l) => /header list/i.test(l))).toHaveLength(1)
  })

  it("RUN-26: a header list of exactly the limit (pseudo-header fields and 32 octets per field counted) is served before the ACK; one octet more is not", async () => {
    const { app, stats } = countingApp()
    const server = await serve(app, { maxHeaderListSize: LIMIT })
    const base = [...requestPseudo(server.port, "/exact")]
    const pad = LIMIT - listSize(base) - ("x-pad".length + 32)
    const exact = [...base, ["x-pad", "p".repeat(pad)] as const]
    expect(listSize(exact)).toBe(LIMIT)
    const over = [...requestPseudo(server.port, "/extra"), ["x-pad", "p".repeat(pad + 1)] as const]
    const c = await raw(server.port, [headerFrames(1, headerBlock(exact)), headerFrames(3, headerBlock(over))])
    expect(await settled(c, 1)).toBe(true)
    expect(await settled(c, 3)).toBe(true)
    expect([responseStatus(c.frames, 1), responseStatus(c.frames, 3)]).toEqual([200, 431])
    expect(listSize(over)).toBe(LIMIT + 1)
    expect(stats.paths).toEqual(["/exact"])
  })
  it("RUN-26: a client that never ACKs the SETTINGS gets GOAWAY SETTINGS_TIMEOUT (4) once the header timeout has passed since its connection started (RFC 9113 §6.5.3)", async () => {
    const { app } = countingApp()
    const server = await serve(app, { maxHeaderListSize: LIMIT, headerTimeout: 400 })
    const started = Date.now()
    const c = await raw(server.port, [], false)
    expect(await c.until((f) => goaway(f) !== undefined, 3000)).toBe(true)
    expect(goaway(c.frames)!.code).toBe(SETTINGS_TIMEOUT)
    expect(Date.now() - started).toBeGreaterThanOrEqual(380)
    // A client's stall: no error line.
    expect(server.lines.error.filter((l) => l.includes("SETTINGS"))).toEqual([])
  })

  it("RUN-26: a client that keeps sending header lists over the limit before any ACK loses its connection past h2MaxRejectedStreams refusals (GOAWAY ENHANCE_YOUR_CALM), whatever the header timeout", async () => {
    const { app, stats } = countingApp()
    const server = await serve(app, { maxHeaderListSize: LIMIT, h2MaxRejectedStreams: 3, headerTimeout: 60_000 })
    const fields = (path: string) => [...requestPseudo(server.port, path), ...bigFields(8, 3800)]
    const c = await raw(server.port, Array.from({ length: 6 }, (_, i) => headerFrames(1 + 2 * i, headerBlock(fields(`/big${i}`)))), false)
    expect(await c.until((f) => goaway(f) !== undefined, 3000)).toBe(true)
    expect(goaway(c.frames)!.code).toBe(ENHANCE_YOUR_CALM)
    expect(stats.calls).toBe(0)
  })
})
