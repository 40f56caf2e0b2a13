/**
 * WebSockets over HTTP/1.1 (spec.md §11) with the `ws` client: the
 * handshake answers (denial, refusal, malformed), the send-side rules, close
 * codes the HTTP/2 client cannot produce (none, a dropped connection,
 * invalid UTF-8), fragments and backpressure. What both transports share
 * (messages, close handshake, pings, limits, shutdown) is in
 * transports.test.ts.
 */
import { Effect } from "effect"
import { randomBytes } from "node:crypto"
import * as net from "node:net"
import { describe, expect, it } from "vitest"
import WebSocket from "ws"
import echo from "../../examples/ws-echo.ts"
import type { App } from "../../src/protocol/app.ts"
import type { InboundEvent, OutboundEvent } from "../../src/protocol/events.ts"
import { until } from "../support/clients.ts"
import { validate } from "../../src/testing/validate.ts"
import { listen, useServer } from "../support/server.ts"
import { halfOpenClient } from "../support/first-line.ts"

/** 64 KiB messages the WS-6 client sends to /sleepy: more than loopback's socket buffers hold. */
const SLEEPY_MESSAGES = 1000

const seen: Array<string> = []
const note = (e: unknown) => Effect.sync(() => void seen.push(`${(e as { _tag?: string })._tag}:${(e as { rule?: string }).rule ?? ""}`))
let flooded = 0

const app: App = (scope, receive, send) => {
  if (scope.type !== "websocket") return Effect.void
  const path = scope.path
  if (path === "/echo") return echo(scope, receive, send)
  return Effect.gen(function*() {
    yield* receive // websocket.connect
    switch (path) {
      case "/deny":
        yield* send({ type: "websocket.http.response.start", status: 401, headers: [["x-why", "token"]] })
        yield* send({ type: "websocket.http.response.body", body: new TextEncoder().encode("no "), moreBody: true })
        return yield* send({ type: "websocket.http.response.body", body: new TextEncoder().encode("entry") })
      case "/deny-framed":
        // The app frames its own denial: the runner's framing replaces it (one content-length, the body's).
        yield* send({ type: "websocket.http.response.start", status: 403, headers: [["content-length", "99"], ["connection", "keep-alive"], ["x-why", "framed"]] })
        return yield* send({ type: "websocket.http.response.body", body: new TextEncoder().encode("denied") })
      case "/return":
        return
      case "/fail":
        return yield* Effect.fail(new Error("boom before accept"))
      case "/refuse":
        return yield* send({ type: "websocket.close" })
      case "/misuse": {
        const attempts: Array<OutboundEvent> = [
          { type: "websocket.send", text: "too early" }, // WS-2
          { type: "websocket.http.response.body", body: new Uint8Array(1) }, // WS-3
          { type: "websocket.accept", subprotocol: "never-offered" } // WS-1
        ]
        for (const event of attempts) yield* send(event).pipe(Effect.catch(note))
        yield* send({ type: "websocket.accept", headers: [["x-extra", "yes"]] })
        yield* send({ type: "websocket.accept" }).pipe(Effect.catch(note)) // WS-1
        yield* send({ type: "websocket.send", text: "x", bytes: new Uint8Array(1) } as OutboundEvent).pipe(Effect.catch(note)) // WS-4
        yield* send({ type: "websocket.http.response.start", status: 200 }).pipe(Effect.catch(note)) // WS-3
        yield* send({ type: "websocket.close", code: 1005 }).pipe(Effect.catch(note)) // WS-10
        yield* send({ type: "websocket.close", code: 4000, reason: "done" })
        yield* send({ type: "websocket.send", text: "after close" }).pipe(Effect.catch(note)) // WS-7
        return
      }
      case "/record": {
        yield* send({ type: "websocket.accept" })
        let event: InboundEvent = yield* receive
        while (event.type === "websocket.receive") event = yield* receive
        const again = yield* receive
        seen.push(`record:${event.type}:${"code" in event ? event.code : ""}:${"reason" in event ? event.reason : ""}:${again.type}`)
        yield* send({ type: "websocket.send", text: "late" }).pipe(Effect.catch(note)) // WS-5
        return
      }
      case "/flood": {
        yield* send({ type: "websocket.accept" })
        // Random bytes: permessage-deflate cannot shrink them, so the wire carries what the app sends.
        const chunk = new Uint8Array(randomBytes(65536))
        while (true) {
          yield* send({ type: "websocket.send", bytes: chunk })
          flooded += chunk.length
        }
      }
      case "/sleepy": {
        yield* send({ type: "websocket.accept" })
        yield* Effect.sleep("2 seconds")
        let count = 0
        let event: InboundEvent = yield* receive
        while (event.type === "websocket.receive") {
          count++
          if (count === SLEEPY_MESSAGES) yield* send({ type: "websocket.send", text: `got ${count}` })
          event = yield* receive
        }
        return
      }
    }
  })
}

// Under the validator: both directions of every WebSocket are checked against spec.md too.
const server = useServer(validate(app), { wsMaxMessageSize: 2 * 1024 * 1024 })
const base = (): string => server().url.replace("http://", "ws://")

const open = (path: string, protocols?: Array<string>): Promise<WebSocket> =>
  new Promise((resolve, reject) => {
    const ws = new WebSocket(base() + path, protocols)
    ws.once("open", () => resolve(ws))
    ws.once("error", reject)
  })

const closeOf = (ws: WebSocket): Promise<[number, string]> =>
  new Promise((resolve) => ws.once("close", (code, reason) => resolve([code, reason.toString()])))

/** The handshake's HTTP answer when it is not a 101. */
const refused = (path: string): Promise<{ status: number; headers: Record<string, unknown>; body: string }> =>
  new Promise((resolve, reject) => {
    const ws = new WebSocket(base() + path)
    ws.on("error", () => {})
    ws.once("open", () => reject(new Error("accepted")))
    ws.once("unexpected-response", (_req, res) => {
      let body = ""
      res.on("data", (d: Buffer) => (body += d.toString()))
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
    })
  })

/** Writes `request` on a new connection and resolves with everything read until the server closes it. */
const rawExchange = (request: string): Promise<string> =>
  new Promise((resolve) => {
    const socket = net.connect(server().port, "127.0.0.1", () => socket.write(request))
    let got = ""
    socket.on("data", (d) => (got += d.toString()))
    socket.on("close", () => resolve(got))
  })

describe("handshake (spec.md §11.3)", () => {
  it("WS-3: a denial response reaches the client as an ordinary HTTP response", async () => {
    const r = await refused("/deny")
    expect(r).toMatchObject({ status: 401, body: "no entry" })
    expect(r.headers["x-why"]).toBe("token")
  })

  it("WS-3: an HTTP/1.1 denial carries the runner's framing only — one content-length (the body's) and connection: close, whatever framing fields the app sent", async () => {
    const text = await rawExchange("GET /deny-framed HTTP/1.1\r\nhost: x\r\nconnection: upgrade\r\nupgrade: websocket\r\nsec-websocket-version: 13\r\n" +
      "sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
    const [head, body] = text.split("\r\n\r\n")
    const fields = head!.split("\r\n").slice(1).map((l) => l.toLowerCase())
    expect(head!.startsWith("HTTP/1.1 403 ")).toBe(true)
    expect(fields.filter((f) => f.startsWith("content-length:"))).toEqual(["content-length: 6"])
    expect(fields.filter((f) => f.startsWith("connection:"))).toEqual(["connection: close"])
    expect(fields).toContain("x-why: framed")
    expect(body).toBe("denied")
  })

  it("WS-8: no answer gets 403; a failure before the answer 500; websocket.close before accept 403", async () => {
    expect((await refused("/return")).status).toBe(403)
    expect((await refused("/fail")).status).toBe(500)
    expect((await refused("/refuse")).status).toBe(403)
    expect(server().lines.error.some((l) => l.includes("boom before accept"))).toBe(true)
  })

  it("WS-15: a handshake without sec-websocket-key, or with extensions that do not parse, gets 400 and never reaches an app", async () => {
    const text = await rawExchange("GET /echo HTTP/1.1\r\nhost: x\r\nconnection: upgrade\r\nupgrade: websocket\r\nsec-websocket-version: 13\r\n\r\n")
    expect(text.startsWith("HTTP/1.1 400 ")).toBe(true)
    const before = server().lines.access.length
    const badExtensions = await rawExchange("GET /echo HTTP/1.1\r\nhost: x\r\nconnection: upgrade\r\nupgrade: websocket\r\nsec-websocket-version: 13\r\n" +
      "sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-extensions: permessage-deflate; server_max_window_bits=99\r\n\r\n")
    expect(badExtensions.startsWith("HTTP/1.1 400 ")).toBe(true)
    await new Promise((r) => setTimeout(r, 100))
    expect(server().lines.access.slice(before).filter((l) => l.includes("WEBSOCKET"))).toEqual([])
  })
})

describe("refused handshakes close (spec.md §8.8)", () => {
  it("WS-15 WS-3: a client answered 400 or denied by the app that keeps its side open is cut off after headerTimeout (300 ms): with maxConnections 1, the next connection is served", async () => {
    const single = await listen(validate(app), { headerTimeout: 300, maxConnections: 1 })
    try {
      const handshakes = [
        ["GET /echo HTTP/1.1\r\nhost: x\r\nconnection: upgrade\r\nupgrade: websocket\r\nsec-websocket-version: 13\r\n\r\n", "HTTP/1.1 400 Bad Request"],
        ["GET /deny-framed HTTP/1.1\r\nhost: x\r\nconnection: upgrade\r\nupgrade: websocket\r\nsec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n", "HTTP/1.1 403 Forbidden"]
      ] as const
      for (const [request, status] of handshakes) {
        const held = halfOpenClient(single.port, request)
        try {
          expect(await held.answer).toBe(status)
          await new Promise((resolve) => setTimeout(resolve, 900))
          const next = halfOpenClient(single.port, "GET /plain HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
          expect(await next.answer).toMatch(/^HTTP\/1\.1 (?!503)\d{3} /)
          next.socket.destroy()
        } finally {
          held.socket.destroy()
        }
      }
    } finally {
      await single.close()
    }
  })
})

describe("refused handshakes close, whatever the client does (spec.md §8.8)", () => {
  const bad = "GET /echo HTTP/1.1\r\nhost: x\r\nconnection: upgrade\r\nupgrade: websocket\r\nsec-websocket-version: 13\r\n\r\n"

  it("WS-15: a client that keeps sending a byte every 100 ms after its 400 is cut off (headerTimeout 300 ms): the server resets it within 2 s", async () => {
    const single = await listen(validate(app), { headerTimeout: 300 })
    const held = halfOpenClient(single.port, bad, 100)
    try {
      expect(await held.answer).toBe("HTTP/1.1 400 Bad Request")
      const cut = await Promise.race([held.closed.then(() => "closed"), new Promise((resolve) => setTimeout(() => resolve("still open"), 2000))])
      expect(cut).toBe("closed")
    } finally {
      held.socket.destroy()
      await single.close()
    }
  })

  it("WS-3: a slow reader gets a whole 8 MiB denial though it sent bytes past its head: they are read and dropped, so the close after the linger is no reset", async () => {
    const big = new Uint8Array(8 << 20).fill(100)
    const denier: App = (scope, receive, send) =>
      scope.type !== "websocket"
        ? Effect.void
        : Effect.gen(function*() {
          yield* receive
          yield* send({ type: "websocket.http.response.start", status: 403, headers: [] })
          yield* send({ type: "websocket.http.response.body", body: big })
        })
    const single = await listen(denier, { headerTimeout: 300 })
    try {
      const head = "GET /big HTTP/1.1\r\nhost: x\r\nconnection: upgrade\r\nupgrade: websocket\r\nsec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
      const received = await new Promise<{ bytes: number; error: string | undefined }>((resolve) => {
        const socket = net.connect(single.port, "127.0.0.1", () => socket.write(Buffer.concat([Buffer.from(head, "latin1"), Buffer.alloc(1 << 20, 120)])))
        let bytes = 0
        let error: string | undefined
        // 64 KiB every 20 ms: the last of the body is still in the kernel's buffers when the linger (300 ms) ends.
        socket.pause()
        const timer = setInterval(() => {
          for (let chunk = socket.read(65536); chunk !== null; chunk = null) bytes += chunk.length
        }, 20)
        socket.on("readable", () => {})
        socket.on("error", (e: NodeJS.ErrnoException) => void (error = e.code))
        socket.on("close", () => {
          clearInterval(timer)
          resolve({ bytes, error })
        })
        socket.on("end", () => socket.destroy())
      })
      expect(received.error).toBeUndefined()
      expect(received.bytes).toBeGreaterThan(big.length)
    } finally {
      await single.close()
    }
  }, 20_000)
})

describe("send-side rules (spec.md §11.4, table 4)", () => {
  it("WS-1 WS-2 WS-3 WS-4 WS-7 WS-10: each misuse fails with its rule; the WebSocket still works", async () => {
    seen.length = 0
    const headers = new Promise<Record<string, unknown>>((resolve) => {
      const ws = new WebSocket(base() + "/misuse")
      ws.once("upgrade", (res) => resolve(res.headers))
      ws.on("error", () => {})
      ws.once("close", () => {})
    })
    expect((await headers)["x-extra"]).toBe("yes")
    await until(() => seen.length >= 8, `all misuses reported (so far ${JSON.stringify(seen)})`)
    expect(seen).toEqual([
      "LocalProtocolError:WS-2",
      "LocalProtocolError:WS-3",
      "LocalProtocolError:WS-1",
      "LocalProtocolError:WS-1",
      "LocalProtocolError:WS-4",
      "LocalProtocolError:WS-3",
      "LocalProtocolError:WS-10",
      "LocalProtocolError:WS-7"
    ])
  })
})

describe("closing (spec.md §11.4)", () => {
  it("WS-5: a close frame without a code gives 1005; a dropped connection 1006", async () => {
    seen.length = 0
    const a = await open("/record")
    a.close()
    await until(() => seen.length === 2, "1005 recorded")
    expect(seen[0]).toBe("record:websocket.disconnect:1005::websocket.disconnect")
    seen.length = 0
    const b = await open("/record")
    b.terminate()
    await until(() => seen.length === 2, "1006 recorded")
    expect(seen[0]).toBe("record:websocket.disconnect:1006::websocket.disconnect")
  })

  it("WS-12: a text message that is not UTF-8 closes with 1007", async () => {
    const ws = await open("/echo")
    const closed = closeOf(ws)
    ws.send(Buffer.from([0xc3, 0x28]), { binary: false })
    expect((await closed)[0]).toBe(1007)
  })
})

describe("backpressure (spec.md §11.4)", () => {
  it("WS-6: a client that does not read stalls websocket.send", async () => {
    flooded = 0
    const ws = await open("/flood")
    ws.pause()
    await new Promise((r) => setTimeout(r, 500))
    const stalled = flooded
    await new Promise((r) => setTimeout(r, 300))
    // Loopback TCP buffers take a few MiB; without backpressure the app would be at hundreds.
    expect(stalled).toBeLessThan(32 * 1024 * 1024)
    expect(flooded - stalled).toBeLessThan(1024 * 1024)
    ws.terminate()
  })
})

describe("reading (spec.md §11.4)", () => {
  it("WS-4: a message sent in fragments reaches the app (and comes back) whole", async () => {
    const ws = await open("/echo")
    const reply = new Promise<string>((resolve) => ws.once("message", (d: Buffer) => resolve(d.toString())))
    ws.send("frag", { fin: false })
    ws.send("men", { fin: false })
    ws.send("ted", { fin: true })
    expect(await reply).toBe("fragmented")
    ws.close()
  })

  it("WS-6: an app that does not receive stops the reading of the socket; nothing is lost", async () => {
    const ws = await open("/sleepy")
    const chunk = randomBytes(65536)
    for (let i = 0; i < SLEEPY_MESSAGES; i++) ws.send(chunk)
    // Until the client's buffer stops shrinking (the app sleeps 2 s before it receives).
    for (let last = -1, waited = 0; ws.bufferedAmount !== last && waited < 1500; waited += 150) {
      last = ws.bufferedAmount
      await new Promise((r) => setTimeout(r, 150))
    }
    // The server stopped reading: the client still holds a good part of the
    // 62.5 MiB. (Loopback buffers can take ~36 MiB here — tcp_rmem's 32 MiB
    // maximum and tcp_wmem's 4 MiB — and a server that kept reading would
    // have taken it all.)
    expect(ws.bufferedAmount).toBeGreaterThan(8 * 1024 * 1024)
    const reply = await new Promise<string>((resolve) => ws.once("message", (d: Buffer) => resolve(d.toString())))
    expect(reply).toBe(`got ${SLEEPY_MESSAGES}`)
    ws.close()
  })
})
