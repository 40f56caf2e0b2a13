/**
 * What the scope says about a request's target, scheme and addresses, and
 * what the runner does with `Expect` and a body the app leaves unread
 * (spec.md §4.1, §4.3, §8.7), over real sockets.
 */
import { Effect } from "effect"
import * as net from "node:net"
import { describe, expect, it } from "vitest"
import type { HttpScope } from "../../src/protocol/scope.ts"
import { requestTarget } from "../../src/runner/http-scope.ts"
import { completeResponse, rawHttp, statusOf } from "../support/clients.ts"
import { closeSession, collect, connect } from "../support/h2client.ts"
import { ended, Flag, FrameType, frame, headerBlock, rawH2, requestHeaders, rstCode } from "../support/h2raw.ts"
import { httpApp } from "../support/outcome.ts"
import { listen, type TestServer } from "../support/server.ts"

const enc = new TextEncoder()

/** Answers every request with its scope's target keys as JSON (after reading one event). */
const echoScope = (calls: Array<HttpScope> = []) =>
  httpApp((scope, receive, send) =>
    Effect.gen(function*() {
      calls.push(scope)
      yield* receive
      const { method, scheme, authority, path, rawPath, queryString, rootPath, client, server, headers } = scope
      const body = enc.encode(JSON.stringify({ method, scheme, authority, path, rawPath, queryString, rootPath, client, server, headers }))
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

  it("HTTP-36: absolute-form on HTTP/1.1 — rawPath, path and queryString are the target's path and query, authority its authority (host ignored, kept in headers)", () =>
    withServer(async (server) => {
      const r = await rawHttp(server.port, ["GET http://example.com:81/a%20b?x=1 HTTP/1.1\r\nhost: other\r\n\r\n"], { done: whole })
      expect(jsonOf(r.text)).toMatchObject({ rawPath: "/a%20b", path: "/a b", queryString: "x=1", authority: "example.com:81" })
      expect(jsonOf(r.text).headers).toContainEqual(["host", "other"])
      // Scheme case-insensitive (RFC 3986 §3.1); an empty path is "/" (RFC 9110 §4.2.3).
      const bare = await rawHttp(server.port, ["GET HTTPS://Example.com?q HTTP/1.1\r\nhost: other\r\n\r\n"], { done: whole })
      expect(jsonOf(bare.text)).toMatchObject({ rawPath: "/", path: "/", queryString: "q", authority: "Example.com" })
      const v6 = await rawHttp(server.port, ["GET http://[::1]:8080/x HTTP/1.1\r\nhost: other\r\n\r\n"], { done: whole })
      expect(jsonOf(v6.text)).toMatchObject({ rawPath: "/x", authority: "[::1]:8080" })
      // HTTP/1.0 needs no host: the target's authority is the only one.
      const old = await rawHttp(server.port, ["GET http://example.com/p HTTP/1.0\r\n\r\n"], { done: whole })
      expect(jsonOf(old.text)).toMatchObject({ rawPath: "/p", queryString: "", authority: "example.com" })
      // Origin-form keeps host.
      const origin = await rawHttp(server.port, ["GET /o HTTP/1.1\r\nhost: h:1\r\n\r\n"], { done: whole })
      expect(jsonOf(origin.text)).toMatchObject({ rawPath: "/o", authority: "h:1" })
    }))

  it("HTTP-36: an absolute-form target with a scheme other than http or https, or no valid http URI, gets 400 and never reaches the app", async () => {
    const calls: Array<HttpScope> = []
    const targets = ["ftp://example.com/a", "http:///a", "http://user@example.com/a", "http://example.com:x/a", "http://example.com:99999/a"]
    await withServer(async (server) => {
      for (const target of targets) {
        const r = await rawHttp(server.port, [`GET ${target} HTTP/1.1\r\nhost: h\r\n\r\n`], { timeoutMs: 2000 })
        expect(statusOf(r.text), target).toBe(400)
        expect(r.text.toLowerCase(), target).toContain("connection: close")
        expect(r.closed, target).toBe(true)
      }
      expect(server.lines.error.filter((l) => l.includes("request target")).length).toBe(targets.length)
    }, {}, calls)
    expect(calls).toEqual([])
  })

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

  it("§4.1 §8.7: a CONNECT on HTTP/1.1 gets 501 (connection: close, one log line) and never reaches the app", async () => {
    const calls: Array<HttpScope> = []
    await withServer(async (server) => {
      // Bytes after the head (a client that starts its tunnel at once) are discarded.
      const r = await rawHttp(server.port, ["CONNECT example.com:443 HTTP/1.1\r\nhost: example.com:443\r\n\r\n\x16\x03\x01"], { timeoutMs: 2000 })
      expect(statusOf(r.text)).toBe(501)
      expect(completeResponse(r.text)).toBe(true)
      expect(r.text.toLowerCase()).toContain("connection: close")
      expect(r.closed).toBe(true)
      expect(server.lines.error.filter((l) => l.includes("CONNECT"))).toHaveLength(1)
    }, {}, calls)
    expect(calls).toEqual([])
  })

  it("§4.1 §8.7: a CONNECT pipelined after a request on HTTP/1.1 gets its 501 after that request's response", async () => {
    const calls: Array<HttpScope> = []
    await withServer(async (server) => {
      const r = await rawHttp(server.port, ["GET /first HTTP/1.1\r\nhost: h\r\n\r\nCONNECT example.com:443 HTTP/1.1\r\nhost: example.com:443\r\n\r\n"], { timeoutMs: 2000 })
      expect(statusOf(r.text)).toBe(200)
      const second = r.text.indexOf("HTTP/1.1 501 ")
      expect(second).toBeGreaterThan(r.text.indexOf("/first"))
      expect(completeResponse(r.text.slice(second))).toBe(true)
      expect(r.closed).toBe(true)
    }, {}, calls)
    expect(calls.map((c) => c.rawPath)).toEqual(["/first"])
  })

  it("§4.1 §8.7: an HTTP/2 request with host but no :authority gets the host value as authority; :authority wins when both came; nghttp2 resets one with neither", async () => {
    const calls: Array<HttpScope> = []
    await withServer(async (server) => {
      const get = (stream: number, fields: ReadonlyArray<readonly [string, string]>) =>
        frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, stream, headerBlock([[":method", "GET"], [":scheme", "http"], [":path", "/h"], ...fields]))
      const h2 = await rawH2(server.port, [
        get(1, [["host", "example.org:8443"]]),
        get(3, [[":authority", "a.example"], ["host", "a.example"]]),
        get(5, [])
      ])
      try {
        await h2.until((f) => ended(f, 1) && ended(f, 3) && rstCode(f, 5) !== undefined, 3000)
        const scopeOf = (stream: number) =>
          JSON.parse(Buffer.concat(h2.frames.filter((f) => f.type === FrameType.DATA && f.stream === stream).map((f) => f.payload)).toString())
        expect(scopeOf(1)).toMatchObject({ authority: "example.org:8443", rawPath: "/h" })
        expect(scopeOf(1).headers).toContainEqual(["host", "example.org:8443"])
        expect(scopeOf(3)).toMatchObject({ authority: "a.example" })
        // RFC 9113 §8.3.1 wants one of them: RST_STREAM PROTOCOL_ERROR before the app.
        expect(rstCode(h2.frames, 5)).toBe(1)
      } finally {
        h2.destroy()
      }
    }, {}, calls)
    expect(calls.map((c) => c.streamId)).toEqual([1, 3])
  })
})

describe("HTTP-36 requestTarget", () => {
  it("HTTP-36: origin- and asterisk-form keep host; absolute-form gives its path, query and authority, octets as received; the rest is undefined", () => {
    expect(requestTarget("/a?b", "h")).toEqual({ target: "/a?b", authority: "h" })
    expect(requestTarget("*", null)).toEqual({ target: "*", authority: null })
    expect(requestTarget("http://Ex.com:8080/a/../%7e?x?y", "h")).toEqual({ target: "/a/../%7e?x?y", authority: "Ex.com:8080" })
    expect(requestTarget("https://ex.com", "h")).toEqual({ target: "/", authority: "ex.com" })
    expect(requestTarget("hTTp://ex.com?q", null)).toEqual({ target: "/?q", authority: "ex.com" })
    expect(requestTarget("http://[2001:db8::1]/", "h")).toEqual({ target: "/", authority: "[2001:db8::1]" })
    for (const bad of ["ftp://ex.com/", "ws://ex.com/", "http:///a", "http://u:p@ex.com/", "http://ex.com:65536/", "http://ex.com:8x/", "http://[zz]/", "http:ex.com", "ex.com:80", "where"]) {
      expect(requestTarget(bad, "h"), bad).toBeUndefined()
    }
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
