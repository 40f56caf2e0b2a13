/**
 * `http.connection` as a view of the whole connection (spec.md §7.10, rule
 * HTTP-31): `openStreams` lists the streams of this connection whose app is
 * running, `closed` completes when the connection closes, and nothing stays
 * registered for a closed connection. Real sockets: node:http2 sessions
 * (push enabled for the pushed stream), raw HTTP/1.1 keep-alive sockets.
 */
import { Effect } from "effect"
import * as http2 from "node:http2"
import * as net from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { App } from "../../src/protocol/app.ts"
import type { ConnectionExtension } from "../../src/protocol/extensions.ts"
import { ConnectionStreams } from "../../src/runner/connection-streams.ts"
import { deferred, type Deferred, within } from "../support/async.ts"
import { h2close, h2connect, h2request, sleep } from "../support/clients.ts"
import { listen, type TestServer } from "../support/server.ts"

const text = (s: string) => new TextEncoder().encode(s)

/** What each path saw, by a key the test chooses. */
type Seen = Record<string, unknown>

/** Whether `promise` settled within `ms`. */
const settles = (promise: Promise<unknown>, ms: number): Promise<boolean> =>
  Promise.race([promise.then(() => true), sleep(ms).then(() => false)])

describe("HTTP-31: http.connection sees its whole connection", () => {
  let server: TestServer
  const seen: Seen = {}
  /** Resolved by the test to let /hold finish. */
  let release: Deferred<void> = deferred()
  /** Resolved by /hold once it has looked. */
  let held: Deferred<void> = deferred()
  /** `closed` followed by `openStreams`, forked by /watch: resolves when the connection closes. */
  const watchers: Array<Promise<ReadonlyArray<number>>> = []
  /** /stuck's app, still waiting for its body when the connection closes. */
  const stuck: Deferred<{ event: string; open: ReadonlyArray<number> }> = deferred()

  const app: App = (scope, receive, send) =>
    Effect.gen(function*() {
      if (scope.type !== "http") return
      const view = scope.extensions["http.connection"] as ConnectionExtension
      const key = `${scope.path} conn=${scope.connectionId} stream=${scope.streamId}`
      switch (scope.path) {
        case "/hold": {
          seen[`${key} before`] = yield* view.openStreams
          held.resolve()
          yield* Effect.promise(() => release.promise)
          seen[`${key} after`] = yield* view.openStreams
          break
        }
        case "/watch":
          // A fiber of its own that outlives the app: released by the connection's close.
          watchers.push(Effect.runPromise(view.closed.pipe(Effect.andThen(view.openStreams))))
          seen[key] = yield* view.openStreams
          break
        case "/stuck": {
          seen[key] = yield* view.openStreams
          held.resolve()
          let event = yield* receive
          while (event.type === "http.request" && event.moreBody) event = yield* receive
          stuck.resolve({ event: event.type, open: yield* view.openStreams })
          return
        }
        case "/push-parent": {
          seen[key] = yield* view.openStreams
          yield* send({ type: "http.response.start", status: 200 })
          yield* send({ type: "http.response.push", path: "/push-child" })
          // Stay running until the pushed stream's app has looked.
          yield* Effect.promise(() => held.promise)
          yield* send({ type: "http.response.body", body: text("parent") })
          return
        }
        case "/push-child":
          seen[`${key} pushedBy=${view.pushedBy}`] = yield* view.openStreams
          held.resolve()
          break
        default:
          seen[key] = yield* view.openStreams
      }
      yield* send({ type: "http.response.start", status: 200 })
      yield* send({ type: "http.response.body", body: text(scope.path) })
    })

  beforeAll(async () => {
    server = await listen(app)
  })
  afterAll(() => server.close())

  const reset = (): void => {
    for (const k of Object.keys(seen)) delete seen[k]
    release = deferred()
    held = deferred()
  }

  it("HTTP-31: two streams on one HTTP/2 connection see each other; a stream of another connection sees only its own", async () => {
    reset()
    const a = await h2connect(server.url)
    const b = await h2connect(server.url)
    try {
      const hold = h2request(a, { ":path": "/hold" })
      await within(held.promise, 3000, "/hold looked")
      expect((await h2request(a, { ":path": "/peek" })).status).toBe(200)
      expect((await h2request(b, { ":path": "/peek" })).status).toBe(200)
      release.resolve()
      expect((await hold).status).toBe(200)
      const conn = (path: string) => Object.keys(seen).find((k) => k.startsWith(path))!.split(" ")[1]
      const ca = conn("/hold")
      const cb = Object.keys(seen).filter((k) => k.startsWith("/peek")).map((k) => k.split(" ")[1]).find((c) => c !== ca)!
      expect(seen).toEqual({
        [`/hold ${ca} stream=1 before`]: [1],
        [`/peek ${ca} stream=3`]: [1, 3],
        [`/peek ${cb} stream=1`]: [1],
        // /peek's app returned: it is no longer listed.
        [`/hold ${ca} stream=1 after`]: [1]
      })
    } finally {
      await h2close(a)
      await h2close(b)
    }
  })

  it("HTTP-31: a pushed stream is listed with the stream that promised it while both apps run", async () => {
    reset()
    const session = http2.connect(server.url, { settings: { enablePush: true } })
    session.on("error", () => {})
    const pushed = new Promise<void>((resolve) =>
      session.on("stream", (stream) => {
        stream.resume()
        stream.on("close", () => resolve())
      })
    )
    try {
      const r = await h2request(session, { ":path": "/push-parent" })
      expect(r.body).toBe("parent")
      await within(pushed, 3000, "the pushed stream")
      expect(seen).toEqual({
        [`/push-parent conn=${connId(seen, "/push-parent")} stream=1`]: [1],
        [`/push-child conn=${connId(seen, "/push-parent")} stream=2 pushedBy=1`]: [1, 2]
      })
    } finally {
      await h2close(session)
    }
  })

  it("HTTP-31: closed completes when the client closes the HTTP/2 connection, not before; then openStreams yields []", async () => {
    reset()
    watchers.length = 0
    const session = await h2connect(server.url)
    expect((await h2request(session, { ":path": "/watch" })).status).toBe(200)
    expect((await h2request(session, { ":path": "/watch" })).status).toBe(200)
    expect(watchers.length).toBe(2)
    // Both apps returned; the connection is open: nothing completes.
    expect(await settles(Promise.all(watchers), 200)).toBe(false)
    await h2close(session)
    expect(await within(Promise.all(watchers), 3000, "closed after the client's close")).toEqual([[], []])
  })

  it("HTTP-31: no leak — an app still running when the connection closes sees openStreams [] and closed at once; nothing is re-listed", async () => {
    reset()
    const session = await h2connect(server.url)
    // A POST whose body never ends: its app waits in receive.
    const req = session.request({ ":path": "/stuck", ":method": "POST" }, { endStream: false })
    req.on("error", () => {})
    await within(held.promise, 3000, "/stuck looked")
    session.destroy()
    const after = await within(stuck.promise, 3000, "/stuck's receive after the close")
    expect(after).toEqual({ event: "http.disconnect", open: [] })
    expect(Object.values(seen)).toEqual([[1]])
  })

  it("HTTP-31: on HTTP/1.1 keep-alive each request is numbered on its connection and sees only itself; closed completes when the client closes the socket", async () => {
    reset()
    watchers.length = 0
    const socket = net.connect(server.port, "127.0.0.1")
    let received = ""
    socket.on("data", (d: Buffer) => void (received += d.toString("latin1")))
    await new Promise<void>((resolve) => socket.once("connect", () => resolve()))
    const responses = async (n: number) => {
      const end = Date.now() + 3000
      while ((received.match(/HTTP\/1\.1 200/g) ?? []).length < n || !received.endsWith("/watch")) {
        if (Date.now() > end) throw new Error(`no response ${n}: ${received}`)
        await sleep(5)
      }
    }
    socket.write("GET /watch HTTP/1.1\r\nhost: x\r\n\r\n")
    await responses(1)
    socket.write("GET /watch HTTP/1.1\r\nhost: x\r\n\r\n")
    await responses(2)
    const keys = Object.keys(seen)
    expect(keys.map((k) => k.replace(/conn=\d+/, "conn=N"))).toEqual(["/watch conn=N stream=1", "/watch conn=N stream=2"])
    expect(new Set(keys.map((k) => k.split(" ")[1])).size).toBe(1)
    expect(Object.values(seen)).toEqual([[1], [2]])
    expect(await settles(Promise.all(watchers), 200)).toBe(false)
    socket.end()
    expect(await within(Promise.all(watchers), 3000, "closed after the client's FIN")).toEqual([[], []])
  })
})

/** The `conn=N` of the entry for `path`. */
const connId = (seen: Seen, path: string): string => Object.keys(seen).find((k) => k.startsWith(path))!.split(" ")[1]!.slice(5)

describe("HTTP-31: the registry behind the view", () => {
  it("HTTP-31: lists entered streams ascending, drops left ones; close empties it for good and releases closed", async () => {
    const streams = new ConnectionStreams()
    streams.enter(5)
    streams.enter(1)
    streams.enter(3)
    streams.leave(3)
    expect(streams.list()).toEqual([1, 5])
    const waiter = Effect.runPromise(streams.closed)
    expect(await settles(waiter, 20)).toBe(false)
    streams.close()
    await within(waiter, 1000, "closed")
    expect(streams.size).toBe(0)
    // A stream entering after the close (or leaving late) changes nothing.
    streams.enter(7)
    streams.leave(1)
    expect(streams.size).toBe(0)
    expect(streams.list()).toEqual([])
    await within(Effect.runPromise(streams.closed), 100, "closed once closed")
  })
})
