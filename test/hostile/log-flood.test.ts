/**
 * Logs under attack (spec.md §8.5): 1,000 bad connections from 127.0.0.1 —
 * bare connect/close, resets after the preface, garbage after the preface,
 * PING floods, garbage instead of an HTTP/1.1 request — cost the log a
 * bounded number of lines (RUN-38); resets are debug lines, not errors
 * (RUN-36); each protocol error is named by its cause (RUN-37).
 */
import { Context, Effect, Exit, References, Scope } from "effect"
import * as net from "node:net"
import { describe, expect, it } from "vitest"
import type { App } from "../../src/protocol/app.ts"
import { start } from "../../src/runner/server.ts"
import { frame, FrameType } from "../support/h2raw.ts"
import { memoryLogger, withLogger } from "../support/server.ts"

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1")
const SETTINGS = frame(FrameType.SETTINGS, 0, 0)
const PINGS = Buffer.concat(Array.from({ length: 20_000 }, () => frame(FrameType.PING, 0, 0, Buffer.alloc(8))))

const app: App = (_scope, _receive, send) =>
  Effect.gen(function*() {
    yield* send({ type: "http.response.start", status: 200 })
    yield* send({ type: "http.response.body", body: new Uint8Array(0) })
  })

/** Serves `app` with the memory logger at `level`; `close` runs the drain, which sums up what is pending. */
const serveAt = async (level: "Info" | "Debug") => {
  const { logger, lines } = memoryLogger()
  const scope = Effect.runSync(Scope.make())
  const context = Context.add(withLogger(Context.empty(), logger), References.MinimumLogLevel, level)
  const server = await Effect.runPromise(Scope.provide(scope)(Effect.provide(start(app, { port: 0, log: "effect", drainTimeout: 1000 }), context)))
  return { port: server.port, lines, close: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
}

/** One bad connection: writes `bytes` (if any), then ends (FIN) or resets it (RST) after `ms`; resolves once it closed. */
const bad = (port: number, bytes: Buffer | undefined, how: "end" | "reset", ms = 30): Promise<void> =>
  new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1", () => {
      if (bytes !== undefined) socket.write(bytes)
      setTimeout(() => (how === "reset" ? socket.resetAndDestroy() : socket.end()), ms)
    })
    socket.on("data", () => {})
    socket.on("error", () => {})
    socket.on("close", () => resolve())
    socket.setTimeout(5000, () => socket.destroy())
  })

/** `count` connections of `kind`, 50 at a time. */
const many = async (count: number, one: () => Promise<void>): Promise<void> => {
  for (let i = 0; i < count; i += 50) await Promise.all(Array.from({ length: Math.min(50, count - i) }, one))
}

/** The counts a line sums up (`3× HTTP/2 …`), by cause; a full line counts 1 for its cause. */
const counted = (lines: ReadonlyArray<string>, cause: string): number =>
  lines.reduce((n, l) => {
    const summed = new RegExp(`(\\d+)× [^,]*${cause}`).exec(l)
    return n + (summed !== null ? Number(summed[1]) : !l.includes(" more in the last second") && l.includes(cause) ? 1 : 0)
  }, 0)

describe("1,000 bad connections (the log under attack)", () => {
  it("RUN-38 RUN-37: bare connects, resets, garbage and PING floods over both protocols: at most 12 error lines, each cause named, and the counts add up", async () => {
    const s = await serveAt("Info")
    try {
      await many(200, () => bad(s.port, undefined, "end"))
      await many(200, () => bad(s.port, Buffer.concat([PREFACE, SETTINGS]), "reset"))
      await many(200, () => bad(s.port, Buffer.concat([PREFACE, SETTINGS, Buffer.from("garbage, not a frame header")]), "end", 100))
      await many(200, () => bad(s.port, Buffer.concat([PREFACE, SETTINGS, PINGS]), "end", 100))
      await many(200, () => bad(s.port, Buffer.from("GARBAGE / HTTP/1.1\r\n\r\n"), "end", 100))
    } finally {
      await s.close()
    }
    const errors = s.lines.error
    console.log(`1,000 bad connections: ${errors.length} error, ${s.lines.info.length} info lines\n${errors.join("\n")}`)
    expect(errors.length).toBeLessThanOrEqual(12)
    expect(errors.join("\n")).not.toContain("ECONNRESET")
    // RUN-37: every cause named, with its count; the first line of a run in full, with the peer.
    expect(counted(errors, "NGHTTP2_ERR_PROTO")).toBe(200)
    expect(counted(errors, "NGHTTP2_ERR_FLOODED")).toBe(200)
    expect(counted(errors, "HPE_INVALID_METHOD")).toBe(200)
    expect(errors[0]).toMatch(/from 127\.0\.0\.1:\d+: /)
  }, 30_000)

  it("RUN-36: 200 clients that reset their HTTP/2 connection log no error line; at Debug level a bounded number of debug lines name ECONNRESET", async () => {
    const s = await serveAt("Debug")
    try {
      await many(200, () => bad(s.port, Buffer.concat([PREFACE, SETTINGS]), "reset"))
    } finally {
      await s.close()
    }
    expect(s.lines.error).toEqual([])
    const resets = s.lines.debug.filter((l) => l.includes("ECONNRESET"))
    expect(resets.length).toBeGreaterThan(0)
    expect(resets.length).toBeLessThanOrEqual(6)
    // A reset that lands before the connection's protocol is known closes it unlogged (nothing was served): at most 200.
    expect(counted(resets, "ECONNRESET")).toBeGreaterThan(100)
    expect(counted(resets, "ECONNRESET")).toBeLessThanOrEqual(200)
  }, 15_000)
})
