/**
 * What `http.disconnect` tells the app (spec.md §4.4, HTTP-30): `end` says
 * why the stream is over for it, and `errorCode` is present exactly when a
 * code came from the peer (its RST_STREAM or its GOAWAY) — never one of the
 * server's own. Real sockets: node:http2 clients that reset, send GOAWAY,
 * drop the connection or break content-length, raw HTTP/1.1 sockets.
 */
import { Effect } from "effect"
import * as http2 from "node:http2"
import * as net from "node:net"
import { describe, expect, it } from "vitest"
import type { HttpDisconnect } from "../../src/protocol/events.ts"
import { sleep, until } from "../support/clients.ts"
import { cancel } from "../support/h2client.ts"
import { httpApp } from "../support/outcome.ts"
import { useServer } from "../support/server.ts"

/** The disconnect event each request's app got, by its path. */
const got = new Map<string, HttpDisconnect>()

/**
 * Reads the body to its end or to a disconnect. `/answer` then responds and
 * reads once more (a complete exchange); `/reset` resets its own stream
 * first; every other path reads only, holding the response back.
 */
const app = httpApp((scope, receive, send) =>
  Effect.gen(function*() {
    if (scope.path === "/reset") {
      yield* send({ type: "http.response.reset", errorCode: 8 })
    }
    while (true) {
      const event = yield* receive
      if (event.type === "http.disconnect") {
        got.set(scope.path, event)
        return
      }
      if (event.type === "http.request" && !event.moreBody) break
    }
    if (scope.path === "/answer") {
      yield* send({ type: "http.response.start", status: 200 })
      yield* send({ type: "http.response.body", body: new TextEncoder().encode("ok") })
      const after = yield* receive
      if (after.type === "http.disconnect") got.set(scope.path, after)
      return
    }
    // Hold the response back until the client has gone.
    yield* Effect.never
  })
)

const server = useServer(app, { maxBodySize: 64 * 1024, drainTimeout: 300 })

const h2session = async (): Promise<http2.ClientHttp2Session> => {
  const s = http2.connect(server().url)
  s.on("error", () => {})
  await new Promise((resolve) => s.once("remoteSettings", resolve))
  return s
}

/** A POST whose first bytes reached the server; the body stays open. */
const h2upload = async (s: http2.ClientHttp2Session, path: string, headers: http2.OutgoingHttpHeaders = {}) => {
  const req = s.request({ ":method": "POST", ":path": path, ...headers })
  req.on("error", () => {})
  req.write("abc")
  await sleep(50)
  return req
}

const eventOf = async (path: string): Promise<HttpDisconnect> => {
  await until(() => got.has(path), `the disconnect of ${path}`)
  return got.get(path)!
}

describe("HTTP-30: http.disconnect says why, and carries only the peer's codes", () => {
  it("HTTP-30: HTTP/2 peer RST_STREAM CANCEL: end reset, errorCode 8", async () => {
    const s = await h2session()
    const req = await h2upload(s, "/peer-rst")
    // RST_STREAM alone (close(code) would first end the request body).
    cancel(req)
    expect(await eventOf("/peer-rst")).toMatchObject({ end: "reset", errorCode: 8 })
    s.destroy()
  })

  it("HTTP-30: HTTP/2 peer GOAWAY with ENHANCE_YOUR_CALM: end goaway, errorCode 11", async () => {
    const s = await h2session()
    await h2upload(s, "/peer-goaway")
    s.goaway(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM, 0)
    expect(await eventOf("/peer-goaway")).toMatchObject({ end: "goaway", errorCode: 11 })
    s.destroy()
  })

  it("HTTP-30: HTTP/2 connection dropped: end connection, no errorCode (not the server's own CANCEL)", async () => {
    const s = await h2session()
    await h2upload(s, "/h2-dropped")
    s.socket.destroy()
    const e = await eventOf("/h2-dropped")
    expect(e.end).toBe("connection")
    expect(e).not.toHaveProperty("errorCode")
    s.destroy()
  })

  it("HTTP-30: HTTP/2 body past its content-length (nghttp2 fails the connection): end connection, no errorCode (not the server's INTERNAL_ERROR)", async () => {
    const s = await h2session()
    const req = s.request({ ":method": "POST", ":path": "/overrun", "content-length": "3" })
    req.on("error", () => {})
    req.end("abcdefg")
    const e = await eventOf("/overrun")
    expect(e.end).toBe("connection")
    expect(e).not.toHaveProperty("errorCode")
    s.destroy()
  })

  it("HTTP-30: a body over the server's limit: end too-large, no errorCode", async () => {
    const s = await h2session()
    const req = s.request({ ":method": "POST", ":path": "/too-large" })
    req.on("error", () => {})
    req.end(Buffer.alloc(128 * 1024))
    const e = await eventOf("/too-large")
    expect(e.end).toBe("too-large")
    expect(e).not.toHaveProperty("errorCode")
    s.destroy()
  })

  it("HTTP-30: a complete exchange: end complete; the app's own reset: end app-reset — neither has an errorCode", async () => {
    const s = await h2session()
    for (const path of ["/answer", "/reset"]) {
      const req = s.request({ ":method": "POST", ":path": path })
      req.on("error", () => {})
      req.resume()
      req.end("body")
      const e = await eventOf(path)
      expect(e.end).toBe(path === "/answer" ? "complete" : "app-reset")
      expect(e).not.toHaveProperty("errorCode")
    }
    s.destroy()
  })

  // A FIN mid-body is a half-close: the client may still read, and gets 400
  // (malformed). Only a reset connection is lost outright.
  it("HTTP-30: HTTP/1.1 connection reset mid-body: end connection, no errorCode", async () => {
    const socket = net.connect(server().port, "127.0.0.1")
    socket.on("error", () => {})
    socket.write("POST /h1-dropped HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\n\r\nabc")
    await sleep(50)
    socket.resetAndDestroy()
    const e = await eventOf("/h1-dropped")
    expect(e.end).toBe("connection")
    expect(e).not.toHaveProperty("errorCode")
  })
})
