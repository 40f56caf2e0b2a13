/**
 * Versions and compatibility (spec.md §3.5): every scope says the interface
 * version and its protocol's spec version, the lifespan scope those of every
 * scope type the server calls the app with (CORE-10), the classic environ
 * the same in its own form (CLASSIC-12); and unknown keys never raise —
 * `send` ignores keys it does not know, and the package's apps ignore the
 * ones they do not know in scopes and events (CORE-11). Scopes come from a
 * real server, off the wire.
 */
import { Effect } from "effect"
import { createHash } from "node:crypto"
import { describe, expect, it } from "vitest"
import echo from "../../examples/echo.ts"
import type { App, Receive, Send } from "../../src/protocol/app.ts"
import type { EgiScope } from "../../src/protocol/scope.ts"
import { fromClassic } from "../../src/shim/shim.ts"
import { deferred, within } from "../support/async.ts"
import { rawHttp } from "../support/clients.ts"
import { closeSession, collect, connect, request } from "../support/h2client.ts"
import { httpApp } from "../support/outcome.ts"
import { listen } from "../support/server.ts"
import { clientFrame, closePayload, Opcode, rawH1, rawH2 } from "../support/ws-raw.ts"

const enc = new TextEncoder()
const SPEC = { http: "0.4", websocket: "0.4", lifespan: "0.4" }
const CLASSIC_FIXTURE = new URL("../shim/fixtures/classic-app.ts", import.meta.url).href
const quiet = { error: () => {}, info: () => {} }

/** Answers http scopes with `scope.egi` as JSON; accepts WebSockets and sends their `scope.egi`; records the lifespan's. */
const egiApp = (lifespan: Array<unknown>): App => (scope, receive, send) => {
  switch (scope.type) {
    case "lifespan":
      return Effect.gen(function*() {
        lifespan.push(scope.egi)
        yield* receive
        yield* send({ type: "lifespan.startup.complete" })
        yield* receive
        yield* send({ type: "lifespan.shutdown.complete" })
      })
    case "http":
      return Effect.gen(function*() {
        yield* send({ type: "http.response.start", status: 200, headers: [["content-type", "application/json"]] })
        yield* send({ type: "http.response.body", body: enc.encode(JSON.stringify(scope.egi)) })
      })
    case "websocket":
      return Effect.gen(function*() {
        yield* receive
        yield* send({ type: "websocket.accept" })
        yield* send({ type: "websocket.send", text: JSON.stringify(scope.egi) })
        yield* send({ type: "websocket.close" })
      })
  }
}

describe("CORE-10: versions in every scope", () => {
  it("CORE-10: the lifespan scope's egi is { version \"0.1\", specVersion \"0.4\", specVersions { http, websocket, lifespan } }", async () => {
    const seen: Array<unknown> = []
    const server = await listen(egiApp(seen))
    await server.close()
    expect(seen).toEqual([{ version: "0.1", specVersion: SPEC.lifespan, specVersions: SPEC }])
  })

  for (const [transport, open] of [["HTTP/1.1", rawH1], ["HTTP/2", rawH2]] as const) {
    it(`CORE-10: a websocket scope's egi over ${transport} is { version "0.1", specVersion "0.4" }`, async () => {
      const server = await listen(egiApp([]))
      const peer = await open(server.port, "/ws")
      try {
        const message = await within(peer.frame(Opcode.TEXT), 5000, "the app's message")
        expect(JSON.parse(message.payload.toString("utf8"))).toEqual({ version: "0.1", specVersion: SPEC.websocket })
        peer.write(clientFrame(Opcode.CLOSE, closePayload(1000)))
      } finally {
        peer.destroy()
        await server.close()
      }
    })
  }

  // Enable once src/runner/http-scope.ts gives every http scope egi.specVersion
  // (SPEC_VERSIONS.http): its owner adds it (spec.md §3.5, CORE-10).
  it("CORE-10: an http scope's egi is { version \"0.1\", specVersion \"0.4\" } over HTTP/1.1 and HTTP/2", async () => {
    const server = await listen(egiApp([]))
    const session = await connect(server.url)
    try {
      const h2 = await collect(session.request({ ":path": "/" }))
      expect(JSON.parse(h2.body.toString())).toEqual({ version: "0.1", specVersion: SPEC.http })
      const h1 = await rawHttp(server.port, ["GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"])
      expect(JSON.parse(h1.text.slice(h1.text.indexOf("\r\n\r\n") + 4))).toEqual({ version: "0.1", specVersion: SPEC.http })
    } finally {
      await closeSession(session)
      await server.close()
    }
  })

  it("CLASSIC-12 CORE-10: the classic environ's egi.version is \"0.1\" and egi.spec_version \"0.4\", the scope's form", async () => {
    const server = await listen(fromClassic({ module: CLASSIC_FIXTURE, export: "app" }, { workers: 1, logger: quiet }))
    const session = await connect(server.url)
    try {
      const r = await request(session, { ":method": "GET", ":path": "/environ" })
      expect(JSON.parse(r.body.toString())).toMatchObject({ "egi.version": "0.1", "egi.spec_version": "0.4" })
    } finally {
      await closeSession(session)
      await server.close()
    }
  })
})

describe("CORE-11: unknown keys never raise", () => {
  const future = { futureKey: { nested: [1, 2] }, "x-other": "y" }

  it("CORE-11: send ignores unknown keys on every http event (start, early hint, push, body), on HTTP/2 and HTTP/1.1", async () => {
    const server = await listen(httpApp((_scope, _receive, send) =>
      Effect.gen(function*() {
        yield* send({ type: "http.response.early_hint", links: ["</a.css>; rel=preload; as=style"], ...future } as never)
        yield* send({ type: "http.response.push", path: "/pushed.css", ...future } as never)
        yield* send({ type: "http.response.start", status: 200, headers: [["x-a", "1"]], ...future } as never)
        yield* send({ type: "http.response.body", body: enc.encode("he"), moreBody: true, ...future } as never)
        yield* send({ type: "http.response.body", body: enc.encode("llo"), ...future } as never)
      })
    ))
    const session = await connect(server.url)
    try {
      const h2 = await collect(session.request({ ":path": "/" }))
      expect(h2.status).toBe(200)
      expect(h2.headers["x-a"]).toBe("1")
      expect(h2.body.toString()).toBe("hello")
      const h1 = await rawHttp(server.port, ["GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"])
      expect(h1.text).toMatch(/^HTTP\/1\.1 103 /)
      expect(h1.text).toContain("HTTP/1.1 200 OK")
      expect(h1.text).toMatch(/\r\n2\r\nhe\r\n3\r\nllo\r\n0\r\n\r\n$/) // chunked: no content-length was sent
    } finally {
      await closeSession(session)
      await server.close()
    }
  })

  it("CORE-11: send ignores unknown keys on websocket.accept, websocket.send and websocket.close", async () => {
    const app: App = (scope, receive, send) =>
      scope.type !== "websocket" ? Effect.fail(new Error("websocket only")) : Effect.gen(function*() {
        yield* receive
        yield* send({ type: "websocket.accept", ...future } as never)
        yield* send({ type: "websocket.send", text: "hi", ...future } as never)
        yield* send({ type: "websocket.close", code: 4001, ...future } as never)
      })
    const server = await listen(app)
    const peer = await rawH1(server.port, "/")
    try {
      const message = await within(peer.frame(Opcode.TEXT), 5000, "the message")
      expect(message.payload.toString()).toBe("hi")
      const close = await within(peer.frame(Opcode.CLOSE), 5000, "the close frame")
      expect(close.payload.readUInt16BE(0)).toBe(4001)
    } finally {
      peer.destroy()
      await server.close()
    }
  })

  it("CORE-11: the lifespan's send ignores unknown keys on its replies: the server starts, and shuts down on the reply", async () => {
    const shutdownReplied = deferred()
    const app: App = (scope, receive, send) =>
      scope.type !== "lifespan" ? Effect.fail(new Error("lifespan only")) : Effect.gen(function*() {
        yield* receive
        yield* send({ type: "lifespan.startup.complete", ...future } as never)
        yield* receive
        yield* send({ type: "lifespan.shutdown.complete", ...future } as never)
        shutdownReplied.resolve()
      })
    const server = await listen(app)
    await server.close()
    await within(shutdownReplied.promise, 1000, "the shutdown reply")
    expect(server.lines.error).toEqual([])
  })

  /** A middleware that adds unknown keys to the scope (and its egi) and to every event `receive` yields. */
  const withUnknownKeys = (inner: App): App => (scope: EgiScope, receive: Receive, send: Send) =>
    inner(
      { ...scope, ...future, egi: { ...scope.egi, ...future } } as EgiScope,
      Effect.map(receive, (event) => ({ ...event, ...future }) as typeof event),
      send
    )

  it("CORE-11: the package's apps (the sync shim's fromClassic, examples/echo.ts) ignore unknown keys in scopes and events", async () => {
    const body = enc.encode("0123456789".repeat(1000))
    const sha256 = createHash("sha256").update(body).digest("hex")
    const cases: ReadonlyArray<readonly [App, string, (r: Buffer) => void]> = [
      [fromClassic({ module: CLASSIC_FIXTURE, export: "app" }, { workers: 1, logger: quiet }), "/hash", (r) =>
        expect(JSON.parse(r.toString())).toMatchObject({ bytes: body.length, sha256 })],
      [echo as App, "/", (r) => expect(r.equals(Buffer.from(body))).toBe(true)]
    ]
    for (const [app, path, check] of cases) {
      const server = await listen(withUnknownKeys(app))
      const session = await connect(server.url)
      try {
        const r = await request(session, { ":method": "POST", ":path": path, "content-type": "text/plain" }, [body.subarray(0, 4000), body.subarray(4000)])
        expect(r.status).toBe(200)
        check(r.body)
      } finally {
        await closeSession(session)
        await server.close()
      }
    }
  })
})
