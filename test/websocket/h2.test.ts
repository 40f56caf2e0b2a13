/**
 * WebSockets over HTTP/2 (RFC 8441, spec.md §11.6) with undici's WebSocket
 * client over an h2c dispatcher, and node:http2 for the extended CONNECTs
 * undici would not send: what only HTTP/2 has (SETTINGS, other `:protocol`
 * values, streams shared with plain requests, the stream window). What both
 * transports share (messages, close handshake, pings, limits, shutdown) is
 * in transports.test.ts, which also covers src/runner/websocket/ws-over-stream.ts.
 */
import { Effect } from "effect"
import { randomBytes } from "node:crypto"
import type * as http2 from "node:http2"
import { Agent, fetch, WebSocket } from "undici"
import { afterAll, describe, expect, it } from "vitest"
import echo from "../../examples/ws-echo.ts"
import type { App } from "../../src/protocol/app.ts"
import { until } from "../support/clients.ts"
import { closeSession, collect, connect } from "../support/h2client.ts"
import { validate } from "../../src/testing/validate.ts"
import { useServer } from "../support/server.ts"

let flooded = 0

const app: App = (scope, receive, send) => {
  if (scope.type === "websocket" && scope.path === "/flood") {
    return Effect.gen(function*() {
      yield* receive
      yield* send({ type: "websocket.accept" })
      const chunk = new Uint8Array(randomBytes(65536))
      while (true) {
        yield* send({ type: "websocket.send", bytes: chunk })
        flooded += chunk.length
      }
    })
  }
  if (scope.type === "websocket" && scope.path === "/deny") {
    return Effect.gen(function*() {
      yield* receive
      yield* send({ type: "websocket.http.response.start", status: 401, headers: [["x-why", "token"]] })
      yield* send({ type: "websocket.http.response.body", body: new TextEncoder().encode("no entry") })
    })
  }
  return echo(scope, receive, send)
}

// Under the validator: both directions of every WebSocket are checked against spec.md too.
const server = useServer(validate(app), { wsMaxMessageSize: 2 * 1024 * 1024 })
// h2c with prior knowledge; undici's types do not list `useH2c` yet.
const dispatcher = new Agent({ allowH2: true, useH2c: true, connections: 1 } as ConstructorParameters<typeof Agent>[0])
afterAll(() => dispatcher.close())

const url = (path: string) => server().url.replace("http://", "ws://") + path

const open = (path: string, protocols?: Array<string>): Promise<WebSocket> =>
  new Promise((resolve, reject) => {
    const ws = new WebSocket(url(path), { dispatcher, protocols } as unknown as ConstructorParameters<typeof WebSocket>[1])
    ws.binaryType = "arraybuffer"
    ws.onopen = () => resolve(ws)
    ws.onerror = (e) => reject(new Error(String((e as { message?: string }).message ?? "error")))
  })

/** An RFC 8441 extended CONNECT on `session`, its body left open (node:http2 client). */
const extendedConnect = (
  session: http2.ClientHttp2Session,
  path: string,
  protocol = "websocket",
  fields: Record<string, string> = { "sec-websocket-version": "13" }
) => session.request({ ":method": "CONNECT", ":protocol": protocol, ":path": path, ":scheme": "http", ...fields }, { endStream: false })

const closed = (ws: WebSocket): Promise<number> => new Promise((resolve) => (ws.onclose = (e) => resolve(e.code)))

describe("RFC 8441 extended CONNECT (spec.md §11.6)", () => {
  it("WS-9: :protocol websocket reaches the websocket scope, answered with 200 on the stream", async () => {
    const ws = await open("/echo", ["chat.v1"])
    expect(ws.protocol).toBe("chat.v1")
    const done = closed(ws)
    ws.close()
    expect(await done).toBe(1005)
    await until(() => server().lines.access.some((l) => l.includes('"WEBSOCKET /echo HTTP/2" 200')), "the access-log line")
  })

  it("WS-9 WS-15: another :protocol gets 501; a websocket CONNECT without version 13, or with bad extensions, gets 400", async () => {
    const session = await connect(server().url)
    expect(session.remoteSettings.enableConnectProtocol).toBe(true)
    const other = await collect(extendedConnect(session, "/", "webtransport", {}))
    expect(other.status).toBe(501)
    const noVersion = await collect(extendedConnect(session, "/", "websocket", {}))
    expect(noVersion.status).toBe(400)
    const badExtensions = await collect(extendedConnect(session, "/", "websocket", {
      "sec-websocket-version": "13",
      "sec-websocket-extensions": "permessage-deflate; server_max_window_bits=99"
    }))
    expect(badExtensions.status).toBe(400)
    await closeSession(session)
  })

  it("WS-3: a denial over HTTP/2 is an ordinary response on the CONNECT stream", async () => {
    const session = await connect(server().url)
    const r = await collect(extendedConnect(session, "/deny"))
    expect(r.status).toBe(401)
    expect(r.headers["x-why"]).toBe("token")
    expect(r.body.toString()).toBe("no entry")
    await closeSession(session)
  })

  it("WS-9: several WebSockets and plain requests share one HTTP/2 connection", async () => {
    const before = server().lines.access.length
    const sockets = await Promise.all([open("/echo"), open("/echo"), open("/echo")])
    const plain = await Promise.all([1, 2].map(() => fetch(server().url + "/", { dispatcher }).then((r) => r.text())))
    expect(plain).toEqual(["WebSocket echo: connect with ws://\n", "WebSocket echo: connect with ws://\n"])
    const replies = await Promise.all(sockets.map((ws, i) =>
      new Promise<string>((resolve) => {
        ws.onmessage = (e) => resolve(String(e.data))
        ws.send(`socket ${i}`)
      })
    ))
    expect(replies).toEqual(["socket 0", "socket 1", "socket 2"])
    for (const ws of sockets) ws.close()
    const lines = () => server().lines.access.slice(before)
    await until(() => lines().filter((l) => l.includes("WEBSOCKET")).length === 3, "the three WebSockets logged")
    expect(lines().length).toBe(5)
    expect(new Set(lines().map((l) => /conn=(\d+)/.exec(l)?.[1])).size).toBe(1)
  })

  it("WS-6: over HTTP/2 a client that does not read stalls websocket.send (the stream's window pushes back)", async () => {
    flooded = 0
    const session = await connect(server().url)
    const stream = extendedConnect(session, "/flood")
    stream.pause() // never read: no WINDOW_UPDATE for the server
    await new Promise((r) => setTimeout(r, 500))
    const stalled = flooded
    await new Promise((r) => setTimeout(r, 300))
    // 64 KiB stream window + the session's buffers + writeBufferSize; without backpressure, hundreds of MiB.
    expect(stalled).toBeLessThan(8 * 1024 * 1024)
    expect(flooded - stalled).toBeLessThan(512 * 1024)
    session.destroy()
  })
})
