/**
 * Hostile HTTP/2 clients against the per-connection limits of spec.md §8.3
 * that node:http2 enforces from runner options (RUN-27) and the SETTINGS
 * the server advertises (RUN-28): each limit is set low, a frame-level
 * client crosses it, and the connection (or stream) is refused — while the
 * same traffic under the default passes, so it is the option that acts.
 */
import { ConfigProvider, Effect } from "effect"
import { describe, expect, it } from "vitest"
import type { EgiScope, Receive, Send } from "../../src/index.ts"
import { unsupportedScope } from "../../src/protocol/unsupported.ts"
import { optionsConfig } from "../../src/runner/config.ts"
import type { RunnerOptions } from "../../src/runner/options.ts"
import {
  ended,
  Flag,
  frame,
  FrameType,
  goaway,
  headerBlock,
  headerFrames,
  indexedField,
  indexedLiteral,
  type RawH2,
  requestHeaders,
  requestPseudo,
  responseStatus,
  rstCode,
  deferredRawH2,
  H2Error
} from "../support/h2raw.ts"
import { countingApp } from "../support/counting-app.ts"
import { useServers } from "../support/server.ts"

const { serve, defer } = useServers({ drainTimeout: 500 })

const { PROTOCOL_ERROR, FLOW_CONTROL_ERROR, FRAME_SIZE_ERROR, ENHANCE_YOUR_CALM, COMPRESSION_ERROR } = H2Error

/** An app that reads nothing and holds its stream open until the test ends; `/ok` it answers 200. */
const holdingApp = () => {
  const stats = { calls: 0 }
  const app = Effect.fnUntraced(function*(scope: EgiScope, _receive: Receive, send: Send) {
    if (scope.type !== "http") return yield* unsupportedScope(scope)
    stats.calls++
    if (scope.path === "/ok") {
      yield* send({ type: "http.response.start", status: 200, headers: [] })
      return yield* send({ type: "http.response.body", body: new TextEncoder().encode("ok") })
    }
    yield* Effect.never
  })
  return { app, stats }
}

const raw = deferredRawH2(defer)

/** A PING round trip: everything sent before it (our SETTINGS ACK included) has been read by the server. */
const roundTrip = async (c: RawH2, id: number): Promise<boolean> => {
  const payload = Buffer.alloc(8)
  payload.writeUInt32BE(id, 4)
  c.send(frame(FrameType.PING, 0, 0, payload))
  return c.until((f) => f.some((x) => x.type === FrameType.PING && (x.flags & Flag.ACK) !== 0 && x.payload.equals(payload)), 3000)
}

/** The connection ended: GOAWAY or the socket closed. */
const gone = (c: RawH2, ms = 3000): Promise<boolean> => c.until((f) => goaway(f) !== undefined, ms)

const rst = (stream: number, code: number): Buffer => {
  const p = Buffer.alloc(4)
  p.writeUInt32BE(code)
  return frame(FrameType.RST_STREAM, 0, stream, p)
}

const SETTINGS = { HEADER_TABLE_SIZE: 1, INITIAL_WINDOW_SIZE: 4, MAX_FRAME_SIZE: 5 } as const

describe("RUN-27 HTTP/2 session limits against hostile clients", () => {
  /** `n` streams opened and at once reset by the client (HEADERS without END_STREAM, RST_STREAM CANCEL), in one write. */
  const rapidReset = (port: number, n: number): Buffer =>
    Buffer.concat(Array.from({ length: n }, (_, i) => [requestHeaders(2 * i + 1, port, "/r", [], false), rst(2 * i + 1, 8)]).flat())

  it("RUN-27: rapid reset — with h2StreamResetBurst 10 and h2StreamResetRate 1, 50 streams opened and reset at once end the connection with GOAWAY; under the defaults (1000, 33/s) the same 50 do not", async () => {
    const strict = await serve(holdingApp().app, { h2StreamResetBurst: 10, h2StreamResetRate: 1 })
    const c = await raw(strict.port)
    c.send(rapidReset(strict.port, 50))
    expect(await gone(c)).toBe(true)
    // Another connection is served.
    const other = await raw(strict.port, [requestHeaders(1, strict.port, "/ok")])
    expect(await other.until((f) => ended(f, 1), 3000)).toBe(true)
    expect(responseStatus(other.frames, 1)).toBe(200)

    const lenient = await serve(holdingApp().app)
    const d = await raw(lenient.port)
    d.send(rapidReset(lenient.port, 50))
    expect(await roundTrip(d, 1)).toBe(true)
    expect(goaway(d.frames)).toBeUndefined()
  })

  it("RUN-27: h2MaxHeaderListPairs 8 — a request of 20 fields is reset with ENHANCE_YOUR_CALM before the ACK as after it, the app never runs; 8 fields are served", async () => {
    const { app, stats } = countingApp()
    const server = await serve(app, { h2MaxHeaderListPairs: 8 })
    const many = Array.from({ length: 16 }, (_, i) => [`x-f${i}`, "v"] as const)
    const c = await raw(server.port, [requestHeaders(1, server.port, "/many", many)])
    expect(await c.until((f) => rstCode(f, 1) !== undefined || ended(f, 1), 3000)).toBe(true)
    expect(rstCode(c.frames, 1)).toBe(ENHANCE_YOUR_CALM)
    expect(await roundTrip(c, 1)).toBe(true)
    c.send(requestHeaders(3, server.port, "/many", many))
    c.send(requestHeaders(5, server.port, "/few", [["x-a", "1"], ["x-b", "2"], ["x-c", "3"], ["x-d", "4"]]))
    expect(await c.until((f) => (rstCode(f, 3) !== undefined || ended(f, 3)) && ended(f, 5), 3000)).toBe(true)
    expect([rstCode(c.frames, 3), responseStatus(c.frames, 5)]).toEqual([ENHANCE_YOUR_CALM, 200])
    expect(stats.calls).toBe(1)
  })

  it("RUN-27: h2MaxInvalidFrames 2 — a client that keeps sending invalid frames (requests without :path, each a stream error) loses the connection; under the default it keeps it", async () => {
    const invalid = (port: number): Buffer =>
      Buffer.concat(
        Array.from({ length: 6 }, (_, i) =>
          frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, 2 * i + 1, headerBlock(requestPseudo(port, "/").filter(([name]) => name !== ":path"))))
      )
    const strict = await serve(holdingApp().app, { h2MaxInvalidFrames: 2 })
    const c = await raw(strict.port)
    c.send(invalid(strict.port))
    expect(await gone(c)).toBe(true)

    const lenient = await serve(holdingApp().app)
    const d = await raw(lenient.port)
    d.send(invalid(lenient.port))
    expect(await roundTrip(d, 2)).toBe(true)
    expect(goaway(d.frames)).toBeUndefined()
    expect(rstCode(d.frames, 1)).toBe(PROTOCOL_ERROR)
  })
})

describe("RUN-27 HTTP/2 session memory and streams refused in a row", () => {
  /** Answers every request with a 2 kB field and an 8 kB body, which queue in node:http2 while the client reads nothing. */
  const heavyApp = Effect.fnUntraced(function*(scope: EgiScope, _receive: Receive, send: Send) {
    if (scope.type !== "http") return yield* unsupportedScope(scope)
    yield* send({ type: "http.response.start", status: 200, headers: [["x-pad", "p".repeat(2000)]] })
    yield* send({ type: "http.response.body", body: new Uint8Array(8000) })
  })
  const REQUESTS = 600

  /**
   * A client that stops reading and sends REQUESTS requests in rounds of
   * 100, then reads again: the server's responses pile up in its session.
   * Resolves with the RST_STREAM codes it got per stream and whether the
   * connection survived (a PING answered afterwards).
   */
  const flood = async (port: number): Promise<{ readonly resets: Map<number, number>; readonly served: number; readonly alive: boolean }> => {
    const c = await raw(port)
    c.socket.pause()
    for (let round = 0; round < REQUESTS / 100; round++) {
      c.send(Buffer.concat(Array.from({ length: 100 }, (_, i) => requestHeaders(1 + 2 * (round * 100 + i), port, "/x"))))
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    await new Promise((resolve) => setTimeout(resolve, 300))
    c.socket.resume()
    const streams = Array.from({ length: REQUESTS }, (_, i) => 1 + 2 * i)
    await c.until((f) => streams.every((s) => ended(f, s) || rstCode(f, s) !== undefined), 5000)
    const resets = new Map<number, number>()
    for (const s of streams) {
      const code = rstCode(c.frames, s)
      if (code !== undefined) resets.set(code, (resets.get(code) ?? 0) + 1)
    }
    const served = streams.filter((s) => responseStatus(c.frames, s) === 200).length
    return { resets, served, alive: !c.closed() && await roundTrip(c, 9) }
  }

  it("RUN-27: h2MaxSessionMemory 1 (MB) — a client that stops reading while it opens 600 streams gets RST_STREAM ENHANCE_YOUR_CALM on those past the memory, the rest served, the connection kept (h2MaxRejectedStreams high); under the default (10 MB) all 600 are served", async () => {
    const tight = await serve(heavyApp, { h2MaxSessionMemory: 1, h2MaxRejectedStreams: 1_000_000, maxConcurrentStreams: 100_000, accessLog: false })
    const t = await flood(tight.port)
    expect(t.resets.get(ENHANCE_YOUR_CALM) ?? 0).toBeGreaterThan(0)
    expect(t.served).toBeGreaterThan(0)
    expect(t.served + (t.resets.get(ENHANCE_YOUR_CALM) ?? 0)).toBe(REQUESTS)
    expect(t.alive).toBe(true)

    const roomy = await serve(heavyApp, { maxConcurrentStreams: 100_000, accessLog: false })
    const r = await flood(roomy.port)
    expect([r.served, r.resets.size, r.alive]).toEqual([REQUESTS, 0, true])
  })

  it("RUN-27: h2MaxRejectedStreams 5 — the same client, past 5 streams refused in a row for lack of memory, loses the connection (one log line); another connection is served", async () => {
    const server = await serve(heavyApp, { h2MaxSessionMemory: 1, h2MaxRejectedStreams: 5, maxConcurrentStreams: 100_000, accessLog: false })
    const f = await flood(server.port)
    expect(f.alive).toBe(false)
    expect(server.lines.error.filter((l) => l.includes("HTTP/2 protocol error from 127.0.0.1"))).toHaveLength(1)
    const other = await raw(server.port, [requestHeaders(1, server.port, "/ok")])
    expect(await other.until((fr) => ended(fr, 1), 3000)).toBe(true)
    expect(responseStatus(other.frames, 1)).toBe(200)
  })
})

describe("RUN-27 PING flood (no option: nghttp2's own bound)", () => {
  it("RUN-27: a client that reads nothing and sends 200 000 PINGs loses the connection (nghttp2 ends a session whose queued PING ACKs pile up); another connection is served", async () => {
    const server = await serve(countingApp().app)
    const c = await raw(server.port)
    c.socket.pause()
    const batch = Buffer.concat(Array.from({ length: 1000 }, () => frame(FrameType.PING, 0, 0, Buffer.alloc(8))))
    for (let i = 0; i < 200 && !c.closed(); i++) {
      c.send(batch)
      await new Promise((resolve) => setTimeout(resolve, 2))
    }
    expect(await c.until(() => false, 2000).then(() => c.closed())).toBe(true)
    const other = await raw(server.port, [requestHeaders(1, server.port, "/ok")])
    expect(await other.until((f) => ended(f, 1), 3000)).toBe(true)
    expect(responseStatus(other.frames, 1)).toBe(200)
  })
})

describe("RUN-28 HTTP/2 SETTINGS from options, advertised and held", () => {
  it("RUN-28: the server's SETTINGS carry h2InitialWindowSize, h2MaxFrameSize and h2HeaderTableSize; the defaults are node:http2's (65535, 16384, 4096)", async () => {
    const set = await serve(countingApp().app, { h2InitialWindowSize: 1000, h2MaxFrameSize: 32768, h2HeaderTableSize: 256 })
    const c = await raw(set.port)
    expect([SETTINGS.INITIAL_WINDOW_SIZE, SETTINGS.MAX_FRAME_SIZE, SETTINGS.HEADER_TABLE_SIZE].map((id) => c.settings.get(id))).toEqual([1000, 32768, 256])
    const plain = await serve(countingApp().app)
    const d = await raw(plain.port)
    const got = [SETTINGS.INITIAL_WINDOW_SIZE, SETTINGS.MAX_FRAME_SIZE, SETTINGS.HEADER_TABLE_SIZE].map((id) => d.settings.get(id) ?? "default")
    expect(got.map((v, i) => v === "default" ? [65535, 16384, 4096][i] : v)).toEqual([65535, 16384, 4096])
  })

  it("RUN-28: h2InitialWindowSize 1000 — after the ACK, a request body past 1000 bytes that the app has not read is a flow-control error", async () => {
    const { app, stats } = holdingApp()
    const server = await serve(app, { h2InitialWindowSize: 1000 })
    const c = await raw(server.port)
    expect(await roundTrip(c, 1)).toBe(true)
    c.send(requestHeaders(1, server.port, "/upload", [], false))
    c.send(frame(FrameType.DATA, 0, 1, Buffer.alloc(2000, 1)))
    expect(await c.until((f) => rstCode(f, 1) !== undefined || goaway(f) !== undefined, 3000)).toBe(true)
    expect(rstCode(c.frames, 1) ?? goaway(c.frames)?.code).toBe(FLOW_CONTROL_ERROR)
    expect(stats.calls).toBeLessThanOrEqual(1)
  })

  it("RUN-28: h2MaxFrameSize 32768 — after the ACK a 20000-byte DATA frame is accepted; under the default (16384) it is a FRAME_SIZE_ERROR", async () => {
    const big = await serve(countingApp().app, { h2MaxFrameSize: 32768 })
    const c = await raw(big.port)
    expect(await roundTrip(c, 1)).toBe(true)
    c.send(Buffer.concat([requestHeaders(1, big.port, "/up", [["content-length", "20000"]], false), frame(FrameType.DATA, Flag.END_STREAM, 1, Buffer.alloc(20000, 1))]))
    expect(await c.until((f) => ended(f, 1) || goaway(f) !== undefined, 3000)).toBe(true)
    expect([responseStatus(c.frames, 1), goaway(c.frames)]).toEqual([200, undefined])

    const plain = await serve(countingApp().app)
    const d = await raw(plain.port)
    expect(await roundTrip(d, 1)).toBe(true)
    d.send(Buffer.concat([requestHeaders(1, plain.port, "/up", [["content-length", "20000"]], false), frame(FrameType.DATA, Flag.END_STREAM, 1, Buffer.alloc(20000, 1))]))
    expect(await gone(d)).toBe(true)
    expect(goaway(d.frames)?.code).toBe(FRAME_SIZE_ERROR)
  })

  it("RUN-28: h2HeaderTableSize 0 — after the ACK nothing enters the HPACK dynamic table, so a block that refers back to a field it indexed (amplification) is a COMPRESSION_ERROR; the app never runs", async () => {
    const { app, stats } = countingApp()
    const server = await serve(app, { h2HeaderTableSize: 0 })
    const c = await raw(server.port)
    expect(await roundTrip(c, 1)).toBe(true)
    const block = Buffer.concat([
      headerBlock(requestPseudo(server.port, "/amplified")),
      indexedLiteral("x-amp", "b".repeat(1000)),
      ...Array.from({ length: 20 }, () => indexedField(62))
    ])
    c.send(headerFrames(1, block))
    expect(await gone(c)).toBe(true)
    expect(goaway(c.frames)?.code).toBe(COMPRESSION_ERROR)
    expect(stats.calls).toBe(0)
  })
})

describe("RUN-29 every HTTP/2 limit is an option in its range", () => {
  it("RUN-29: optionsConfig reads each HTTP/2 limit from its EGI_H2_* key in the option's units, and refuses one out of range with a ConfigError", async () => {
    const parse = (env: Record<string, string>) => Effect.runPromise(Effect.result(optionsConfig.parse(ConfigProvider.fromEnv({ env }))))
    const ok = await parse({ EGI_H2_MAX_FRAME_SIZE: "32768", EGI_H2_STREAM_RESET_BURST: "10", EGI_H2_MAX_SESSION_MEMORY: "2", EGI_WRITE_BUFFER_SIZE: "1024" })
    expect(ok._tag === "Success" ? ok.success : ok.failure).toEqual({ h2MaxFrameSize: 32768, h2StreamResetBurst: 10, h2MaxSessionMemory: 2, writeBufferSize: 1024 })
    for (const env of [{ EGI_H2_MAX_FRAME_SIZE: "100" }, { EGI_H2_MAX_HEADER_LIST_PAIRS: "3" }, { EGI_H2_INITIAL_WINDOW_SIZE: "2147483648" }, { EGI_H2_STREAM_RESET_RATE: "0" }]) {
      const bad = await parse(env)
      expect(bad._tag, JSON.stringify(env)).toBe("Failure")
    }
  })

  it("RUN-29: start refuses each HTTP/2 limit and the write buffer out of range with ServeError Options", async () => {
    const { listen } = await import("../support/server.ts")
    const bad: ReadonlyArray<Partial<RunnerOptions>> = [
      { h2StreamResetBurst: 0 },
      { h2StreamResetRate: 2 ** 32 },
      { h2MaxSessionMemory: 0 },
      { h2MaxHeaderListPairs: 3 },
      { h2MaxInvalidFrames: -1 },
      { h2MaxRejectedStreams: 1.5 },
      { h2InitialWindowSize: 2 ** 31 },
      { h2MaxFrameSize: 16383 },
      { h2MaxFrameSize: 2 ** 24 },
      { h2HeaderTableSize: 2 ** 32 },
      { writeBufferSize: -1 }
    ]
    for (const options of bad) {
      await expect(listen(countingApp().app, options), JSON.stringify(options)).rejects.toMatchObject({ _tag: "ServeError", reason: "Options" })
    }
  })
})
