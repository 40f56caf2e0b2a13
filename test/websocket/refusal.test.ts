/**
 * `receive` after a handshake answered with an HTTP response instead of a
 * WebSocket (spec.md §11.2, rule WS-18): the app's refusal
 * (`websocket.close` before accept), its denial (`websocket.http.response.*`)
 * and the runner's own 503 on shutdown (WS-14) end with
 * `websocket.disconnect` 1006 once the answer is complete — and again on
 * every later `receive` (WS-5) — on both transports; a `send` after the
 * answer still fails with WS-7, not StreamClosedError.
 *
 * The app is not under `validate`: the send after the answer must reach the
 * runner's own checks.
 */
import { Effect, Option } from "effect"
import { randomBytes } from "node:crypto"
import * as net from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { App } from "../../src/protocol/app.ts"
import type { InboundEvent, OutboundEvent } from "../../src/protocol/events.ts"
import { within } from "../support/async.ts"
import { until } from "../support/clients.ts"
import { closeSession, collect, connect } from "../support/h2client.ts"
import { listen, type TestServer } from "../support/server.ts"

const utf8 = new TextEncoder()

/** What each path's app saw, in order. */
const seen = new Map<string, Array<string>>()
const note = (path: string, entry: string) => Effect.sync(() => void seen.set(path, [...(seen.get(path) ?? []), entry]))

/** The next event as a string, or `nothing` when none comes within `ms`. */
const next = (receive: Effect.Effect<InboundEvent>, ms: number) =>
  receive.pipe(
    Effect.timeoutOption(ms),
    Effect.map(Option.match({
      onNone: () => "nothing",
      onSome: (e) => (e.type === "websocket.disconnect" ? `disconnect:${e.code}:${e.reason}` : e.type)
    }))
  )

/** Sends `event` and notes how that went: `sent`, or the error's tag and rule. */
const attempt = (path: string, send: (e: OutboundEvent) => Effect.Effect<void, unknown>, event: OutboundEvent) =>
  send(event).pipe(
    Effect.flatMap(() => note(path, "sent")),
    Effect.catch((e) => note(path, `${(e as { _tag?: string })._tag}:${(e as { rule?: string }).rule ?? ""}`))
  )

const app: App = (scope, receive, send) => {
  if (scope.type !== "websocket") return Effect.void
  // The path is /h1/<case> or /h2/<case>: the transport's prefix, then what the app does.
  const path = scope.path
  const kind = path.split("/")[2]
  return Effect.gen(function*() {
    yield* receive // websocket.connect
    switch (kind) {
      case "refuse": {
        yield* send({ type: "websocket.close" })
        for (let i = 0; i < 3; i++) yield* note(path, yield* next(receive, 2000))
        return yield* attempt(path, send, { type: "websocket.send", text: "after the refusal" })
      }
      case "deny": {
        yield* send({ type: "websocket.http.response.start", status: 401, headers: [["content-type", "text/plain"]] })
        yield* send({ type: "websocket.http.response.body", body: utf8.encode("no "), moreBody: true })
        // The denial is not complete yet: nothing to receive.
        yield* note(path, yield* next(receive, 200))
        yield* send({ type: "websocket.http.response.body", body: utf8.encode("entry") })
        for (let i = 0; i < 2; i++) yield* note(path, yield* next(receive, 2000))
        return yield* attempt(path, send, { type: "websocket.http.response.body", body: utf8.encode("more") })
      }
      case "wait": {
        // Never answers: the runner's shutdown refuses the handshake with 503 (WS-14).
        yield* note(path, "waiting")
        for (let i = 0; i < 2; i++) yield* note(path, yield* next(receive, 5000))
        return
      }
    }
  })
}

/** The whole HTTP/1.1 answer to a WebSocket handshake for `path`, read to the connection's close. */
const h1Answer = (port: number, path: string): Promise<{ status: number; body: string }> =>
  new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1", () =>
      socket.write(
        `GET ${path} HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\nconnection: Upgrade\r\nupgrade: websocket\r\n` +
          `sec-websocket-version: 13\r\nsec-websocket-key: ${randomBytes(16).toString("base64")}\r\n\r\n`
      )
    )
    let got = ""
    socket.on("data", (d: Buffer) => (got += d.toString("latin1")))
    socket.on("error", reject)
    socket.on("close", () => {
      const end = got.indexOf("\r\n\r\n")
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3}) /.exec(got)?.[1] ?? 0), body: end < 0 ? "" : got.slice(end + 4) })
    })
  })

/** The whole HTTP/2 answer to an RFC 8441 extended CONNECT for `path`. */
const h2Answer = async (port: number, path: string): Promise<{ status: number; body: string }> => {
  const session = await connect(`http://127.0.0.1:${port}`)
  try {
    const stream = session.request(
      { ":method": "CONNECT", ":protocol": "websocket", ":path": path, ":scheme": "http", "sec-websocket-version": "13" },
      { endStream: false }
    )
    const r = await collect(stream)
    return { status: r.status ?? 0, body: r.body.toString() }
  } finally {
    await closeSession(session)
  }
}

const transports = [
  { name: "HTTP/1.1 Upgrade", prefix: "/h1", answer: h1Answer },
  { name: "HTTP/2 extended CONNECT", prefix: "/h2", answer: h2Answer }
] as const

let server: TestServer
beforeAll(async () => {
  server = await listen(app)
})
afterAll(() => server.close())

describe.each(transports)("$name", ({ prefix, answer }) => {
  it("WS-18 WS-5 WS-7: after the app's refusal (websocket.close before accept) receive yields websocket.disconnect 1006, every time; a send still fails with WS-7", async () => {
    const path = `${prefix}/refuse`
    expect((await within(answer(server.port, path), 5000, "the refusal")).status).toBe(403)
    await until(() => (seen.get(path)?.length ?? 0) === 4, `the app's receives on ${path}`, 8000)
    expect(seen.get(path)).toEqual(["disconnect:1006:", "disconnect:1006:", "disconnect:1006:", "LocalProtocolError:WS-7"])
  })

  it("WS-18 WS-5 WS-7: after the last chunk of the app's denial (not before) receive yields websocket.disconnect 1006, every time; a send still fails with WS-7", async () => {
    const path = `${prefix}/deny`
    expect(await within(answer(server.port, path), 5000, "the denial")).toEqual({ status: 401, body: "no entry" })
    await until(() => (seen.get(path)?.length ?? 0) === 4, `the app's receives on ${path}`, 8000)
    expect(seen.get(path)).toEqual(["nothing", "disconnect:1006:", "disconnect:1006:", "LocalProtocolError:WS-7"])
  })
})

describe.each(transports)("shutdown, $name", ({ prefix, answer }) => {
  it("WS-18 WS-14: a handshake still unanswered at shutdown gets 503, and the app waiting in receive gets websocket.disconnect 1006 at once, not at the drain timeout", async () => {
    const own = await listen(app, { drainTimeout: 5000 })
    const path = `${prefix}/wait`
    const answered = answer(own.port, path)
    await until(() => seen.get(path)?.[0] === "waiting", "the app waiting in receive")
    const started = Date.now()
    await own.close()
    expect(Date.now() - started).toBeLessThan(2000)
    expect((await within(answered, 5000, "the 503")).status).toBe(503)
    expect(seen.get(path)).toEqual(["waiting", "disconnect:1006:", "disconnect:1006:"])
  })
})
