/**
 * The validator (src/testing/validate.ts) and the in-memory client: every
 * example passes; deliberately broken apps and servers are each caught
 * with the rule they break (a mutation check of the validator).
 */
import { Cause, Effect, Exit } from "effect"
import { describe, expect, it } from "vitest"
import duplex from "../../examples/duplex.ts"
import echo from "../../examples/echo.ts"
import hello from "../../examples/hello.ts"
import stream from "../../examples/stream.ts"
import trailers from "../../examples/trailers.ts"
import type { App, Receive, Send } from "../../src/protocol/app.ts"
import type { InboundEvent, OutboundEvent } from "../../src/protocol/events.ts"
import { type EgiScope, lifespanEgi } from "../../src/protocol/scope.ts"
import { request, testScope, validate } from "../../src/testing/index.ts"

const run = <A>(effect: Effect.Effect<A, unknown>) => Effect.runPromiseExit(effect)

/** The rule a failed or died run names. */
const ruleOf = (exit: Exit.Exit<unknown, unknown>): string | undefined => {
  if (Exit.isSuccess(exit)) return undefined
  const reason = exit.cause.reasons[0]
  const error = reason === undefined ? undefined : Cause.isFailReason(reason) ? reason.error : Cause.isDieReason(reason) ? reason.defect : undefined
  return (error as { rule?: string } | undefined)?.rule
}

/** An app that sends `events` in order and stops at the first failure. */
const sends = (...events: ReadonlyArray<OutboundEvent>): App => (_scope, _receive, send) => Effect.forEach(events, send, { discard: true })

describe("the validator passes the examples", () => {
  it.each([
    ["hello", hello, {}],
    ["echo", echo, { method: "POST", body: ["a", "b", "c"] }],
    ["stream", stream, { path: "/?chunks=3&size=10&delay=0" }],
    ["duplex", duplex, { method: "POST", body: ["x", "y"] }],
    ["trailers", trailers, { method: "POST", body: "data", headers: [["te", "trailers"]] }]
  ] as const)("CORE-6: examples/%s.ts keeps every rule it can be checked against", async (_name, app, req) => {
    const exit = await run(request(app as App, req))
    expect(exit._tag).toBe("Success")
    if (Exit.isSuccess(exit)) expect(exit.value.complete).toBe(true)
  })
})

describe("broken apps are caught with the rule they break", () => {
  const start = { type: "http.response.start", status: 200 } as const
  const last = { type: "http.response.body", body: new Uint8Array(1) } as const
  it.each([
    ["HTTP-1", sends(start, start)],
    ["HTTP-2", sends(last)],
    ["HTTP-3", sends(start, last, last)],
    ["HTTP-4", sends({ type: "http.response.start", status: 99 })],
    ["HTTP-5", sends({ type: "http.response.start", status: 200, headers: [["Content-Type", "x"]] })],
    ["HTTP-6", sends({ type: "http.response.start", status: 200, headers: [["x-a", "line\nbreak"]] })],
    ["HTTP-18", sends(start, { type: "http.response.body", body: new Uint8Array(1), moreBody: true }, { type: "http.response.trailers", headers: [] })],
    ["CORE-6", sends({ type: "lifespan.startup.complete" })],
    ["CORE-6", sends(start, { type: "http.response.body", body: "not bytes" } as unknown as OutboundEvent)],
    ["CORE-6", sends({ type: "http.response.start", status: 200, trailers: "yes" } as unknown as OutboundEvent)]
  ] as const)("%s: the validator fails the app's send with it", async (rule, app) => {
    expect(ruleOf(await run(request(app)))).toBe(rule)
  })

  it("WS-2 WS-1 WS-4: websocket misuse is caught before it reaches the server", async () => {
    const scope: EgiScope = { ...testScope(), type: "websocket", httpVersion: "1.1", scheme: "ws", subprotocols: [], extensions: {} }
    const receive: Receive = Effect.succeed({ type: "websocket.connect", connectionId: 1, streamId: 1 })
    const sent: Array<OutboundEvent> = []
    const send: Send = (e) => Effect.sync(() => void sent.push(e))
    const rule = async (app: App) => ruleOf(await run(validate(app)(scope, receive, send)))
    expect(await rule(sends({ type: "websocket.send", text: "early" }))).toBe("WS-2")
    expect(await rule(sends({ type: "websocket.accept" }, { type: "websocket.accept" }))).toBe("WS-1")
    expect(await rule(sends({ type: "websocket.accept" }, { type: "websocket.send" } as OutboundEvent))).toBe("WS-4")
    expect(sent.filter((e) => e.type === "websocket.send")).toEqual([])
  })

  it("LIFE-2: a lifespan reply that is not due is caught", async () => {
    const scope: EgiScope = { type: "lifespan", egi: lifespanEgi, connectionId: 0, streamId: 0, state: {} }
    const receive: Receive = Effect.succeed({ type: "lifespan.startup", connectionId: 0, streamId: 0 })
    const app: App = (_s, rcv, send) => Effect.andThen(rcv, Effect.andThen(send({ type: "lifespan.startup.complete" }), send({ type: "lifespan.startup.complete" })))
    expect(ruleOf(await run(validate(app)(scope, receive, () => Effect.void)))).toBe("LIFE-2")
  })
})

describe("broken servers are caught with the rule they break", () => {
  /** Runs echo under the validator with a server that hands it `events`. */
  const serve = (events: ReadonlyArray<InboundEvent>, headers: ReadonlyArray<readonly [string, string]> = []) => {
    const queue = [...events]
    const receive: Receive = Effect.sync(() => queue.shift() ?? { type: "http.disconnect", connectionId: 1, streamId: 1 })
    return run(validate(echo)(testScope({ method: "POST", headers }), receive, () => Effect.void))
  }
  const chunk = (body: string, moreBody: boolean): InboundEvent => ({ type: "http.request", connectionId: 1, streamId: 1, body: Buffer.from(body), moreBody })

  it("HTTP-7: body past the request's content-length", async () => {
    expect(ruleOf(await serve([chunk("abcdef", false)], [["content-length", "3"]]))).toBe("HTTP-7")
  })

  it("HTTP-8: request body after a disconnect", async () => {
    const app: App = (_s, receive) => Effect.andThen(receive, Effect.andThen(receive, receive))
    const queue: Array<InboundEvent> = [{ type: "http.disconnect", connectionId: 1, streamId: 1 }, chunk("late", false)]
    const receive: Receive = Effect.sync(() => queue.shift()!)
    expect(ruleOf(await run(validate(app)(testScope(), receive, () => Effect.void)))).toBe("HTTP-8")
  })

  it("CORE-1: an event with another stream's correlator", async () => {
    expect(ruleOf(await serve([{ type: "http.request", connectionId: 1, streamId: 9, body: new Uint8Array(0), moreBody: false }]))).toBe("CORE-1")
  })

  it("CORE-5: a scope without extensions", async () => {
    const scope = { ...testScope(), extensions: undefined } as unknown as EgiScope
    expect(ruleOf(await run(validate(hello)(scope, Effect.never, () => Effect.void)))).toBe("CORE-5")
  })
})

describe("the validator over real sockets", () => {
  it("CORE-1 HTTP-7 HTTP-8: the runner hands validated examples nothing they object to, over HTTP/2 and HTTP/1.1", async () => {
    const { listen } = await import("../support/server.ts")
    const { closeSession, connect, request: h2 } = await import("../support/h2client.ts")
    const { rawHttp, statusOf } = await import("../support/clients.ts")
    const server = await listen(validate((scope, receive, send) => (scope.type === "http" && scope.path === "/echo" ? echo : hello)(scope, receive, send)))
    try {
      const session = await connect(server.url)
      const a = await h2(session, { ":method": "GET", ":path": "/" })
      const b = await h2(session, { ":method": "POST", ":path": "/echo", "content-length": "6" }, [Buffer.from("abc"), Buffer.from("def")])
      await closeSession(session)
      expect([a.status, b.status, b.body.toString()]).toEqual([200, 200, "abcdef"])
      const c = await rawHttp(server.port, ["POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 3\r\nconnection: close\r\n\r\nxyz"])
      expect(statusOf(c.text)).toBe(200)
      expect(server.lines.error).toEqual([])
    } finally {
      await server.close()
    }
  })
})
