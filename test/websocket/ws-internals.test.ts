/**
 * WebSockets use `ws` below its public API (spec.md §8.8): this test fails
 * on a `ws` release that removed what they use, and checks what the runner
 * does then (WS-22): every WebSocket handshake gets 500, on both
 * transports, with one error line naming the `ws` version; HTTP requests
 * are served as before. And the machinery (`ws`, the runner's sessions) is
 * loaded at the first handshake, not at start.
 */
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import * as http2 from "node:http2"
import { createRequire } from "node:module"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { App } from "../../src/protocol/app.ts"
import { missingWsInternals, wsVersion } from "../../src/runner/websocket/ws-over-stream.ts"
import { firstLine, halfOpenClient } from "../support/first-line.ts"
import { listen, type TestServer } from "../support/server.ts"

const ws = createRequire(import.meta.url)("ws") as { prototype: Record<string, unknown>; PerMessageDeflate: unknown }

const ROOT = new URL("../..", import.meta.url).pathname

const upgrade = "GET /chat HTTP/1.1\r\nhost: x\r\nupgrade: websocket\r\nconnection: upgrade\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n\r\n"

/** The `:status` of a request on `session` (node:http2 client). */
const statusOn = (session: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders, endStream: boolean): Promise<number> =>
  new Promise((resolve, reject) => {
    const stream = session.request(headers, { endStream })
    stream.on("response", (fields) => resolve(Number(fields[":status"])))
    stream.on("error", reject)
  })

/** The `:status` of an RFC 8441 extended CONNECT for a WebSocket, then of a GET on the same connection (node:http2 client). */
const extendedConnectThenGet = async (url: string): Promise<[number, number]> => {
  const session = http2.connect(url)
  try {
    await new Promise<void>((resolve, reject) => {
      session.once("remoteSettings", () => resolve())
      session.once("error", reject)
    })
    const connect = await statusOn(session, { ":method": "CONNECT", ":protocol": "websocket", ":path": "/chat", ":scheme": "http", "sec-websocket-version": "13" }, false)
    return [connect, await statusOn(session, { ":path": "/" }, true)]
  } finally {
    session.destroy()
  }
}

describe("the ws internals WebSockets use (spec.md §8.8)", () => {
  it("WS-9: the installed ws has every internal EGI uses (a ws release that drops one fails here)", () => {
    expect(wsVersion()).toMatch(/^8\.\d+\.\d+$/)
    expect(missingWsInternals()).toBeUndefined()
  })

  it("the machinery (ws, the sessions) is loaded at the first WebSocket handshake, not at start nor by an HTTP request", () => {
    const out = execFileSync(process.execPath, ["test/fixtures/ws-lazy-probe.ts"], { cwd: ROOT, encoding: "utf8", timeout: 20_000 })
    expect(JSON.parse(out)).toEqual({
      atStart: false,
      http: "HTTP/1.1 200 OK",
      afterHttp: false,
      ws: "HTTP/1.1 101 Switching Protocols",
      afterHandshake: true
    })
  })

  describe("a ws without them", () => {
    const app: App = (scope, _receive, send) =>
      scope.type === "websocket"
        ? send({ type: "websocket.accept" })
        : scope.type === "http"
        ? Effect.andThen(send({ type: "http.response.start", status: 200, headers: [] }), send({ type: "http.response.body", body: new Uint8Array(0) }))
        : Effect.void
    let server: TestServer
    let setSocket: unknown
    beforeAll(async () => {
      setSocket = ws.prototype["setSocket"]
      delete ws.prototype["setSocket"]
      server = await listen(app, { lifespan: "off" })
    })
    afterAll(async () => {
      ws.prototype["setSocket"] = setSocket
      await server.close()
    })

    it("WS-22: starts; every WebSocket handshake gets 500 on both transports; HTTP is served; one error line names the ws version and what is missing", async () => {
      expect(missingWsInternals()).toBe("WebSocket#setSocket")
      expect(await firstLine(server.port, upgrade)).toBe("HTTP/1.1 500 Internal Server Error")
      // HTTP/2: 500 on the CONNECT's stream, and the connection serves the next request.
      expect(await extendedConnectThenGet(server.url)).toEqual([500, 200])
      expect(await firstLine(server.port, upgrade)).toBe("HTTP/1.1 500 Internal Server Error")
      expect(await firstLine(server.port, "GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")).toBe("HTTP/1.1 200 OK")
      expect(server.lines.error).toEqual([
        `conn=1 WebSockets unavailable, every handshake gets 500: ws ${wsVersion()} lacks WebSocket#setSocket, which EGI needs for WebSockets (RFC 6455, RFC 8441); install a ws 8 release from 8.23 that has it`
      ])
    })

    it("WS-22: a refused HTTP/1.1 client that keeps its side open is cut off after headerTimeout (300 ms): with maxConnections 1, the next connection is served", async () => {
      const single = await listen(app, { lifespan: "off", headerTimeout: 300, maxConnections: 1 })
      const held = halfOpenClient(single.port, upgrade)
      try {
        expect(await held.answer).toBe("HTTP/1.1 500 Internal Server Error")
        await new Promise((resolve) => setTimeout(resolve, 900))
        expect(await firstLine(single.port, "GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")).toBe("HTTP/1.1 200 OK")
      } finally {
        held.socket.destroy()
        await single.close()
      }
    })
  })
})
