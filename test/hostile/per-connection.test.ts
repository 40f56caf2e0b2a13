/**
 * Per-connection and per-response bounds (spec.md §8.3): at most
 * `maxRequestsPerConnection` requests on one connection (RUN-34), and a
 * hanging app interrupted after `responseTimeout` (RUN-35), over both
 * protocols.
 */
import * as net from "node:net"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import type { App } from "../../src/protocol/app.ts"
import { unsupportedScope } from "../../src/protocol/unsupported.ts"
import { sleep } from "../support/async.ts"
import { h2close, h2connect, h2request, rawHttp, statusOf } from "../support/clients.ts"
import { withServer } from "../support/server.ts"

const interrupted: Array<string> = []
const app: App = (scope, _receive, send) => {
  if (scope.type !== "http") return unsupportedScope(scope)
  const ok = Effect.andThen(send({ type: "http.response.start", status: 200 }), send({ type: "http.response.body", body: new TextEncoder().encode(scope.path) }))
  if (scope.path === "/hang") return Effect.onInterrupt(Effect.never, () => Effect.sync(() => interrupted.push(scope.path)))
  if (scope.path === "/started") {
    return Effect.onInterrupt(
      Effect.andThen(send({ type: "http.response.start", status: 200 }), Effect.andThen(send({ type: "http.response.body", body: new TextEncoder().encode("a"), moreBody: true }), Effect.never)),
      () => Effect.sync(() => interrupted.push(scope.path))
    )
  }
  return ok
}

/** Three requests pipelined on one HTTP/1.1 connection: everything read until the server closed it. */
const pipelined = (port: number): Promise<string> =>
  new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1")
    let text = ""
    socket.on("error", () => {})
    socket.on("data", (d: Buffer) => void (text += d.toString("latin1")))
    socket.on("close", () => resolve(text))
    setTimeout(() => socket.destroy(), 1500)
    socket.on("connect", () => socket.write("GET /1 HTTP/1.1\r\nhost: x\r\n\r\nGET /2 HTTP/1.1\r\nhost: x\r\n\r\nGET /3 HTTP/1.1\r\nhost: x\r\n\r\n"))
  })

describe("per-connection and per-response bounds (spec.md §8.3)", () => {
  it("RUN-34: maxRequestsPerConnection 2: HTTP/1.1 answers the 2nd request with connection: close and closes at once (a 3rd pipelined one is never served); HTTP/2 sends GOAWAY after the 2nd stream, which completes", async () => {
    await withServer(app, { maxRequestsPerConnection: 2 }, async (server) => {
      const t0 = Date.now()
      const text = await pipelined(server.port)
      expect(Date.now() - t0).toBeLessThan(1000)
      const responses = text.split(/(?=HTTP\/1\.1 )/)
      expect(responses.slice(0, 2).map((r) => statusOf(r))).toEqual([200, 200])
      expect(responses[1]!.toLowerCase()).toContain("connection: close")
      expect(responses.slice(2).every((r) => statusOf(r) === 503)).toBe(true)
      expect(server.lines.access.some((l) => l.includes("/3"))).toBe(false)

      const session = await h2connect(server.url)
      let goawayAt = 0
      session.on("goaway", () => void (goawayAt = Date.now()))
      const one = await h2request(session, { ":path": "/a" })
      expect(goawayAt).toBe(0)
      const two = await h2request(session, { ":path": "/b" })
      await sleep(50)
      expect([one.status, two.status, two.body]).toEqual([200, 200, "/b"])
      expect(goawayAt).toBeGreaterThan(0)
      await h2close(session)
    })
  })

  it("RUN-35: responseTimeout 300 ms: a hanging app is interrupted and the client gets 503 (HTTP/1.1 and HTTP/2), a started response RST_STREAM CANCEL; end=timeout; other requests unaffected", async () => {
    interrupted.length = 0
    await withServer(app, { responseTimeout: 300 }, async (server) => {
      const t0 = Date.now()
      const h1 = await rawHttp(server.port, ["GET /hang HTTP/1.1\r\nhost: x\r\n\r\n"], { timeoutMs: 2000 })
      const h1ms = Date.now() - t0
      expect(statusOf(h1.text)).toBe(503)
      expect(h1ms).toBeGreaterThanOrEqual(290)
      expect(h1ms).toBeLessThan(1000)
      const session = await h2connect(server.url)
      const [hang, started, quick] = await Promise.all([
        h2request(session, { ":path": "/hang" }),
        h2request(session, { ":path": "/started" }),
        h2request(session, { ":path": "/quick" })
      ])
      await h2close(session)
      console.log(`RUN-35: HTTP/1.1 503 after ${h1ms} ms (responseTimeout 300 ms)`)
      expect(quick.status).toBe(200)
      expect(hang.status).toBe(503)
      expect(started.status).toBe(200)
      expect(hang.body).toBe("Service Unavailable\n")
      expect(started.rstCode).toBe(8)
      await sleep(50)
      expect(interrupted.sort()).toEqual(["/hang", "/hang", "/started"])
      expect(server.lines.access.filter((l) => l.includes("end=timeout"))).toHaveLength(3)
      expect(server.lines.error.filter((l) => l.includes("responseTimeout"))).toHaveLength(3)
    })
  })
})
