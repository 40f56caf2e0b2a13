/**
 * Admission control (spec.md §8.3, RUN-22 and RUN-23), over real sockets:
 * past `limitConcurrency` in-flight apps a request or WebSocket handshake
 * gets 503 with `retry-after` (and HTTP/2 streams of one connection count
 * one by one); past `maxConnections` a connection is refused in its own
 * protocol (HTTP/1.1 503 and close, HTTP/2 GOAWAY REFUSED_STREAM); after
 * the load everything is served again. Rejections are counted by reason
 * and summed up in at most one log line a second.
 */
import { ConfigProvider, Effect, Metric } from "effect"
import * as net from "node:net"
import { describe, expect, it } from "vitest"
import WebSocket from "ws"
import type { App } from "../../src/protocol/app.ts"
import { optionsConfig } from "../../src/runner/config.ts"
import { start } from "../../src/runner/server.ts"
import { runCli } from "../support/cli.ts"
import { h2request, rawHttp, sleep, statusOf, until } from "../support/clients.ts"
import { closeSession, connect } from "../support/h2client.ts"
import { listen } from "../support/server.ts"

type Snap = { readonly id: string; readonly attributes?: Readonly<Record<string, unknown>> | undefined; readonly state: any }
const rejectedCount = (reason: string): number => {
  const snaps = Effect.runSync(Metric.snapshot) as ReadonlyArray<Snap>
  return snaps.find((s) => s.id === "egi.requests.rejected" && s.attributes?.["reason"] === reason)?.state.count ?? 0
}

/** A gate the app's `/slow` waits on; `open()` lets every waiting request through. */
const makeGate = () => {
  let open!: () => void
  let promise = new Promise<void>((resolve) => (open = resolve))
  return {
    wait: () => promise,
    open: () => open(),
    reset: () => void (promise = new Promise<void>((resolve) => (open = resolve)))
  }
}

/** `/slow` holds until the gate opens; anything else answers 200 at once. WebSockets are accepted and closed. */
const gatedApp = (gate: ReturnType<typeof makeGate>): App => (scope, receive, send) =>
  Effect.gen(function*() {
    if (scope.type === "websocket") {
      yield* receive
      yield* send({ type: "websocket.accept" })
      yield* send({ type: "websocket.close", code: 1000 })
      return
    }
    if (scope.type !== "http") return
    if (scope.path === "/slow") yield* Effect.promise(() => gate.wait())
    yield* send({ type: "http.response.start", status: 200 })
    yield* send({ type: "http.response.body", body: new TextEncoder().encode("ok") })
  })

/** A raw HTTP/1.1 GET on its own connection, kept open. */
const keptOpen = (port: number): Promise<net.Socket> =>
  new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1")
    socket.on("error", reject)
    socket.on("data", (d: Buffer) => {
      if (d.toString("latin1").includes("\r\n\r\nok")) resolve(socket)
    })
    socket.on("connect", () => socket.write("GET / HTTP/1.1\r\nhost: x\r\n\r\n"))
  })

/** The status a new connection gets, retried for a moment while the server notices a connection that closed. */
const servedSoon = async (port: number): Promise<number | undefined> => {
  const end = Date.now() + 2000
  while (true) {
    const r = await rawHttp(port, ["GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"])
    const status = statusOf(r.text)
    if (status !== 503 || Date.now() > end) return status
    await sleep(20)
  }
}

/** A raw HTTP/1.1 connection kept open after one response of any body. */
const keptOpenAny = (port: number): Promise<net.Socket> =>
  new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1")
    socket.on("error", reject)
    socket.once("data", () => resolve(socket))
    socket.on("connect", () => socket.write("GET / HTTP/1.1\r\nhost: x\r\n\r\n"))
  })

describe("RUN-22: limitConcurrency", () => {
  it("RUN-22: past the limit, HTTP/1.1 and HTTP/2 requests get 503 with retry-after, the rest 200; after the load all are 200", async () => {
    const gate = makeGate()
    const server = await listen(gatedApp(gate), { limitConcurrency: 4 })
    const before = rejectedCount("concurrency")
    try {
      const session = await connect(server.url)
      // 6 over HTTP/1.1 (fetch opens connections as it needs them), 6 over HTTP/2.
      const h1 = Array.from({ length: 6 }, () => fetch(`${server.url}/slow`).then(async (r) => ({ status: r.status, retry: r.headers.get("retry-after"), body: await r.text() })))
      const h2 = Array.from({ length: 6 }, () => h2request(session, { ":path": "/slow" }).then((r) => ({ status: r.status, retry: r.headers?.["retry-after"] ?? null, body: r.body })))
      await until(() => server.inflight() === 4 && rejectedCount("concurrency") - before === 8, "4 apps in flight and 8 rejections")
      gate.open()
      const all = await Promise.all([...h1, ...h2])
      const ok = all.filter((r) => r.status === 200)
      const busy = all.filter((r) => r.status === 503)
      expect(ok).toHaveLength(4)
      expect(busy).toHaveLength(8)
      for (const r of ok) expect(r.body).toBe("ok")
      for (const r of busy) expect(r.retry).toBe("1")
      // After the load: everything is served again, on both protocols.
      for (let i = 0; i < 5; i++) {
        expect((await fetch(`${server.url}/slow`)).status).toBe(200)
        expect((await h2request(session, { ":path": "/slow" })).status).toBe(200)
      }
      await closeSession(session)
      // Each rejected request has its access-log line with its 503.
      expect(server.lines.access.filter((l) => / 503 /.test(l))).toHaveLength(8)
    } finally {
      await server.close()
    }
  })

  it("RUN-22: over HTTP/1.1 the 503 keeps the connection open: a next request on it is answered", async () => {
    const gate = makeGate()
    const server = await listen(gatedApp(gate), { limitConcurrency: 1 })
    try {
      const slow = fetch(`${server.url}/slow`)
      await until(() => server.inflight() === 1, "1 app in flight")
      const get = "GET / HTTP/1.1\r\nhost: x\r\n\r\n"
      const r = await rawHttp(server.port, [get, get], { gapMs: 100, done: (t) => t.split("HTTP/1.1 503").length === 3 })
      expect(r.closed).toBe(false)
      expect(r.text.split("HTTP/1.1 503 Service Unavailable\r\n").length).toBe(3)
      expect(r.text).not.toMatch(/connection: close/i)
      gate.open()
      expect((await slow).status).toBe(200)
    } finally {
      await server.close()
    }
  })

  it("RUN-22: many HTTP/2 streams on one connection count one by one: a client cannot dodge the limit by multiplexing", async () => {
    const gate = makeGate()
    const server = await listen(gatedApp(gate), { limitConcurrency: 3 })
    try {
      const session = await connect(server.url)
      const outcomes = Array.from({ length: 20 }, () => h2request(session, { ":path": "/slow" }))
      await until(() => server.inflight() === 3, "3 apps in flight")
      // The rejected ones are answered at once, while the admitted ones still wait.
      const early = await Promise.race([Promise.all(outcomes), sleep(300).then(() => "waiting")])
      expect(early).toBe("waiting")
      expect(server.inflight()).toBe(3)
      gate.open()
      const statuses = (await Promise.all(outcomes)).map((r) => r.status)
      expect(statuses.filter((s) => s === 200)).toHaveLength(3)
      expect(statuses.filter((s) => s === 503)).toHaveLength(17)
      // The connection is still good, and the limit is free again.
      gate.reset()
      gate.open()
      const again = await Promise.all(Array.from({ length: 3 }, () => h2request(session, { ":path": "/slow" })))
      expect(again.map((r) => r.status)).toEqual([200, 200, 200])
      await closeSession(session)
    } finally {
      await server.close()
    }
  })

  it("RUN-22: a WebSocket's app counts as in flight, and a handshake past the limit gets 503 with retry-after", async () => {
    const gate = makeGate()
    const server = await listen(gatedApp(gate), { limitConcurrency: 1 })
    const wsUrl = server.url.replace(/^http/, "ws")
    const handshake = () =>
      new Promise<{ status: number; retry: string | undefined }>((resolve) => {
        const ws = new WebSocket(`${wsUrl}/ws`)
        ws.on("unexpected-response", (_req, res) => {
          resolve({ status: res.statusCode ?? 0, retry: res.headers["retry-after"] as string | undefined })
          res.resume()
          ws.terminate()
        })
        ws.on("upgrade", () => resolve({ status: 101, retry: undefined }))
        ws.on("error", () => {})
      })
    try {
      const slow = fetch(`${server.url}/slow`)
      await until(() => server.inflight() === 1, "1 app in flight")
      expect(await handshake()).toEqual({ status: 503, retry: "1" })
      gate.open()
      expect((await slow).status).toBe(200)
      await until(() => server.inflight() === 0, "no app in flight")
      expect((await handshake()).status).toBe(101)
    } finally {
      await server.close()
    }
  })

  it("RUN-22: rejections are counted by reason and logged at most once a second, summed up", async () => {
    const gate = makeGate()
    const server = await listen(gatedApp(gate), { limitConcurrency: 1 })
    const before = rejectedCount("concurrency")
    try {
      const session = await connect(server.url)
      const slow = h2request(session, { ":path": "/slow" })
      await until(() => server.inflight() === 1, "1 app in flight")
      const burst = await Promise.all(Array.from({ length: 50 }, () => h2request(session, { ":path": "/" })))
      expect(burst.every((r) => r.status === 503)).toBe(true)
      expect(rejectedCount("concurrency") - before).toBe(50)
      // The first rejection at once; the other 49 in one line a second later.
      const overloaded = () => server.lines.error.filter((l) => l.includes("overloaded"))
      expect(overloaded()).toHaveLength(1)
      expect(overloaded()[0]).toContain("1 request(s) got 503 (limitConcurrency 1")
      await until(() => overloaded().length === 2, "the summary line", 2500)
      expect(overloaded()[1]).toContain("49 request(s) got 503")
      gate.open()
      expect((await slow).status).toBe(200)
      await closeSession(session)
    } finally {
      await server.close()
    }
  })
})

describe("RUN-23: maxConnections", () => {
  it("RUN-23: past the limit a new HTTP/1.1 connection gets 503 with retry-after and a clean close; once one closes, new ones are served", async () => {
    const gate = makeGate()
    const server = await listen(gatedApp(gate), { maxConnections: 2 })
    const before = rejectedCount("connections")
    try {
      const a = await keptOpen(server.port)
      const b = await keptOpen(server.port)
      const refused = await rawHttp(server.port, ["GET / HTTP/1.1\r\nhost: x\r\n\r\n"])
      expect(statusOf(refused.text)).toBe(503)
      expect(refused.text).toMatch(/\r\nretry-after: 1\r\n/i)
      expect(refused.text).toMatch(/\r\nconnection: close\r\n/i)
      expect(refused.closed).toBe(true)
      expect(refused.error).toBeUndefined()
      // A client that says nothing is closed as well, before long.
      const silent = await rawHttp(server.port, [], { timeoutMs: 3000 })
      expect(silent.closed).toBe(true)
      expect(rejectedCount("connections") - before).toBe(2)
      a.destroy()
      expect(await servedSoon(server.port)).toBe(200)
      b.destroy()
    } finally {
      await server.close()
    }
  })

  it("RUN-23: past the limit a new HTTP/2 connection gets GOAWAY REFUSED_STREAM with last-stream-id 0; its streams are not processed", async () => {
    const gate = makeGate()
    const server = await listen(gatedApp(gate), { maxConnections: 1 })
    try {
      const first = await connect(server.url)
      expect((await h2request(first, { ":path": "/" })).status).toBe(200)
      const second = await connect(server.url)
      const goaway = new Promise<{ code: number; last: number }>((resolve) =>
        second.once("goaway", (code: number, last: number) => resolve({ code, last }))
      )
      const outcome = await h2request(second, { ":path": "/" })
      expect(await goaway).toEqual({ code: 7, last: 0 })
      expect(outcome.status).toBeUndefined()
      expect(server.lines.access).toHaveLength(1)
      second.destroy()
      await closeSession(first)
      expect(await servedSoon(server.port)).toBe(200)
      const third = await connect(server.url)
      expect((await h2request(third, { ":path": "/" })).status).toBe(200)
      await closeSession(third)
    } finally {
      await server.close()
    }
  })
})

describe("RUN-22, RUN-23: options", () => {
  it("RUN-22: limitConcurrency and maxConnections are off by default, read from EGI_LIMIT_CONCURRENCY and EGI_MAX_CONNECTIONS, and checked", async () => {
    const provider = ConfigProvider.fromEnv({ env: { EGI_LIMIT_CONCURRENCY: "100", EGI_MAX_CONNECTIONS: "1000" } })
    expect(await Effect.runPromise(optionsConfig.parse(provider))).toEqual({ limitConcurrency: 100, maxConnections: 1000 })
    const bad = ConfigProvider.fromEnv({ env: { EGI_MAX_CONNECTIONS: "-1" } })
    expect((await Effect.runPromise(Effect.exit(optionsConfig.parse(bad))))._tag).toBe("Failure")
    const app: App = () => Effect.void
    const exit = await Effect.runPromise(Effect.exit(Effect.scoped(start(app, { port: 0, log: false, limitConcurrency: -1 }))))
    expect(exit._tag).toBe("Failure")
    expect(JSON.stringify(exit)).toContain("limitConcurrency must be an integer from 0 to 9007199254740991 (apps in flight; 0: no limit), got -1")
  })
})

describe("RUN-22, RUN-23: egi serve --limit-concurrency, --max-connections", () => {
  it("RUN-23: --max-connections (and EGI_MAX_CONNECTIONS) limit the CLI's server; EGI_LIMIT_CONCURRENCY=-1 is refused with exit 2", async () => {
    const c = runCli(["serve", "examples/hello.ts", "--port", "0", "--max-connections", "1"], { env: { EGI_MAX_CONNECTIONS: "50", EGI_LIMIT_CONCURRENCY: "8" } })
    try {
      const { port } = await c.listening(20_000)
      const a = await keptOpenAny(port)
      const refused = await rawHttp(port, ["GET / HTTP/1.1\r\nhost: x\r\n\r\n"])
      expect(statusOf(refused.text)).toBe(503)
      a.destroy()
      expect(await servedSoon(port)).toBe(200)
      await c.waitFor("stderr", /overloaded: 1 connection\(s\) refused \(maxConnections 1 open\)/)
    } finally {
      await c.dispose()
    }
    const bad = runCli(["serve", "examples/hello.ts", "--port", "0"], { env: { EGI_LIMIT_CONCURRENCY: "-1" } })
    try {
      const exit = await bad.exit
      expect(exit.code).toBe(2)
      expect(bad.stderr()).toMatch(/egi: EGI_LIMIT_CONCURRENCY takes an integer from 0 to/)
    } finally {
      await bad.dispose()
    }
  })
})
