/**
 * The same WebSocket cases over both transports (spec.md §11.6), so the two
 * cannot drift apart: HTTP/1.1 Upgrade with the `ws` client, RFC 8441
 * extended CONNECT with undici's WebSocket over h2c, and on each a peer
 * that writes its frames by hand (test/support/ws-raw.ts) for what no
 * client library does. What only one transport has stays in h1.test.ts and
 * h2.test.ts.
 */
import { Effect } from "effect"
import fc from "fast-check"
import diagnostics from "node:diagnostics_channel"
import { Agent, ping as undiciPing, WebSocket as UndiciWebSocket } from "undici"
import { afterAll, describe, expect, it } from "vitest"
import WsWebSocket from "ws"
import echo from "../../examples/ws-echo.ts"
import type { App } from "../../src/protocol/app.ts"
import type { InboundEvent } from "../../src/protocol/events.ts"
import { validate } from "../../src/testing/validate.ts"
import { within } from "../support/async.ts"
import { until } from "../support/clients.ts"
import { listen, type TestServer, useServer } from "../support/server.ts"
import { clientFrame, closePayload, Opcode, type RawPeer, rawH1, rawH2 } from "../support/ws-raw.ts"

const seen: Array<string> = []
const note = (e: unknown) => Effect.sync(() => void seen.push(`${(e as { _tag?: string })._tag}:${(e as { rule?: string }).rule ?? ""}`))

/** Waits for the close handshake's end and records the code the app got. */
const recordDisconnect = (receive: Effect.Effect<InboundEvent>, tag: string) =>
  Effect.gen(function*() {
    let event = yield* receive
    while (event.type !== "websocket.disconnect") event = yield* receive
    seen.push(`${tag}:${event.code}:${event.reason}`)
  })

const app: App = (scope, receive, send) => {
  if (scope.type !== "websocket" || scope.path === "/echo") return echo(scope, receive, send)
  return Effect.gen(function*() {
    yield* receive // websocket.connect
    yield* send({ type: "websocket.accept" })
    switch (scope.path) {
      case "/close": {
        yield* send({ type: "websocket.close", code: 4321, reason: "app says bye" })
        return yield* recordDisconnect(receive, "close")
      }
      case "/record": {
        let event: InboundEvent = yield* receive
        while (event.type === "websocket.receive") event = yield* receive
        const again = yield* receive
        seen.push(`record:${event.type}:${"code" in event ? event.code : ""}:${"reason" in event ? event.reason : ""}:${again.type}`)
        return yield* send({ type: "websocket.send", text: "late" }).pipe(Effect.catch(note)) // WS-5
      }
      case "/hold":
        return yield* recordDisconnect(receive, "hold")
    }
  })
}

/** How the close handshake ended, as the client saw it. */
interface Closed {
  readonly code: number
  readonly reason: string
  readonly wasClean: boolean
}

/** One WebSocket client, the same over both transports. */
interface Client {
  readonly protocol: string
  readonly extensions: string
  send(data: string | Uint8Array): void
  /** The next message (binary as Uint8Array). */
  next(): Promise<string | Uint8Array>
  close(code?: number, reason?: string): void
  readonly closed: Promise<Closed>
  /** Sends a ping; resolves with the payload of the pong that answers it. */
  ping(payload: Buffer): Promise<Buffer>
}

/** The part of the WHATWG WebSocket both `ws` and undici implement. */
interface BrowserLike {
  binaryType: string
  readonly protocol: string
  readonly extensions: string
  send(data: string | Uint8Array): void
  close(code?: number, reason?: string): void
  addEventListener(type: string, listener: (event: never) => void): void
}

/** A `Client` over either library's WebSocket, once it is open. */
const adapt = (ws: BrowserLike, ping: (payload: Buffer) => Promise<Buffer>): Promise<Client> =>
  new Promise((resolve, reject) => {
    ws.binaryType = "arraybuffer"
    const queue: Array<string | Uint8Array> = []
    const waiters: Array<(m: string | Uint8Array) => void> = []
    ws.addEventListener("message", (e: { data: unknown }) => {
      const m = typeof e.data === "string" ? e.data : new Uint8Array(e.data as ArrayBuffer)
      const w = waiters.shift()
      if (w !== undefined) w(m)
      else queue.push(m)
    })
    const closed = new Promise<Closed>((r) =>
      ws.addEventListener("close", (e: Closed) => r({ code: e.code, reason: e.reason, wasClean: e.wasClean }))
    )
    ws.addEventListener("error", (e: { message?: string }) => reject(new Error(e.message ?? "WebSocket error")))
    ws.addEventListener("open", () =>
      resolve({
        protocol: ws.protocol,
        extensions: ws.extensions,
        send: (data) => ws.send(data),
        next: () => {
          const m = queue.shift()
          return m !== undefined ? Promise.resolve(m) : new Promise((r) => waiters.push(r))
        },
        close: (code, reason) => ws.close(code, reason),
        closed,
        ping
      })
    )
  })

// h2c with prior knowledge; undici's types do not list `useH2c` yet.
const dispatcher = new Agent({ allowH2: true, useH2c: true } as ConstructorParameters<typeof Agent>[0])

/** Connects with the `ws` client over HTTP/1.1; pings with `ws.ping`. */
const connectH1 = (base: string, path: string, protocols?: Array<string>): Promise<Client> => {
  const ws = new WsWebSocket(base.replace("http://", "ws://") + path, protocols)
  const ping = (payload: Buffer) =>
    new Promise<Buffer>((resolve) => {
      ws.once("pong", (data: Buffer) => resolve(Buffer.from(data)))
      ws.ping(payload)
    })
  return adapt(ws as unknown as BrowserLike, ping)
}

/** Connects with undici's WebSocket over h2c (RFC 8441); pings with undici's `ping`, pongs seen on its diagnostics channel. */
const connectH2 = (base: string, path: string, protocols?: Array<string>): Promise<Client> => {
  const ws = new UndiciWebSocket(base.replace("http://", "ws://") + path, { dispatcher, protocols } as unknown as ConstructorParameters<
    typeof UndiciWebSocket
  >[1])
  const ping = (payload: Buffer) =>
    new Promise<Buffer>((resolve) => {
      const onPong = (message: unknown) => {
        const m = message as { payload: Buffer; websocket: unknown }
        if (m.websocket !== ws) return
        diagnostics.unsubscribe("undici:websocket:pong", onPong)
        resolve(Buffer.from(m.payload))
      }
      diagnostics.subscribe("undici:websocket:pong", onPong)
      undiciPing(ws, payload)
    })
  return adapt(ws as unknown as BrowserLike, ping)
}

/** A transport: its client library, and a hand-driven peer. */
interface Transport {
  readonly name: string
  readonly connect: (base: string, path: string, protocols?: Array<string>) => Promise<Client>
  readonly raw: (server: TestServer, path: string) => Promise<RawPeer>
}

const transports: Array<Transport> = [
  { name: "HTTP/1.1 Upgrade, ws client", connect: connectH1, raw: (s, path) => rawH1(s.port, path) },
  { name: "HTTP/2 extended CONNECT, undici client", connect: connectH2, raw: (s, path) => rawH2(s.port, path) }
]

// Under the validator: both directions of every WebSocket are checked against spec.md too.
const server = useServer(validate(app), { wsMaxMessageSize: 2 * 1024 * 1024, wsPerMessageDeflate: true })
afterAll(() => dispatcher.close())

describe.each(transports)("$name", ({ connect, raw }) => {
  const open = (path: string, protocols?: Array<string>) => connect(server().url, path, protocols)

  it("WS-1: accept with the first subprotocol the client offers, permessage-deflate negotiated", async () => {
    const ws = await open("/echo", ["chat.v2", "chat.v1"])
    expect(ws.protocol).toBe("chat.v2")
    expect(ws.extensions).toContain("permessage-deflate")
    ws.close()
    await ws.closed
  })

  it("WS-4: any sequence of text and binary messages (0 B to 1 MiB) comes back intact and in order", async () => {
    const message = fc.record({
      binary: fc.boolean(),
      size: fc.oneof(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 1024 * 1024 }))
    })
    await fc.assert(
      fc.asyncProperty(fc.array(message, { minLength: 1, maxLength: 6 }), async (messages) => {
        const ws = await open("/echo")
        const sent = messages.map((m, i) => (m.binary ? new Uint8Array(m.size).fill(i + 1) : "é".repeat(m.size >> 2) + i))
        for (const m of sent) ws.send(m)
        const received: Array<string | Uint8Array> = []
        for (let i = 0; i < sent.length; i++) received.push(await ws.next())
        expect(received).toEqual(sent)
        ws.close()
        await ws.closed
      }),
      { numRuns: 8 }
    )
  })

  it("WS-16: the app closes with 4321 and a reason: the client sees both and wasClean; the next receive of the app has the code the client answered with", async () => {
    seen.length = 0
    const ws = await open("/close")
    expect(await ws.closed).toEqual({ code: 4321, reason: "app says bye", wasClean: true })
    await until(() => seen.length === 1, "the app's disconnect")
    // The client echoes the code (undici without the reason).
    expect(seen[0]).toMatch(/^close:4321:/)
  })

  it("WS-5: the close code and reason of the client reach the app, stick, and a later send fails with StreamClosedError", async () => {
    seen.length = 0
    const ws = await open("/record")
    ws.close(4001, "bye")
    expect(await ws.closed).toEqual({ code: 4001, reason: "bye", wasClean: true })
    await until(() => seen.length === 2, "the app recorded the disconnect")
    expect(seen).toEqual(["record:websocket.disconnect:4001:bye:websocket.disconnect", "StreamClosedError:"])
  })

  it("WS-13: the server answers a ping from the client with a pong carrying the same payload", async () => {
    const ws = await open("/echo")
    const payload = Buffer.from("are you there?")
    expect(await within(ws.ping(payload), 3000, "the pong")).toEqual(payload)
    ws.close()
    await ws.closed
  })

  it("WS-16: a close frame from the peer ends the connection at once with FIN / END_STREAM, not a reset", async () => {
    seen.length = 0
    const peer = await raw(server(), "/close")
    const close = await peer.frame(Opcode.CLOSE)
    expect(close.payload.readUInt16BE(0)).toBe(4321)
    expect(close.payload.subarray(2).toString()).toBe("app says bye")
    peer.write(clientFrame(Opcode.CLOSE, closePayload(4321, "peer")))
    peer.end()
    const ended = await within(peer.ended, 3000, "the server ending the connection")
    expect(ended.how).toBe("end")
    // Well inside the close timeout (wsPingTimeout, 20 s here).
    expect(ended.at - close.at).toBeLessThan(1000)
    await until(() => seen.length === 1, "the app's disconnect")
    expect(seen).toEqual(["close:4321:peer"])
    await new Promise((r) => setTimeout(r, 100))
    expect(peer.wasReset()).toBe(false)
    peer.destroy()
  })

  it("WS-16: a peer that never answers the close frame is cut off after wsPingTimeout, not before; the app gets 1006", async () => {
    const own = await listen(app, { wsPingInterval: 0, wsPingTimeout: 500 })
    try {
      seen.length = 0
      const peer = await raw(own, "/close")
      const close = await peer.frame(Opcode.CLOSE)
      const ended = await within(peer.ended, 5000, "the server ending the connection")
      const waited = ended.at - close.at
      expect(waited).toBeGreaterThan(400)
      expect(waited).toBeLessThan(2500)
      await until(() => seen.length === 1, "the app's disconnect")
      expect(seen).toEqual(["close:1006:"])
      peer.destroy()
    } finally {
      await own.close()
    }
  })

  it("WS-13: the server pings every wsPingInterval; a peer that never answers is dropped and the app gets 1006", async () => {
    const own = await listen(app, { wsPingInterval: 100, wsPingTimeout: 150 })
    try {
      seen.length = 0
      const mute = await raw(own, "/hold")
      const polite = await connect(own.url, "/hold")
      await mute.frame(Opcode.PING)
      await mute.ended
      await until(() => seen.includes("hold:1006:"), "the app saw 1006")
      await new Promise((r) => setTimeout(r, 300))
      // The client that answers the server's pings stays.
      expect(seen).toEqual(["hold:1006:"])
      polite.close()
      await polite.closed
      mute.destroy()
    } finally {
      await own.close()
    }
  })

  it("WS-11: a message over wsMaxMessageSize closes the WebSocket with 1009, and the app's websocket.disconnect carries 1009", async () => {
    seen.length = 0
    const ws = await open("/hold")
    ws.send(new Uint8Array(2 * 1024 * 1024 + 1))
    expect((await ws.closed).code).toBe(1009)
    await until(() => seen.length === 1, "the app's disconnect")
    expect(seen).toEqual(["hold:1009:"])
  })

  it("WS-14: graceful shutdown closes open WebSockets with 1001 before the drain timeout", async () => {
    const own = await listen(app, { drainTimeout: 5000 })
    seen.length = 0
    const ws = await connect(own.url, "/hold")
    const started = Date.now()
    await own.close()
    expect((await ws.closed).code).toBe(1001)
    expect(Date.now() - started).toBeLessThan(5000)
    await until(() => seen.length === 1, "the app's disconnect")
    expect(seen[0]).toMatch(/^hold:1001:/)
  })
})
