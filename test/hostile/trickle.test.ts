/**
 * Trickling clients (spec.md §8.3): a request body sent a byte at a time
 * while the app waits for it ends under the minimum request rate (RUN-32),
 * over HTTP/1.1 (408) and HTTP/2 (408 or RST_STREAM CANCEL), the app
 * getting `http.disconnect` `timeout`; an HTTP/2 connection that moves
 * bytes (PINGs, a header block trickled) without any stream open gets
 * GOAWAY after the idle timeout (RUN-33). A client at a decent rate is
 * served meanwhile.
 */
import * as net from "node:net"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import type { App } from "../../src/protocol/app.ts"
import type { InboundEvent } from "../../src/protocol/events.ts"
import { unsupportedScope } from "../../src/protocol/unsupported.ts"
import { sleep } from "../support/async.ts"
import { h2close, h2connect, h2request, rawHttp, statusOf } from "../support/clients.ts"
import { Flag, frame, FrameType, goaway, headerBlock, rawH2, rstCode } from "../support/h2raw.ts"
import { withServer } from "../support/server.ts"

/** Reads the whole body, then answers 200 with its length; records the event that ended a body early. */
const endings: Array<string> = []
const app: App = (scope, receive, send) => {
  if (scope.type !== "http") return unsupportedScope(scope)
  return Effect.gen(function*() {
    let n = 0
    for (;;) {
      const event: InboundEvent = yield* receive
      if (event.type === "http.disconnect") return void endings.push(`${scope.path} ${event.end}`)
      if (event.type !== "http.request") continue
      n += event.body.length
      if (!event.moreBody) break
    }
    yield* send({ type: "http.response.start", status: 200 })
    yield* send({ type: "http.response.body", body: new TextEncoder().encode(String(n)) })
  })
}

const options = { minRequestRate: 100, minRequestRateWindow: 1000 } as const

/** An HTTP/1.1 POST of `length` bytes, `chunk` bytes every `everyMs`: the raw response and ms until it (given up after 5 s). */
const post = (port: number, path: string, length: number, chunk: number, everyMs: number): Promise<{ text: string; ms: number }> =>
  new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1")
    const t0 = Date.now()
    let text = ""
    let sent = 0
    let timer: NodeJS.Timeout | undefined
    socket.on("error", () => {})
    let settled = false
    const done = (): void => {
      if (settled) return
      settled = true
      clearInterval(timer)
      socket.destroy()
      resolve({ text, ms: Date.now() - t0 })
    }
    socket.on("data", (d: Buffer) => {
      text += d.toString("latin1")
      if (/\r\n\r\n\d*$/.test(text) && statusOf(text) !== undefined) setTimeout(done, 20)
    })
    socket.on("close", done)
    setTimeout(done, 5000)
    socket.on("connect", () => {
      socket.write(`POST ${path} HTTP/1.1\r\nhost: x\r\ncontent-length: ${length}\r\n\r\n`)
      timer = setInterval(() => {
        const n = Math.min(chunk, length - sent)
        if (n <= 0) return clearInterval(timer)
        socket.write(Buffer.alloc(n, 0x61))
        sent += n
      }, everyMs)
    })
  })

describe("trickling clients (spec.md §8.3)", () => {
  it("RUN-32: an HTTP/1.1 body trickled at 5 bytes/s gets 408 after one rate window (minRequestRate 100 bytes/s over 1 s), the app sees http.disconnect timeout, the access log end=timeout; a body at 500 bytes/s is served", async () => {
    endings.length = 0
    await withServer(app, options, async (server) => {
      const [slow, fair] = await Promise.all([post(server.port, "/slow", 1000, 1, 200), post(server.port, "/fair", 1000, 50, 100)])
      console.log(`RUN-32 HTTP/1.1: trickled body answered after ${slow.ms} ms`)
      expect(statusOf(slow.text)).toBe(408)
      expect(slow.ms).toBeGreaterThanOrEqual(1000)
      expect(slow.ms).toBeLessThan(2500)
      expect(statusOf(fair.text)).toBe(200)
      expect(fair.text.endsWith("1000")).toBe(true)
      expect(endings).toEqual(["/slow timeout"])
      expect(server.lines.access.some((l) => l.includes("/slow") && l.includes("end=timeout"))).toBe(true)
      // A crawling body is the client's stall: a debug line (RUN-36), no error line.
      expect(server.lines.error.filter((l) => l.includes("BodyTimeout"))).toEqual([])
    })
  })

  it("RUN-32: an HTTP/2 stream body trickled at 5 bytes/s is ended after one rate window (408, the connection kept), the app sees http.disconnect timeout; another stream is served", async () => {
    endings.length = 0
    await withServer(app, options, async (server) => {
      const fields = headerBlock([[":method", "POST"], [":scheme", "http"], [":authority", "x"], [":path", "/slow"], ["content-length", "1000"]])
      const c = await rawH2(server.port, [frame(FrameType.HEADERS, Flag.END_HEADERS, 1, fields)])
      const t0 = Date.now()
      const timer = setInterval(() => c.send(frame(FrameType.DATA, 0, 1, Buffer.from("a"))), 200)
      try {
        const session = await h2connect(server.url)
        const other = await h2request(session, { ":method": "POST", ":path": "/fair" }, "x".repeat(500))
        await h2close(session)
        expect(other.status).toBe(200)
        const over = await c.until((fs) => fs.some((f) => f.stream === 1 && (f.type === FrameType.RST_STREAM || (f.type === FrameType.HEADERS))), 3000)
        const ms = Date.now() - t0
        console.log(`RUN-32 HTTP/2: trickled stream answered after ${ms} ms`)
        expect(over).toBe(true)
        expect(ms).toBeGreaterThanOrEqual(900)
        expect(ms).toBeLessThan(2500)
        // A 408 head (not a static-table status), or RST_STREAM CANCEL (8).
        const rst = rstCode(c.frames, 1)
        if (rst !== undefined && !c.frames.some((f) => f.stream === 1 && f.type === FrameType.HEADERS)) expect(rst).toBe(8)
        expect(goaway(c.frames)).toBeUndefined()
        await sleep(50)
        expect(endings).toEqual(["/slow timeout"])
        expect(server.lines.access.some((l) => l.includes("/slow") && l.includes("end=timeout"))).toBe(true)
      } finally {
        clearInterval(timer)
        c.destroy()
      }
    })
  })

  it("RUN-33: HTTP/2 connections with no stream open that send a PING every 200 ms, or trickle a header block a byte every 200 ms, get GOAWAY after the idle timeout (1 s)", async () => {
    await withServer(app, { idleTimeout: 1000 }, async (server) => {
      const pinging = await rawH2(server.port)
      // HEADERS without END_HEADERS, then a CONTINUATION of 200 bytes sent a byte at a time.
      const half = await rawH2(server.port, [frame(FrameType.HEADERS, 0, 1, headerBlock([[":method", "GET"]]))])
      const continuation = frame(9, Flag.END_HEADERS, 1, headerBlock([[":scheme", "http"], [":path", "/" + "a".repeat(180)], [":authority", "x"]]))
      let i = 0
      const t0 = Date.now()
      const timer = setInterval(() => {
        pinging.send(frame(FrameType.PING, 0, 0, Buffer.alloc(8)))
        if (i < continuation.length) half.send(continuation.subarray(i, ++i))
      }, 200)
      try {
        const both = await Promise.all([pinging, half].map((c) => c.until((fs) => goaway(fs) !== undefined, 3000)))
        const ms = Date.now() - t0
        console.log(`RUN-33: GOAWAY to a pinging and a trickling connection after ${ms} ms`)
        expect(both).toEqual([true, true])
        expect(ms).toBeGreaterThanOrEqual(900)
        expect(ms).toBeLessThan(2000)
      } finally {
        clearInterval(timer)
        pinging.destroy()
        half.destroy()
      }
    })
  })
})
