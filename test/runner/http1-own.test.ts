/**
 * The runner's own HTTP/1.1 codec on the wire (spec.md §8.7, RUN-40):
 * requests without a body are served by it, the first other request hands
 * the connection to node:http, pipelined requests are answered in order,
 * and a head pipelined behind a response still has the header timeout.
 * Which codec answered shows in the response: the own codec writes its
 * framing fields in lower case (`date:`), node:http capitalizes them.
 */
import { Effect } from "effect"
import * as net from "node:net"
import { describe, expect, it } from "vitest"
import type { App } from "../../src/protocol/app.ts"
import { unsupportedScope } from "../../src/protocol/unsupported.ts"
import { start } from "../../src/runner/server.ts"
import { rawHttp, statusOf } from "../support/clients.ts"
import { withServer } from "../support/server.ts"
import { Writable } from "node:stream"
import { corkForTurn } from "../../src/runner/turn-cork.ts"

/**
 * Keeps the turn cork busy (spec.md §8.7) while `f` runs: every turn writes
 * to two scratch streams, so the server's writes in those turns are corked
 * until the turn's end, as under load.
 */
const whileBusy = async <A>(f: () => Promise<A>): Promise<A> => {
  const sinks = [0, 1].map(() => new Writable({ write: (_c, _e, done) => done() }))
  let on = true
  const tick = (): void => {
    if (!on) return
    for (const s of sinks) {
      corkForTurn(s)
      s.write("x")
    }
    setImmediate(tick)
  }
  tick()
  try {
    return await f()
  } finally {
    on = false
  }
}

/** Answers with the method, target and the body's length. */
const app: App = (scope, receive, send) => {
  if (scope.type !== "http") return unsupportedScope(scope)
  return Effect.gen(function*() {
    let bytes = 0
    while (true) {
      const event = yield* receive
      if (event.type !== "http.request") break
      bytes += event.body.length
      if (!event.moreBody) break
    }
    yield* send({ type: "http.response.start", status: 200, headers: [["content-type", "text/plain"]] })
    yield* send({ type: "http.response.body", body: new TextEncoder().encode(`${scope.method} ${scope.rawPath} ${bytes}`) })
  })
}

/** The responses in `text`, in order: who wrote each (own: lower-case `date:`) and its body. */
const responses = (text: string): Array<{ readonly own: boolean; readonly body: string }> => {
  const out: Array<{ own: boolean; body: string }> = []
  let at = 0
  while (true) {
    const start = text.indexOf("HTTP/1.1 ", at)
    if (start < 0) return out
    const end = text.indexOf("\r\n\r\n", start)
    const head = text.slice(start, end)
    const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? "0")
    out.push({ own: head.includes("\r\ndate: "), body: text.slice(end + 4, end + 4 + length) })
    at = end + 4 + length
  }
}

describe("RUN-40: the own HTTP/1.1 codec and node:http", () => {
  it("RUN-40: serves requests without a body itself and hands the connection to node:http at the first with one, in order", async () => {
    await withServer(app, {}, async (server) => {
      const r = await rawHttp(server.port, [
        "GET /a HTTP/1.1\r\nhost: x\r\n\r\nGET /b HTTP/1.1\r\nhost: x\r\n\r\n",
        "POST /c HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\n\r\nhelloGET /d HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"
      ], { gapMs: 100 })
      expect(responses(r.text)).toEqual([
        { own: true, body: "GET /a 0" },
        { own: true, body: "GET /b 0" },
        { own: false, body: "POST /c 5" },
        { own: false, body: "GET /d 0" }
      ])
      expect(r.closed).toBe(true)
    })
  })

  it("RUN-40: with http1Codec \"node\", node:http serves every request", async () => {
    await withServer(app, { http1Codec: "node" }, async (server) => {
      const r = await rawHttp(server.port, ["GET /a HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"])
      expect(responses(r.text)).toEqual([{ own: false, body: "GET /a 0" }])
    })
  })

  it("RUN-40: a small body sent with its head arrives byte-exact, all 256 octet values", async () => {
    const all = Uint8Array.from({ length: 512 }, (_, i) => i % 256)
    const binary: App = (scope, _receive, send) => {
      if (scope.type !== "http") return unsupportedScope(scope)
      return Effect.gen(function*() {
        yield* send({ type: "http.response.start", status: 200, headers: [["content-type", "application/octet-stream"]] })
        yield* send({ type: "http.response.body", body: all })
      })
    }
    await withServer(binary, {}, async (server) => {
      const r = await new Promise<Buffer>((resolve) => {
        const socket = net.connect(server.port, "127.0.0.1")
        const parts: Array<Buffer> = []
        socket.on("data", (d: Buffer) => parts.push(d))
        socket.on("close", () => resolve(Buffer.concat(parts)))
        socket.write("GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
      })
      const start = r.indexOf("\r\n\r\n") + 4
      expect(r.subarray(0, start).toString("latin1")).toContain("\r\ndate: ")
      expect(Buffer.compare(r.subarray(start), Buffer.from(all))).toBe(0)
    })
  })

  it("§8.3 idle timeout: a keep-alive connection closes once idle for the timeout; a response that takes longer is not cut", async () => {
    const slow: App = (scope, _receive, send) => {
      if (scope.type !== "http") return unsupportedScope(scope)
      return Effect.gen(function*() {
        if (scope.path === "/slow") yield* Effect.sleep(900)
        yield* send({ type: "http.response.start", status: 200 })
        yield* send({ type: "http.response.body", body: new TextEncoder().encode(scope.path) })
      })
    }
    await withServer(slow, { idleTimeout: 400 }, async (server) => {
      const socket = net.connect(server.port, "127.0.0.1")
      socket.on("error", () => {})
      let text = ""
      const seen = (s: string) => new Promise<number>((resolve) => {
        const check = (): void => {
          if (!text.includes(s)) return
          socket.off("data", check)
          resolve(Date.now())
        }
        socket.on("data", check)
      })
      socket.on("data", (d: Buffer) => void (text += d.toString("latin1")))
      const closed = new Promise<number>((resolve) => socket.on("close", () => resolve(Date.now())))
      await new Promise<void>((resolve) => socket.once("connect", () => resolve()))
      const quick = seen("/quick")
      socket.write("GET /quick HTTP/1.1\r\nhost: x\r\n\r\n")
      await quick
      const slowDone = seen("/slow")
      socket.write("GET /slow HTTP/1.1\r\nhost: x\r\n\r\n")
      const slowAt = await slowDone
      const closedAt = await closed
      expect(closedAt - slowAt).toBeGreaterThanOrEqual(300)
      expect(closedAt - slowAt).toBeLessThan(1500)
    })
  })

  it("RUN-5 RUN-40: a client that resets while a big response behind which it pipelined a malformed head is still flushing does not take the server down", async () => {
    const big = new Uint8Array(8 * 1024 * 1024)
    const bigApp: App = (scope, _receive, send) => {
      if (scope.type !== "http") return unsupportedScope(scope)
      return Effect.gen(function*() {
        yield* send({ type: "http.response.start", status: 200 })
        yield* send({ type: "http.response.body", body: scope.path === "/big" ? big : new TextEncoder().encode("ok") })
      })
    }
    await withServer(bigApp, {}, async (server) => {
      const socket = net.connect(server.port, "127.0.0.1")
      socket.on("error", () => {})
      await new Promise<void>((resolve) => socket.once("connect", () => resolve()))
      // The client does not read: the 8 MiB stay in the server's buffer while it closes after the malformed head.
      socket.pause()
      socket.write("GET /big HTTP/1.1\r\nhost: x\r\n\r\nNOT A REQUEST\r\n\r\n")
      await new Promise((r) => setTimeout(r, 200))
      socket.resetAndDestroy()
      await new Promise((r) => setTimeout(r, 200))
      // An 'error' without a listener would have thrown in this process (vitest fails the run on it).
      const after = await rawHttp(server.port, ["GET /ok HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"])
      expect(statusOf(after.text)).toBe(200)
    })
  })

  it("HTTP-26 RUN-40: http.goaway after the head makes that response the connection's last: a request pipelined behind it is not run", async () => {
    const seen: Array<string> = []
    const goaway: App = (scope, _receive, send) => {
      if (scope.type !== "http") return unsupportedScope(scope)
      return Effect.gen(function*() {
        seen.push(scope.path)
        yield* send({ type: "http.response.start", status: 200, headers: [["content-length", String(65_536 + scope.path.length)]] })
        if (scope.path === "/g") {
          // The head and a first part are on the wire before the goaway.
          yield* send({ type: "http.response.body", body: new Uint8Array(65_536), moreBody: true })
          yield* send({ type: "http.goaway" })
          yield* send({ type: "http.response.body", body: new TextEncoder().encode(scope.path) })
          return
        }
        yield* Effect.sleep(50)
        yield* send({ type: "http.response.body", body: new Uint8Array(65_536), moreBody: true })
        yield* send({ type: "http.response.body", body: new TextEncoder().encode(scope.path) })
      })
    }
    await withServer(goaway, {}, async (server) => {
      const r = await rawHttp(server.port, ["GET /g HTTP/1.1\r\nhost: x\r\n\r\nDELETE /two HTTP/1.1\r\nhost: x\r\n\r\n"])
      expect(r.closed).toBe(true)
      expect(responses(r.text).map((x) => x.body.slice(-2))).toEqual(["/g"])
      expect(seen).toEqual(["/g"])
    })
  })

  it("§8.7 RUN-40: a connection cut in the turn that wrote to it (an app failed mid-response) first sends what the turn wrote: the whole pipelined response before, and the cut one's head", async () => {
    const enc = new TextEncoder()
    const failing: App = (scope, _receive, send) => {
      if (scope.type !== "http") return unsupportedScope(scope)
      return Effect.gen(function*() {
        yield* send({ type: "http.response.start", status: 200, headers: [["content-type", "text/plain"]] })
        if (scope.path === "/boom") {
          yield* send({ type: "http.response.body", body: enc.encode("partial"), moreBody: true })
          return yield* Effect.die(new Error("the app failed mid-response"))
        }
        yield* send({ type: "http.response.body", body: enc.encode(`body of ${scope.path}`) })
      })
    }
    await withServer(failing, {}, async (server) => {
      // Both in one write: both apps run in the same (corked) turn, and the second's failure cuts the connection (HTTP/1.1 has no reset).
      const r = await whileBusy(() => rawHttp(server.port, ["GET /fast HTTP/1.1\r\nhost: x\r\n\r\nGET /boom HTTP/1.1\r\nhost: x\r\n\r\n"]))
      expect(r.closed).toBe(true)
      const got = responses(r.text)
      expect(got.length).toBe(2)
      expect(got[0]!.body).toBe("body of /fast")
      expect(r.text).toContain("partial")
      // The same behind a request with a body, which hands the connection to node:http in that turn: node:http cuts it with destroy().
      const handed = await whileBusy(() =>
        rawHttp(server.port, ["GET /fast HTTP/1.1\r\nhost: x\r\n\r\nPOST /boom HTTP/1.1\r\nhost: x\r\ncontent-length: 1\r\n\r\nx"])
      )
      expect(responses(handed.text)[0]?.body).toBe("body of /fast")
    })
  })

  it("RUN-40: an http1Codec other than \"egi\" or \"node\" fails start with ServeError Options", async () => {
    const exit = await Effect.runPromise(Effect.exit(Effect.scoped(start(app, { port: 0, log: false, http1Codec: "llhttp" as "node" }))))
    expect(exit._tag).toBe("Failure")
    expect(JSON.stringify(exit)).toContain("http1Codec")
  })

  it("RUN-40 RUN-5: 300 requests pipelined in one write are answered in order, one response each", async () => {
    await withServer(app, {}, async (server) => {
      const n = 300
      const wire = Array.from({ length: n }, (_, i) => `GET /${i} HTTP/1.1\r\nhost: x\r\n${i === n - 1 ? "connection: close\r\n" : ""}\r\n`).join("")
      const r = await rawHttp(server.port, [wire], { timeoutMs: 5000 })
      const got = responses(r.text)
      expect(got.map((x) => x.body)).toEqual(Array.from({ length: n }, (_, i) => `GET /${i} 0`))
      expect(got.every((x) => x.own)).toBe(true)
    })
  })

  it("RUN-31: a head pipelined behind a response gets 408 at the header timeout from the response's end, not the idle timeout", async () => {
    const headerTimeout = 1000
    await withServer(app, { headerTimeout, idleTimeout: 10_000 }, async (server) => {
      const socket = net.connect(server.port, "127.0.0.1")
      socket.on("error", () => {})
      let text = ""
      let responded = 0
      const closed = new Promise<number>((resolve) => {
        socket.on("data", (d: Buffer) => {
          text += d.toString("latin1")
          if (responded === 0 && text.includes("GET /a 0")) responded = Date.now()
        })
        socket.on("close", () => resolve(Date.now()))
      })
      await new Promise<void>((resolve) => socket.once("connect", () => resolve()))
      // The second head's first line rides with the first request, and nothing follows it.
      socket.write("GET /a HTTP/1.1\r\nhost: x\r\n\r\nGET /b HTTP/1.1\r\n")
      const at = await Promise.race([closed, new Promise<number>((resolve) => setTimeout(() => resolve(-1), 4000))])
      socket.destroy()
      expect(at, "still open 4 s later").toBeGreaterThan(0)
      expect(statusOf(text.slice(text.indexOf("GET /a 0") + 8))).toBe(408)
      expect(at - responded).toBeGreaterThanOrEqual(headerTimeout - 20)
      expect(at - responded).toBeLessThan(headerTimeout * 1.5)
    })
  })
})
