/**
 * WebSockets from an effect HttpRouter route on the wire (spec.md §12.1,
 * §11): `request.upgrade` / `upgradeWith` on a `websocket` scope, the same
 * route over an HTTP/1.1 Upgrade (the `ws` client) and over an HTTP/2
 * extended CONNECT (RFC 8441; undici's WebSocket on an h2c dispatcher) —
 * messages both ways, a subprotocol and extra headers on the accept, close
 * codes in both directions, and a route that does not upgrade answered as a
 * denial. Served under `validate`, so every event is checked against spec.md.
 */
import { Context, Effect, Layer, type Scope } from "effect"
import * as HttpRouter from "effect/http/HttpRouter"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as Socket from "effect/socket/Socket"
import { Agent, WebSocket as UndiciWebSocket } from "undici"
import { afterAll, describe, expect, it } from "vitest"
import WsWebSocket from "ws"
import { fromHttpApp } from "../../../src/adapters/effect/index.ts"
import { validate } from "../../../src/testing/validate.ts"
import { until } from "../../support/clients.ts"
import { useServer } from "../../support/server.ts"

/** The close codes the route saw: the client's close as `SocketCloseError{code, closeReason}`. */
const seen: Array<string> = []

const Routes = Layer.mergeAll(
  HttpRouter.add(
    "GET",
    "/echo",
    Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const offered = (request.headers["sec-websocket-protocol"] ?? "").split(/\s*,\s*/)
      const socket = yield* (offered.includes("chat.v1")
        ? request.upgradeWith({ headers: { "sec-websocket-protocol": "chat.v1", "x-upgraded-by": "effect" } })
        : request.upgrade)
      const writer = yield* socket.writer
      const { pull } = yield* socket.reader
      while (true) {
        for (const message of yield* pull) {
          if (message === "close please") yield* writer.write(new Socket.CloseEvent(4000, "as asked"))
          else yield* writer.write(message)
        }
      }
    }).pipe(
      Effect.catchTag("SocketError", (error) =>
        Effect.sync(() => {
          const reason = error.reason
          seen.push(reason._tag === "SocketCloseError" ? `${reason.code} ${reason.closeReason ?? ""}` : reason._tag)
          return HttpServerResponse.empty()
        }))
    )
  ),
  HttpRouter.add("GET", "/private", HttpServerResponse.text("members only", { status: 401 })),
  // A route written for HTTP/1.1: it upgrades only a request whose fields say so.
  HttpRouter.add(
    "GET",
    "/gated",
    Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const upgrade = request.headers.upgrade ?? ""
      const connection = request.headers.connection ?? ""
      if (upgrade.toLowerCase() !== "websocket" || !/(^|,)\s*upgrade\s*(,|$)/i.test(connection)) {
        return HttpServerResponse.text("not a websocket request", { status: 426 })
      }
      const socket = yield* request.upgrade
      const writer = yield* socket.writer
      yield* writer.write(`${upgrade.toLowerCase()} ${connection.toLowerCase()}`)
      return HttpServerResponse.empty()
    })
  )
)

class Router extends Context.Service<
  Router,
  Effect.Effect<HttpServerResponse.HttpServerResponse, unknown, HttpServerRequest.HttpServerRequest | Scope.Scope>
>()("test/effect-ws/Router") {}

const layer = Layer.effect(Router)(HttpRouter.toHttpEffect(Routes))
const app = fromHttpApp(Effect.flatMap(Router, (router) => router))

const server = useServer(validate(app as never), { accessLog: false }, layer)
const dispatcher = new Agent({ allowH2: true, useH2c: true, connections: 1 } as ConstructorParameters<typeof Agent>[0])
afterAll(() => dispatcher.close())

const url = (path: string) => server().url.replace("http://", "ws://") + path

/** A WebSocket client with one interface over both transports. */
interface Client {
  readonly protocol: string
  send(text: string): void
  next(): Promise<string>
  close(code: number, reason: string): void
  closed: Promise<[number, string]>
}

const h1 = (path: string, protocols: Array<string> = []): Promise<Client & { headers: Record<string, unknown> }> =>
  new Promise((resolve, reject) => {
    const ws = new WsWebSocket(url(path), protocols)
    const inbox: Array<string> = []
    const waiters: Array<(s: string) => void> = []
    let headers: Record<string, unknown> = {}
    ws.once("upgrade", (res) => void (headers = res.headers))
    ws.on("message", (data) => {
      const s = data.toString()
      const w = waiters.shift()
      if (w) w(s)
      else inbox.push(s)
    })
    const closed = new Promise<[number, string]>((r) => ws.once("close", (code, reason) => r([code, reason.toString()])))
    ws.once("error", reject)
    ws.once("open", () =>
      resolve({
        protocol: ws.protocol,
        headers,
        send: (t) => ws.send(t),
        next: () => (inbox.length > 0 ? Promise.resolve(inbox.shift()!) : new Promise((r) => waiters.push(r))),
        close: (code, reason) => ws.close(code, reason),
        closed
      }))
  })

const h2 = (path: string, protocols: Array<string> = []): Promise<Client> =>
  new Promise((resolve, reject) => {
    const ws = new UndiciWebSocket(url(path), { dispatcher, protocols } as unknown as ConstructorParameters<typeof UndiciWebSocket>[1])
    const inbox: Array<string> = []
    const waiters: Array<(s: string) => void> = []
    ws.onmessage = (e) => {
      const s = String(e.data)
      const w = waiters.shift()
      if (w) w(s)
      else inbox.push(s)
    }
    const closed = new Promise<[number, string]>((r) => (ws.onclose = (e) => r([e.code, e.reason])))
    ws.onerror = (e) => reject(new Error(String((e as { message?: string }).message ?? "error")))
    ws.onopen = () =>
      resolve({
        protocol: ws.protocol,
        send: (t) => ws.send(t),
        next: () => (inbox.length > 0 ? Promise.resolve(inbox.shift()!) : new Promise((r) => waiters.push(r))),
        close: (code, reason) => ws.close(code, reason),
        closed
      })
  })

for (const [transport, open] of [["HTTP/1.1 Upgrade", h1], ["HTTP/2 extended CONNECT (RFC 8441)", h2]] as const) {
  describe(`an HttpRouter WebSocket route over ${transport}`, () => {
    it("HTTPAPP-20 HTTPAPP-21: request.upgrade echoes messages; the client's close code reaches the route as SocketCloseError", async () => {
      const ws = await open("/echo")
      ws.send("hello")
      expect(await ws.next()).toBe("hello")
      ws.send("again")
      expect(await ws.next()).toBe("again")
      const before = seen.length
      ws.close(4001, "bye")
      expect((await ws.closed)[0]).toBe(4001)
      await until(() => seen.length > before, "the route to see the close")
      expect(seen.at(-1)).toBe("4001 bye")
    })

    it("HTTPAPP-20: upgradeWith's sec-websocket-protocol is the subprotocol chosen", async () => {
      const ws = await open("/echo", ["chat.v0", "chat.v1"])
      expect(ws.protocol).toBe("chat.v1")
      if ("headers" in ws) expect((ws as { headers: Record<string, unknown> }).headers["x-upgraded-by"]).toBe("effect")
      ws.close(1000, "")
      await ws.closed
    })

    it("HTTPAPP-1: the request has upgrade: websocket and connection: upgrade, so a route that checks them upgrades", async () => {
      const ws = await open("/gated")
      expect(await ws.next()).toBe("websocket upgrade")
      expect((await ws.closed)[0]).toBe(1000)
    })

    it("HTTPAPP-21: a CloseEvent written by the route closes the WebSocket with its code and reason", async () => {
      const ws = await open("/echo")
      ws.send("close please")
      expect(await ws.closed).toEqual([4000, "as asked"])
    })
  })
}

describe("a route that does not upgrade", () => {
  it("HTTPAPP-20: its response is the handshake's denial (status and body), on HTTP/1.1", async () => {
    const denial = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const ws = new WsWebSocket(url("/private"))
      ws.on("error", () => {})
      ws.once("open", () => reject(new Error("accepted")))
      ws.once("unexpected-response", (_req, res) => {
        let body = ""
        res.on("data", (d: Buffer) => (body += d.toString()))
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }))
      })
    })
    expect(denial).toEqual({ status: 401, body: "members only" })
  })
})
