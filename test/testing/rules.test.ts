/**
 * Mutation tests of `validate` and the in-memory `request` (issue 11): apps
 * that the runner fails with a rule fail in memory with the same rule; a
 * server that breaks the order of what it hands the app is caught with the
 * rule spec.md names; a state moves only when the server took the event;
 * the in-memory scope lists the extensions the runner lists; file bodies
 * come back with the runner's range and conditional answers.
 */
import { Effect, Exit } from "effect"
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import type { App, Receive, Send } from "../../src/protocol/app.ts"
import { FileSendError, LocalProtocolError, StreamClosedError } from "../../src/protocol/errors.ts"
import type { InboundEvent, OutboundEvent } from "../../src/protocol/events.ts"
import { lifespanEgi, type LifespanScope, type WebSocketScope } from "../../src/protocol/scope.ts"
import { lifespanTable, nextLifespanState } from "../../src/protocol/state.ts"
import { request, type TestRequest, testScope, validate } from "../../src/testing/index.ts"
import { listedExtensions } from "../support/spec-tables.ts"

const run = <A>(effect: Effect.Effect<A, unknown>) => Effect.runPromiseExit(effect)

/** The rule a failed or died run names (its first failure or defect). */
const ruleOf = (exit: Exit.Exit<unknown, unknown>): string | undefined => {
  if (Exit.isSuccess(exit)) return undefined
  const error = exit.cause.reasons.map((r) => (r._tag === "Fail" ? r.error : r._tag === "Die" ? r.defect : undefined))[0]
  return (error as { rule?: string } | undefined)?.rule
}

/** An app that sends `events` in order and stops at the first failure. */
const sends = (...events: ReadonlyArray<unknown>): App => (_scope, _receive, send) =>
  Effect.forEach(events as ReadonlyArray<OutboundEvent>, send, { discard: true })

const text = (s: string) => new TextEncoder().encode(s)
const start = { type: "http.response.start", status: 200 } as const

/** The rule `request(app, req)` fails with (validated). */
const memoryRule = async (app: App, req: TestRequest = {}) => ruleOf(await run(request(app, req)))

describe("apps the runner refuses fail in memory with the same rule", () => {
  it("HTTP-17: content-length 3 with a 7-byte body (at once, and in two chunks) fails; so does a short last body and a length that is not decimal", async () => {
    const cl3 = { type: "http.response.start", status: 200, headers: [["content-length", "3"]] }
    expect(await memoryRule(sends(cl3, { type: "http.response.body", body: text("1234567") }))).toBe("HTTP-17")
    expect(await memoryRule(sends(cl3, { type: "http.response.body", body: text("12"), moreBody: true }, { type: "http.response.body", body: text("34567") }))).toBe("HTTP-17")
    expect(await memoryRule(sends(cl3, { type: "http.response.body", body: text("12") }))).toBe("HTTP-17")
    expect(await memoryRule(sends({ ...start, headers: [["content-length", "3.0"]] }, { type: "http.response.body", body: text("123") }))).toBe("HTTP-17")
    const exact = await run(request(sends(cl3, { type: "http.response.body", body: text("1"), moreBody: true }, { type: "http.response.body", body: text("23") })))
    expect(Exit.isSuccess(exact) && exact.value.text).toBe("123")
  })

  it("HTTP-17: HEAD and 304 declare a length and send no body: accepted, and no body arrives (RFC 9110 §6.4.1); a 204 may declare none (§8.6)", async () => {
    expect(await memoryRule(sends({ type: "http.response.start", status: 204, headers: [["content-length", "0"]] }))).toBe("HTTP-17")
    const cases: ReadonlyArray<readonly [string, number]> = [["HEAD", 200], ["GET", 304]]
    for (const [method, status] of cases) {
      for (const body of [new Uint8Array(0), text("1234567")]) {
        const app = sends({ type: "http.response.start", status, headers: [["content-length", "3"]] }, { type: "http.response.body", body })
        const res = await run(request(app, { method }))
        expect(res._tag, `${method} ${status} with ${body.length} body bytes`).toBe("Success")
        if (Exit.isSuccess(res)) expect([res.value.status, res.value.body.length, res.value.complete]).toEqual([status, 0, true])
      }
    }
  })

  it("HTTP-16: content-type sent twice", async () => {
    expect(await memoryRule(sends({ ...start, headers: [["content-type", "a/b"], ["x-a", "1"], ["content-type", "a/b"]] }))).toBe("HTTP-16")
  })

  it("HTTP-5: neverIndex with an upper-case name, on the start and on the trailers", async () => {
    expect(await memoryRule(sends({ ...start, neverIndex: ["X-Token"] }))).toBe("HTTP-5")
    const trailers = sends(
      { ...start, trailers: true },
      { type: "http.response.body", body: text("x") },
      { type: "http.response.trailers", headers: [["x-token", "t"]], neverIndex: ["X-Token"] }
    )
    expect(await memoryRule(trailers, { headers: [["te", "trailers"]] })).toBe("HTTP-5")
  })

  it("CORE-3: an outbound event whose streamId or connectionId differs from its scope's", async () => {
    expect(await memoryRule(sends({ ...start, streamId: 3 }))).toBe("CORE-3")
    expect(await memoryRule(sends(start, { type: "http.response.body", body: text("x"), connectionId: 2 }))).toBe("CORE-3")
    const ok = await run(request(sends({ ...start, connectionId: 1, streamId: 1 }, { type: "http.response.body", streamId: 1 })))
    expect(ok._tag).toBe("Success")
  })

  it("HTTP-3: http.goaway after the app reset its stream", async () => {
    expect(await memoryRule(sends({ type: "http.response.reset", errorCode: 8 }, { type: "http.goaway" }))).toBe("HTTP-3")
    const before = await run(request(sends({ type: "http.goaway" }, start, { type: "http.response.body" }, { type: "http.goaway" })))
    expect(before._tag).toBe("Success")
  })

  it.each([
    ["HTTP-20", { type: "http.response.push", path: "style.css" }],
    ["HTTP-5", { type: "http.response.push", path: "/style.css", headers: [["Accept", "text/css"]] }],
    ["HTTP-20", { type: "http.response.push", path: "/style.css", as: "style sheet" }],
    ["HTTP-20", { type: "http.response.push", path: "/style.css", linkParams: ["rel=stylesheet"] }],
    ["HTTP-6", { type: "http.response.early_hint", links: ["</a>; rel=preload\r\nx: y"] }],
    ["HTTP-22", { type: "http.response.reset", errorCode: -1 }],
    ["HTTP-22", { type: "http.response.reset", errorCode: 2 ** 32 }]
  ] as const)("%s: an extension event with a value the runner refuses (%j)", async (rule, event) => {
    expect(await memoryRule(sends(event))).toBe(rule)
  })

  it("HTTP-21: a pathsend path that is not absolute", async () => {
    expect(await memoryRule(sends(start, { type: "http.response.pathsend", path: "relative/file.txt" }))).toBe("HTTP-21")
  })
})

describe("the in-memory scope lists what the runner lists (spec.md §7)", () => {
  it.each(["2", "1.1", "1.0"] as const)("CORE-7: over HTTP/%s testScope lists exactly spec.md's extensions for that protocol", (httpVersion) => {
    expect(Object.keys(testScope({ httpVersion }).extensions).sort()).toEqual(listedExtensions(httpVersion))
  })

  const unlisted: ReadonlyArray<readonly [string, "2" | "1.1" | "1.0", unknown]> = [
    ["a reset over HTTP/1.1", "1.1", { type: "http.response.reset", errorCode: 8 }],
    ["an early hint over HTTP/1.0", "1.0", { type: "http.response.early_hint", links: ["</a>"] }],
    ["announced trailers over HTTP/1.0", "1.0", { ...start, trailers: true }]
  ]
  it.each(unlisted)("CORE-7: %s fails: the scope does not list it", async (_what, httpVersion, event) => {
    expect(await memoryRule(sends(event), { httpVersion })).toBe("CORE-7")
  })

  it("CORE-7: trailers sent when the scope lists no http.response.trailers (HTTP/1.0) fail", async () => {
    const app = sends({ ...start, trailers: true }, { type: "http.response.body" }, { type: "http.response.trailers", headers: [] })
    expect(await memoryRule(app, { httpVersion: "1.0" })).toBe("CORE-7")
  })

  it("HTTP-20 HTTP-18: over HTTP/2 push, reset-free trailers and early hints pass, and the push is recorded", async () => {
    const app = sends(
      { type: "http.response.early_hint", links: ["</s.css>; rel=preload"] },
      { type: "http.response.push", path: "/s.css" },
      { ...start, trailers: true },
      { type: "http.response.body", body: text("x") },
      { type: "http.response.trailers", headers: [["x-sum", "1"]] }
    )
    const res = await run(request(app, { httpVersion: "2", headers: [["te", "trailers"]] }))
    expect(res._tag).toBe("Success")
    if (Exit.isSuccess(res)) {
      expect(res.value.pushes.map((p) => p.path)).toEqual(["/s.css"])
      expect(res.value.trailers).toEqual([["x-sum", "1"]])
      expect(res.value.complete).toBe(true)
    }
  })
})

describe("what the server hands the app, in table 2's order (spec.md §4.7)", () => {
  const chunk = (moreBody: boolean, trailers = false): InboundEvent =>
    trailers
      ? { type: "http.request", connectionId: 1, streamId: 1, body: new Uint8Array(0), moreBody, trailers: true }
      : { type: "http.request", connectionId: 1, streamId: 1, body: new Uint8Array(0), moreBody }
  const trailersEvent: InboundEvent = { type: "http.request.trailers", connectionId: 1, streamId: 1, headers: [] }
  /** The rule the validator dies with when a server yields `events` to an app that receives them all. */
  const serverRule = async (events: ReadonlyArray<InboundEvent>) => {
    const queue = [...events]
    const receive: Receive = Effect.sync(() => queue.shift() ?? { type: "http.disconnect", connectionId: 1, streamId: 1 })
    const app: App = (_s, rcv) => Effect.forEach(events, () => rcv, { discard: true })
    return ruleOf(await run(validate(app)(testScope({ method: "POST" }), receive, () => Effect.void)))
  }

  it("HTTP-23: request trailers that the last body did not announce, or body after the announcing last body", async () => {
    expect(await serverRule([trailersEvent])).toBe("HTTP-23")
    expect(await serverRule([chunk(false), trailersEvent])).toBe("HTTP-23")
    expect(await serverRule([chunk(false, true), chunk(true)])).toBe("HTTP-23")
    expect(await serverRule([chunk(false, true), trailersEvent])).toBeUndefined()
  })

  it("HTTP-14: body after the last body (moreBody: false said the body was complete)", async () => {
    expect(await serverRule([chunk(false), chunk(false)])).toBe("HTTP-14")
    expect(await serverRule([chunk(true), chunk(false), chunk(true)])).toBe("HTTP-14")
  })

  it("HTTP-30: an http.disconnect whose end is not the peer's reset or GOAWAY carries no errorCode", async () => {
    const disconnect = (end: string, errorCode?: number) =>
      ({ type: "http.disconnect", connectionId: 1, streamId: 1, end, ...(errorCode === undefined ? {} : { errorCode }) }) as InboundEvent
    expect(await serverRule([chunk(false), disconnect("complete", 8)])).toBe("HTTP-30")
    expect(await serverRule([disconnect("connection", 2)])).toBe("HTTP-30")
    expect(await serverRule([disconnect("reset", 8)])).toBeUndefined()
    expect(await serverRule([disconnect("goaway", 2)])).toBeUndefined()
    expect(await serverRule([chunk(false), disconnect("complete")])).toBeUndefined()
  })

  it("HTTP-30: the in-memory client says why, as the runner does: complete, the peer's reset with its code, a lost connection, the app's reset", async () => {
    const lastEvent = async (app: (last: (e: InboundEvent) => void) => App, req: TestRequest) => {
      let seen: InboundEvent | undefined
      await Effect.runPromise(request(app((e) => void (seen = e)), req))
      return seen
    }
    const drain = (last: (e: InboundEvent) => void): App => (_s, receive, send) =>
      Effect.gen(function*() {
        let e = yield* receive
        while (e.type !== "http.disconnect") {
          if (e.type === "http.request" && !e.moreBody) yield* send(start).pipe(Effect.andThen(send({ type: "http.response.body" })))
          e = yield* receive
        }
        last(e)
      })
    const resetting = (last: (e: InboundEvent) => void): App => (_s, receive, send) =>
      Effect.gen(function*() {
        yield* send({ type: "http.response.reset", errorCode: 0 })
        last(yield* receive)
      })
    const end = (e: InboundEvent | undefined) => (e?.type === "http.disconnect" ? [e.end, e.errorCode] : e?.type)
    expect(end(await lastEvent(drain, { method: "POST", body: ["a", "b"] }))).toEqual(["complete", undefined])
    expect(end(await lastEvent(drain, { method: "POST", body: ["a", "b"], disconnectAfter: 1, errorCode: 8 }))).toEqual(["reset", 8])
    expect(end(await lastEvent(drain, { method: "POST", body: ["a", "b"], disconnectAfter: 1 }))).toEqual(["connection", undefined])
    expect(end(await lastEvent(resetting, { method: "POST", body: "a" }))).toEqual(["app-reset", undefined])
  })

  it("WS-5: a websocket receive that does not start with websocket.connect, or yields it twice", async () => {
    const scope: WebSocketScope = { ...testScope(), type: "websocket", httpVersion: "1.1", scheme: "ws", subprotocols: [], extensions: {} }
    const ws = async (events: ReadonlyArray<InboundEvent>) => {
      const queue = [...events]
      const receive: Receive = Effect.sync(() => queue.shift()!)
      const app: App = (_s, rcv) => Effect.forEach(events, () => rcv, { discard: true })
      return ruleOf(await run(validate(app)(scope, receive, () => Effect.void)))
    }
    const connect: InboundEvent = { type: "websocket.connect", connectionId: 1, streamId: 1 }
    const message: InboundEvent = { type: "websocket.receive", connectionId: 1, streamId: 1, text: "hi" }
    expect(await ws([message])).toBe("WS-5")
    expect(await ws([connect, message, connect])).toBe("WS-5")
    expect(await ws([connect, message])).toBeUndefined()
  })
})

describe("a state moves only when the server took the event (http, websocket and lifespan alike)", () => {
  it("HTTP-1: a start the server refused does not count: the app may send its start again", async () => {
    let refused = false
    const send: Send = (event) =>
      event.type === "http.response.start" && !refused
        ? Effect.suspend(() => {
          refused = true
          return Effect.fail(new LocalProtocolError({ rule: "HTTP-6", detail: "the server's own refusal" }))
        })
        : Effect.void
    const app: App = (_s, _r, snd) => Effect.andThen(Effect.ignore(snd(start)), Effect.andThen(snd(start), snd({ type: "http.response.body" })))
    const exit = await run(validate(app)(testScope(), Effect.never, send))
    expect(exit._tag).toBe("Success")
  })

  it("WS-1: an accept the server refused does not open the WebSocket: the app may still refuse it", async () => {
    const scope: WebSocketScope = { ...testScope(), type: "websocket", httpVersion: "1.1", scheme: "ws", subprotocols: [], extensions: {} }
    const send: Send = (event) =>
      event.type === "websocket.accept" ? Effect.fail(new StreamClosedError({ connectionId: 1, streamId: 1 })) : Effect.void
    const app: App = (_s, _r, snd) => Effect.andThen(Effect.ignore(snd({ type: "websocket.accept" })), snd({ type: "websocket.http.response.start", status: 403 }))
    expect((await run(validate(app)(scope, Effect.never, send)))._tag).toBe("Success")
  })

  it("LIFE-2: a reply the server refused is still due", async () => {
    const scope: LifespanScope = { type: "lifespan", egi: lifespanEgi, connectionId: 0, streamId: 0, state: {} }
    let refused = false
    const send: Send = () =>
      Effect.suspend(() => {
        if (refused) return Effect.void
        refused = true
        return Effect.fail(new StreamClosedError({ connectionId: 0, streamId: 0 }))
      })
    const receive: Receive = Effect.succeed({ type: "lifespan.startup", connectionId: 0, streamId: 0 })
    const app: App = (_s, rcv, snd) =>
      Effect.andThen(rcv, Effect.andThen(Effect.ignore(snd({ type: "lifespan.startup.complete" })), snd({ type: "lifespan.startup.complete" })))
    expect((await run(validate(app)(scope, receive, send)))._tag).toBe("Success")
  })

  it("LIFE-2: table 3 is looked up by its own keys only: constructor, toString, __proto__ are replies never due", () => {
    for (const type of ["constructor", "toString", "__proto__", "hasOwnProperty", "valueOf"]) {
      for (const state of Object.keys(lifespanTable) as Array<keyof typeof lifespanTable>) {
        const next = nextLifespanState(state, type)
        expect(next, `${state} × ${type}`).toBeInstanceOf(LocalProtocolError)
        expect((next as LocalProtocolError).rule).toBe("LIFE-2")
      }
    }
    expect(nextLifespanState("startup", "lifespan.startup.complete")).toBe("running")
  })
})

describe("file bodies in memory (spec.md §7.9)", () => {
  const dir = mkdtempSync(join(tmpdir(), "egi-request-"))
  const file = join(dir, "digits.txt")
  writeFileSync(file, "0123456789")
  afterAll(() => rmSync(dir, { recursive: true, force: true }))
  const pathsend = (status = 200, headers: ReadonlyArray<readonly [string, string]> = []) =>
    sends({ type: "http.response.start", status, headers }, { type: "http.response.pathsend", path: file })
  const ok = async (app: App, req: TestRequest = {}) => {
    const exit = await run(request(app, req))
    if (Exit.isFailure(exit)) throw new Error(`request failed: ${String(exit.cause)}`)
    return exit.value
  }
  const header = (headers: ReadonlyArray<readonly [string, string]>, name: string) => headers.find((h) => h[0] === name)?.[1]

  it("HTTP-21: pathsend: request() returns the file's bytes with content-length, etag, last-modified, accept-ranges, complete", async () => {
    const res = await ok(pathsend(200, [["content-type", "text/plain"]]))
    expect([res.status, res.text, res.complete]).toEqual([200, "0123456789", true])
    expect(header(res.headers, "content-length")).toBe("10")
    expect(header(res.headers, "content-type")).toBe("text/plain")
    expect(header(res.headers, "accept-ranges")).toBe("bytes")
    expect(header(res.headers, "etag")).toMatch(/^W\/"a-[0-9a-f]+"$/)
    expect(header(res.headers, "last-modified")).toMatch(/ GMT$/)
  })

  it("HTTP-21: a satisfiable range gets 206 with exactly its bytes, an unsatisfiable one 416, a matching If-None-Match 304 without a body", async () => {
    const partial = await ok(pathsend(), { headers: [["range", "bytes=2-4"]] })
    expect([partial.status, partial.text, header(partial.headers, "content-range")]).toEqual([206, "234", "bytes 2-4/10"])
    const suffix = await ok(pathsend(), { headers: [["range", "bytes=-3"]] })
    expect([suffix.status, suffix.text]).toEqual([206, "789"])
    const none = await ok(pathsend(), { headers: [["range", "bytes=20-"]] })
    expect([none.status, none.text, header(none.headers, "content-range")]).toEqual([416, "", "bytes */10"])
    const etag = header((await ok(pathsend())).headers, "etag")!
    const cached = await ok(pathsend(), { headers: [["if-none-match", etag]] })
    expect([cached.status, cached.text, cached.complete]).toEqual([304, "", true])
    const head = await ok(pathsend(), { method: "HEAD" })
    expect([head.status, head.text, header(head.headers, "content-length")]).toEqual([200, "", "10"])
  })

  it("HTTP-21: zerocopysend sends count bytes from offset of the app's descriptor, and leaves it open", async () => {
    const fd = openSync(file, "r")
    try {
      const res = await ok(sends(start, { type: "http.response.zerocopysend", file: fd, offset: 3, count: 4 }))
      expect([res.status, res.text, header(res.headers, "content-length")]).toEqual([200, "3456", "4"])
      const again = await ok(sends(start, { type: "http.response.zerocopysend", file: fd }))
      expect(again.text).toBe("0123456789")
    } finally {
      closeSync(fd)
    }
  })

  it("HTTP-21: a file that cannot be opened fails send with FileSendError before anything is sent; the app may then answer 404", async () => {
    const app: App = (_s, _r, send) =>
      Effect.gen(function*() {
        yield* send(start)
        const failed = yield* Effect.flip(send({ type: "http.response.pathsend", path: join(dir, "missing.txt") }))
        expect(failed).toBeInstanceOf(FileSendError)
        expect((failed as FileSendError).code).toBe("ENOENT")
        yield* send({ type: "http.response.start", status: 404 })
        yield* send({ type: "http.response.body", body: text("missing") })
      })
    const res = await ok(app)
    expect([res.status, res.text, res.complete]).toEqual([404, "missing", true])
  })

  it("HTTP-18: a file body whose start announced trailers completes with the trailers event", async () => {
    const app = sends({ ...start, trailers: true }, { type: "http.response.pathsend", path: file }, { type: "http.response.trailers", headers: [["x-a", "1"]] })
    const res = await ok(app, { headers: [["te", "trailers"]] })
    expect([res.text, res.complete]).toEqual(["0123456789", true])
  })
})
