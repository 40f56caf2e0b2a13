/**
 * Behind a proxy (spec.md §8.12, RUN-18): with `proxyHeaders`, a trusted
 * peer's `Forwarded` / `X-Forwarded-*` fields set the scope's client,
 * scheme and authority; anyone else's change nothing. Pure tests of the
 * reading, a property for the security invariant, and real sockets on both
 * protocols and a WebSocket.
 */
import { Effect } from "effect"
import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import WebSocket from "ws"
import type { App } from "../../src/protocol/app.ts"
import type { Headers } from "../../src/protocol/headers.ts"
import { type ForwardedTrust, forwardedTrust, forwardedView, nodeAddress } from "../../src/runner/forwarded.ts"
import { rawHttp, statusOf, bodyOf } from "../support/clients.ts"
import { closeSession, connect, request } from "../support/h2client.ts"
import { listen } from "../support/server.ts"

const trust = (allow: ReadonlyArray<string>): ForwardedTrust => forwardedTrust(allow) as ForwardedTrust
const loopback = trust(["127.0.0.1", "::1"])

describe("RUN-18: reading the proxy fields", () => {
  it("RUN-18: X-Forwarded-For is walked from the nearest proxy: the first untrusted hop is the client; proto and host at its position", () => {
    const t = trust(["127.0.0.1", "10.0.0.0/8"])
    const h: Headers = [["x-forwarded-for", "203.0.113.7, 198.51.100.2"], ["x-forwarded-for", "10.1.2.3"], ["x-forwarded-proto", "https"], ["x-forwarded-host", "shop.example:8443"]]
    expect(forwardedView(h, "127.0.0.1", t)).toEqual({ client: ["198.51.100.2", 0], scheme: "https", authority: "shop.example:8443" })
    // A client that forges hops to the left of itself is not believed: the walk stops at it.
    expect(forwardedView([["x-forwarded-for", "10.9.9.9, 203.0.113.7"]], "127.0.0.1", t)).toEqual({ client: ["203.0.113.7", 0] })
    // Every hop trusted: the first one.
    expect(forwardedView([["x-forwarded-for", "10.0.0.1, 10.0.0.2"]], "127.0.0.1", t)).toEqual({ client: ["10.0.0.1", 0] })
  })

  it("RUN-18: Forwarded (RFC 7239) wins over X-Forwarded-*, with quoted IPv6 nodes and ports, proto and host of the client's hop", () => {
    const h: Headers = [
      ["x-forwarded-for", "192.0.2.99"],
      ["forwarded", `for="[2001:db8:cafe::17]:4711";proto=https;host="api.example", for=127.0.0.1;proto=http`]
    ]
    expect(forwardedView(h, "127.0.0.1", loopback)).toEqual({ client: ["2001:db8:cafe::17", 4711], scheme: "https", authority: "api.example" })
    expect(forwardedView([["forwarded", "for=unknown;proto=https"]], "127.0.0.1", loopback)).toEqual({ client: null, scheme: "https" })
    expect(forwardedView([["forwarded", "for=_hidden"]], "127.0.0.1", loopback)).toEqual({ client: null })
  })

  it("RUN-18: what is not a proto, an authority or an address is ignored or unknown", () => {
    expect(forwardedView([["x-forwarded-proto", "gopher"], ["x-forwarded-host", "user@evil.example"]], "127.0.0.1", loopback)).toEqual({})
    expect(forwardedView([["x-forwarded-for", "not-an-ip"]], "127.0.0.1", loopback)).toEqual({ client: null })
    expect([nodeAddress("192.0.2.1:80"), nodeAddress("[::1]:99999"), nodeAddress("::ffff:192.0.2.1")]).toEqual([["192.0.2.1", 80], undefined, ["192.0.2.1", 0]])
  })

  it("RUN-18: a peer outside forwardedAllowIps changes nothing, an IPv4-mapped peer is its IPv4 address, * trusts all; a bad entry is an error", () => {
    const h: Headers = [["x-forwarded-for", "203.0.113.7"]]
    expect(forwardedView(h, "192.0.2.50", loopback)).toBeUndefined()
    expect(forwardedView(h, null, loopback)).toBeUndefined()
    // A Unix-socket peer (a local proxy such as nginx) is trusted only when "unix" (or *) says so.
    expect(forwardedView(h, null, trust(["unix"]))).toEqual({ client: ["203.0.113.7", 0] })
    expect(forwardedView(h, null, trust(["*"]))).toEqual({ client: ["203.0.113.7", 0] })
    expect(forwardedView(h, "::ffff:127.0.0.1", loopback)).toEqual({ client: ["203.0.113.7", 0] })
    expect(forwardedView(h, "192.0.2.50", trust(["*"]))).toEqual({ client: ["203.0.113.7", 0] })
    expect(forwardedTrust(["10.0.0.0/33"])).toMatch(/"10.0.0.0\/33" is no IP address or CIDR block/)
    expect(forwardedTrust(["localhost"])).toMatch(/is no IP address/)
  })

  it("RUN-18: property — from an untrusted peer, no combination of proxy fields changes anything", () => {
    const field = fc.tuple(
      fc.constantFrom("forwarded", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"),
      fc.oneof(fc.string(), fc.constantFrom("for=127.0.0.1", "10.0.0.1, 127.0.0.1", "https", "evil.example", `for="[::1]";proto=https`))
    )
    fc.assert(fc.property(fc.array(field, { maxLength: 6 }), fc.ipV4(), (headers, peer) => {
      fc.pre(peer !== "127.0.0.1")
      expect(forwardedView(headers, peer, loopback)).toBeUndefined()
    }))
  })
})

const echo: App = (scope, _receive, send) =>
  Effect.gen(function*() {
    if (scope.type === "websocket") {
      yield* send({ type: "websocket.accept" })
      yield* send({ type: "websocket.send", text: JSON.stringify({ scheme: scope.scheme, client: scope.client, authority: scope.authority }) })
      return yield* send({ type: "websocket.close" })
    }
    if (scope.type !== "http") return
    yield* send({ type: "http.response.start", status: 200 })
    yield* send({ type: "http.response.body", body: new TextEncoder().encode(JSON.stringify({ scheme: scope.scheme, client: scope.client, authority: scope.authority })) })
  })

describe("RUN-18: on the wire", () => {
  it("RUN-18: with proxyHeaders, a loopback proxy's fields set client, scheme and authority on HTTP/1.1 and HTTP/2, and the access log names the client", async () => {
    const server = await listen(echo, { proxyHeaders: true })
    try {
      const h1 = await rawHttp(server.port, ["GET / HTTP/1.1\r\nhost: internal:8000\r\nx-forwarded-for: 203.0.113.7\r\nx-forwarded-proto: https\r\nx-forwarded-host: shop.example\r\nconnection: close\r\n\r\n"])
      expect(statusOf(h1.text)).toBe(200)
      expect(JSON.parse(bodyOf(h1.text))).toEqual({ scheme: "https", client: ["203.0.113.7", 0], authority: "shop.example" })
      const session = await connect(server.url)
      const h2 = await request(session, { ":path": "/", forwarded: `for="[2001:db8::5]:1234";proto=https;host=api.example` })
      await closeSession(session)
      expect(JSON.parse(h2.body.toString())).toEqual({ scheme: "https", client: ["2001:db8::5", 1234], authority: "api.example" })
      await new Promise((r) => setTimeout(r, 20))
      expect(server.lines.access[0]).toMatch(/^203\.0\.113\.7 "GET \/ HTTP\/1\.1" 200/)
      // A WebSocket behind a TLS-terminating proxy is wss.
      const ws = new WebSocket(server.url.replace("http", "ws") + "/ws", { headers: { "x-forwarded-proto": "https", "x-forwarded-for": "198.51.100.9" } })
      const message = await new Promise<string>((resolve, reject) => {
        ws.once("message", (d) => resolve(d.toString()))
        ws.once("error", reject)
      })
      ws.terminate()
      expect(JSON.parse(message)).toMatchObject({ scheme: "wss", client: ["198.51.100.9", 0] })
    } finally {
      await server.close()
    }
  })

  it("RUN-18: without proxyHeaders, or from a peer outside forwardedAllowIps, the fields change nothing (and still reach the app)", async () => {
    for (const options of [{}, { proxyHeaders: true, forwardedAllowIps: ["10.0.0.0/8"] }]) {
      const server = await listen(echo, options)
      try {
        const r = await rawHttp(server.port, ["GET / HTTP/1.1\r\nhost: internal:8000\r\nx-forwarded-for: 203.0.113.7\r\nx-forwarded-proto: https\r\nconnection: close\r\n\r\n"])
        const seen = JSON.parse(bodyOf(r.text)) as { scheme: string; client: [string, number]; authority: string }
        expect([seen.scheme, seen.client[0], seen.authority]).toEqual(["http", "127.0.0.1", "internal:8000"])
      } finally {
        await server.close()
      }
    }
  })
})
