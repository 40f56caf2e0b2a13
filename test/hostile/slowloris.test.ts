/**
 * Slowloris (spec.md §8.3, RUN-31): many HTTP/1.1 connections trickling a
 * request head — a first head, a first head whose first byte leaves the
 * protocol undecided for most of the timeout ("P", then "OST …"), and a
 * second head on a keep-alive connection — each get 408 or a close within
 * 10 % of the header timeout, counted from the accept (the first head) or
 * from the head's first byte (a later one), while another client is served.
 */
import * as http from "node:http"
import * as net from "node:net"
import { monitorEventLoopDelay } from "node:perf_hooks"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import type { App } from "../../src/protocol/app.ts"
import { unsupportedScope } from "../../src/protocol/unsupported.ts"
import { sleep } from "../support/async.ts"
import { statusOf } from "../support/clients.ts"
import { destroyAll, type Hostile, openHostile, percentile } from "../support/hostile.ts"
import { withServer } from "../support/server.ts"

const app: App = (scope, _receive, send) =>
  scope.type !== "http"
    ? unsupportedScope(scope)
    : Effect.andThen(send({ type: "http.response.start", status: 200 }), send({ type: "http.response.body", body: new TextEncoder().encode("ok") }))

/** A keep-alive connection that completes one request, then trickles a second head: ms from that head's first byte to the server's answer (408) or close. */
const secondHead = (port: number): Promise<{ ms: number; text: string; socket: net.Socket }> =>
  new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1")
    let text = ""
    let t1 = 0
    let timer: NodeJS.Timeout | undefined
    socket.on("error", () => {})
    let settled = false
    const done = (): void => {
      if (settled) return
      settled = true
      clearInterval(timer)
      resolve({ ms: Date.now() - t1, text, socket })
    }
    socket.on("data", (d: Buffer) => {
      text += d.toString("latin1")
      if (t1 !== 0) return done()
      if (text.includes("\r\n\r\nok")) {
        text = ""
        t1 = Date.now()
        socket.write("GET /second HTTP/1.1\r\n")
        timer = setInterval(() => socket.write("x-a: b\r\n"), 250)
      }
    })
    socket.once("end", done)
    socket.once("close", done)
    socket.on("connect", () => socket.write("GET / HTTP/1.1\r\nhost: x\r\n\r\n"))
  })

/** One GET on a kept-alive connection: ms. */
const get = (port: number, agent: http.Agent): Promise<number> =>
  new Promise((resolve, reject) => {
    const t0 = performance.now()
    http.get({ host: "127.0.0.1", port, path: "/", agent }, (res) => {
      res.resume()
      res.on("end", () => resolve(performance.now() - t0))
    }).on("error", reject)
  })

describe("slowloris (spec.md §8.3)", () => {
  it("RUN-31: 300 connections trickling HTTP/1.1 heads get 408 or a close within 10 % of the header timeout (2 s), while another client is served", async () => {
    const headerTimeout = 2000
    // The rule allows for the event loop's delay: this process runs the server and its clients alike.
    const lag = monitorEventLoopDelay({ resolution: 10 })
    lag.enable()
    await withServer(app, { headerTimeout }, async (server) => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
      // A first head, trickled a field at a time.
      const first = await openHostile(server.port, 150, { first: "GET / HTTP/1.1\r\nhost: x\r\n", trickle: "x-a: b\r\n", everyMs: 250 })
      // "P" could start the HTTP/2 preface: the protocol is decided only by the next byte, sent 0.8 header timeouts later.
      const undecided = await openHostile(server.port, 50, { first: "P" })
      const later = Array.from({ length: 100 }, () => secondHead(server.port))
      await sleep(0.8 * headerTimeout)
      for (const h of undecided) if (!h.socket.destroyed) h.socket.write("OST / HTTP/1.1\r\nhost: x\r\n")
      const served: Array<number> = []
      const deadline = Date.now() + 1.5 * headerTimeout
      while (Date.now() < deadline) {
        served.push(await get(server.port, agent))
        await sleep(10)
      }
      const firstHeads: Array<Hostile> = [...first, ...undecided]
      const seconds = await Promise.all(later)
      try {
        const open = firstHeads.filter((h) => h.closedAfter === undefined).length
        expect(open, `${open} first heads still open after ${1.5 * headerTimeout} ms`).toBe(0)
        const firstMs = firstHeads.map((h) => h.closedAfter!)
        const secondMs = seconds.map((s) => s.ms)
        console.log(
          `RUN-31: header timeout ${headerTimeout} ms; ${firstHeads.length} first heads answered (408) or closed after p50 ${percentile(firstMs, 50)} ms, p99 ${percentile(firstMs, 99)} ms (from the accept; "P" first: p50 ${percentile(undecided.map((h) => h.closedAfter!), 50)} ms); ` +
            `${seconds.length} keep-alive second heads after p50 ${percentile(secondMs, 50)} ms, p99 ${percentile(secondMs, 99)} ms (from their first byte); ` +
            `another client served ${served.length} requests meanwhile, p50 ${percentile(served, 50).toFixed(1)} ms, p99 ${percentile(served, 99).toFixed(1)} ms; ` +
            `event loop delay max ${(lag.max / 1e6).toFixed(0)} ms`
        )
        for (const ms of [...firstMs, ...secondMs]) expect(ms).toBeGreaterThanOrEqual(headerTimeout - 20)
        const loopDelay = lag.max / 1e6
        expect(percentile(firstMs, 99)).toBeLessThanOrEqual(headerTimeout * 1.1 + loopDelay)
        expect(percentile(secondMs, 99)).toBeLessThanOrEqual(headerTimeout * 1.1 + loopDelay)
        // What a client read, if anything, is a 408.
        for (const text of [...firstHeads.map((h) => h.text), ...seconds.map((s) => s.text)]) if (text !== "") expect(statusOf(text)).toBe(408)
        expect(served.length).toBeGreaterThan(10)
        // Stalled heads are the clients' doing: debug lines (RUN-36), never one error line each.
        expect(server.lines.error.filter((l) => l.includes("408"))).toEqual([])
      } finally {
        lag.disable()
        agent.destroy()
        destroyAll(firstHeads)
        for (const s of seconds) s.socket.destroy()
      }
    })
  })
})
