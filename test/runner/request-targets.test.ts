/**
 * What the scope says about a request's target, scheme and addresses, and
 * what the runner does with `Expect` and a body the app leaves unread
 * (spec.md §4.1, §4.3, §8.7), over real sockets.
 */
import { Effect } from "effect"
import * as net from "node:net"
import { describe, expect, it } from "vitest"
import type { HttpScope } from "../../src/protocol/scope.ts"
import { rawHttp } from "../support/clients.ts"
import { closeSession, collect, connect } from "../support/h2client.ts"
import { ended, FrameType, frame, rawH2, requestHeaders, rstCode } from "../support/h2raw.ts"
import { httpApp } from "../support/outcome.ts"
import { listen, type TestServer } from "../support/server.ts"

const enc = new TextEncoder()

/** Answers every request with its scope's target keys as JSON (after reading one event). */
const echoScope = (calls: Array<HttpScope> = []) =>
  httpApp((scope, receive, send) =>
    Effect.gen(function*() {
      calls.push(scope)
      yield* receive
      const { method, scheme, authority, path, rawPath, queryString, rootPath, client, server } = scope
      const body = enc.encode(JSON.stringify({ method, scheme, authority, path, rawPath, queryString, rootPath, client, server }))
      yield* send({ type: "http.response.start", status: 200, headers: [["content-type", "application/json"]] })
      yield* send({ type: "http.response.body", body })
    })
  )

const jsonOf = (text: string): any => JSON.parse(text.slice(text.indexOf("\r\n\r\n") + 4))
const whole = (t: string) => t.includes("\r\n\r\n") && t.trimEnd().endsWith("}")

const withServer = async (fn: (server: TestServer) => Promise<void>, options = {}, calls?: Array<HttpScope>) => {
  const server = await listen(echoScope(calls), options)
  try {
    await fn(server)
  } finally {
    await server.close()
  }
}

describe("§4.1 request targets", () => {
  it("HTTP-13: asterisk-form — OPTIONS * gives rawPath and path \"*\", on HTTP/1.1 and HTTP/2", () =>
    withServer(async (server) => {
      const h1 = await rawHttp(server.port, ["OPTIONS * HTTP/1.1\r\nhost: h\r\n\r\n"], { done: whole })
      expect(jsonOf(h1.text)).toMatchObject({ method: "OPTIONS", rawPath: "*", path: "*", queryString: "" })
      const session = await connect(server.url)
      try {
        const r = await collect(session.request({ ":method": "OPTIONS", ":path": "*" }, { endStream: true }))
        expect(JSON.parse(r.body.toString())).toMatchObject({ method: "OPTIONS", rawPath: "*", path: "*", queryString: "" })
      } finally {
        await closeSession(session)
      }
    }))

  it("§4.1: path is the whole decoded path, rootPath included; rootPath is the server's", () =>
    withServer(async (server) => {
      const r = await rawHttp(server.port, ["GET /mnt/a%20b?q=1 HTTP/1.1\r\nhost: h\r\n\r\n"], { done: whole })
      expect(jsonOf(r.text)).toMatchObject({ rootPath: "/mnt", rawPath: "/mnt/a%20b", path: "/mnt/a b", queryString: "q=1" })
      const other = await rawHttp(server.port, ["GET /elsewhere HTTP/1.1\r\nhost: h\r\n\r\n"], { done: whole })
      expect(jsonOf(other.text)).toMatchObject({ rootPath: "/mnt", path: "/elsewhere" })
    }, { rootPath: "/mnt" }))

  it("§4.1 §8.7: absolute-form on HTTP/1.1 — the runner passes the whole target as rawPath and takes authority from host (not yet the SHOULD of §4.1)", () =>
    withServer(async (server) => {
      const r = await rawHttp(server.port, ["GET http://example.com:81/a?x=1 HTTP/1.1\r\nhost: other\r\n\r\n"], { done: whole })
      expect(jsonOf(r.text)).toMatchObject({ rawPath: "http://example.com:81/a", queryString: "x=1", authority: "other" })
    }))

  it("§4.1 §8.7: a CONNECT without :protocol on HTTP/2 reaches the app — method CONNECT, authority the target, rawPath and path \"\"", () =>
    withServer(async (server) => {
      const session = await connect(server.url)
      try {
        const r = await collect(session.request({ ":method": "CONNECT", ":authority": "example.com:443" }, { endStream: true }))
        expect(r.status).toBe(200)
        expect(JSON.parse(r.body.toString())).toMatchObject({ method: "CONNECT", authority: "example.com:443", rawPath: "", path: "", queryString: "" })
      } finally {
        await closeSession(session)
      }
    }))

  it("§8.7: a CONNECT on HTTP/1.1 is closed without a response and never reaches the app", async () => {
    const calls: Array<HttpScope> = []
    await withServer(async (server) => {
      const r = await rawHttp(server.port, ["CONNECT example.com:443 HTTP/1.1\r\nhost: example.com:443\r\n\r\n"], { timeoutMs: 2000 })
      expect(r.closed).toBe(true)
      expect(r.text).toBe("")
    }, {}, calls)
    expect(calls).toEqual([])
  })
})

describe("§4.1 schemes and addresses", () => {
  it("§4.1 §8.7: an HTTP/2 :scheme that is neither http nor https is reported as \"http\"; https as \"https\" even in cleartext", () =>
    withServer(async (server) => {
      const session = await connect(server.url)
      try {
        const odd = await collect(session.request({ ":path": "/", ":scheme": "ftp" }))
        expect(JSON.parse(odd.body.toString()).scheme).toBe("http")
        const https = await collect(session.request({ ":path": "/", ":scheme": "https" }))
        expect(JSON.parse(https.body.toString()).scheme).toBe("https")
      } finally {
        await closeSession(session)
      }
    }))

  it("§4.1: client and server are [IPv4 dotted decimal, integer port] on a 127.0.0.1 listener, the ports those of the socket", () =>
    withServer(async (server) => {
      const socket = net.connect(server.port, "127.0.0.1")
      await new Promise((r) => socket.once("connect", r))
      const localPort = socket.localPort
      socket.write("GET / HTTP/1.1\r\nhost: h\r\n\r\n")
      let text = ""
      socket.on("data", (d) => void (text += d.toString("latin1")))
      await new Promise<void>((r) => {
        const check = () => (whole(text) ? r() : setTimeout(check, 5))
        check()
      })
      socket.destroy()
      const scope = jsonOf(text)
      expect(scope.client).toEqual(["127.0.0.1", localPort])
      expect(scope.server).toEqual(["127.0.0.1", server.port])
    }))
})

describe("§4.3 §8.7 Expect and unread bodies in the Node runner", () => {
  it("§8.7: HTTP/1.1 Expect: 100-continue gets 100 before the app reads; another expectation gets 417 and no app call", async () => {
    const calls: Array<HttpScope> = []
    await withServer(async (server) => {
      const cont = await rawHttp(server.port, ["POST / HTTP/1.1\r\nhost: h\r\ncontent-length: 2\r\nexpect: 100-continue\r\n\r\n"], {
        done: (t) => t.includes("\r\n\r\n"),
        timeoutMs: 2000
      })
      expect(cont.text.startsWith("HTTP/1.1 100 Continue\r\n")).toBe(true)
      const other = await rawHttp(server.port, ["POST / HTTP/1.1\r\nhost: h\r\ncontent-length: 2\r\nexpect: something\r\n\r\n"], {
        done: (t) => t.includes("\r\n\r\n"),
        timeoutMs: 2000
      })
      expect(other.text.startsWith("HTTP/1.1 417 ")).toBe(true)
    }, {}, calls)
    expect(calls.length).toBe(1)
  })

  it("§8.7: HTTP/2 Expect: 100-continue gets no 100 (node:http2)", () =>
    withServer(async (server) => {
      const session = await connect(server.url)
      try {
        const stream = session.request({ ":method": "POST", ":path": "/", "content-length": "2", expect: "100-continue" }, { endStream: false })
        const interim: Array<unknown> = []
        stream.on("headers", (h) => interim.push(h[":status"]))
        const result = collect(stream)
        await new Promise((r) => setTimeout(r, 300))
        expect(interim).toEqual([])
        stream.end(enc.encode("ok"))
        expect((await result).status).toBe(200)
        expect(interim).toEqual([])
      } finally {
        await closeSession(session)
      }
    }))

  it("§8.7 HTTP-35: HTTP/2 — an app that never read the body gets its stream reset with NO_ERROR after its complete response", async () => {
    const server = await listen(httpApp((_scope, _receive, send) =>
      Effect.flatMap(
        send({ type: "http.response.start", status: 200, headers: [["content-length", "2"]] }),
        () => send({ type: "http.response.body", body: enc.encode("ok") })
      )
    ))
    try {
      const h2 = await rawH2(server.port, [
        requestHeaders(1, server.port, "/", [["content-length", "100000"]], false),
        frame(FrameType.DATA, 0, 1, new Uint8Array(1000))
      ])
      await h2.until((f) => rstCode(f, 1) !== undefined, 3000)
      expect(ended(h2.frames, 1)).toBe(true)
      expect(rstCode(h2.frames, 1)).toBe(0)
      h2.destroy()
    } finally {
      await server.close()
    }
  })

  it("§8.7 HTTP-35: HTTP/1.1 — an app that never read the body: the rest is read and discarded, and the connection serves the next request", async () => {
    const server = await listen(httpApp((scope, _receive, send) =>
      Effect.flatMap(
        send({ type: "http.response.start", status: 200, headers: [["content-length", String(scope.rawPath.length)]] }),
        () => send({ type: "http.response.body", body: enc.encode(scope.rawPath) })
      )
    ))
    try {
      const r = await rawHttp(server.port, [
        "POST /first HTTP/1.1\r\nhost: h\r\ncontent-length: 100000\r\n\r\n" + "x".repeat(1000),
        "y".repeat(99_000) + "GET /second HTTP/1.1\r\nhost: h\r\n\r\n"
      ], { gapMs: 100, done: (t) => t.includes("/second"), timeoutMs: 3000 })
      expect(r.text).toContain("/first")
      expect(r.text).toContain("/second")
    } finally {
      await server.close()
    }
  })
})
