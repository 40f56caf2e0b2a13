/**
 * `EgiHttp` (src/adapters/effect/egi-http.ts) in memory: handlers served by
 * `fromHttpApp` through the validating in-memory client (src/testing), so
 * every event they cause is checked against spec.md; and the same handlers
 * on a request EGI did not make (effect's web request), where they must do
 * nothing. Over real sockets: effect-push.test.ts.
 */
import { Context, Effect, Option } from "effect"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import { describe, expect, it } from "vitest"
import * as EgiHttp from "../../../src/adapters/effect/egi-http.ts"
import { fromHttpApp } from "../../../src/adapters/effect/index.ts"
import { runExchange, toHandled } from "../../../src/adapters/effect/from-http-app.ts"
import type { Send } from "../../../src/protocol/app.ts"
import type { InboundEvent, OutboundEvent } from "../../../src/protocol/events.ts"
import { request, testScope, validate } from "../../../src/testing/index.ts"

const run = (app: ReturnType<typeof fromHttpApp>, req: Parameters<typeof request>[1] = {}) =>
  Effect.runPromise(request(validate(app as never), req))

/** A request from effect's web handler: not EGI's, no stream. */
const foreign = HttpServerRequest.fromWeb(new Request("http://localhost/"))
const offEgi = <A, E>(effect: Effect.Effect<A, E, HttpServerRequest.HttpServerRequest>) =>
  Effect.runPromiseExit(Effect.provideService(effect, HttpServerRequest.HttpServerRequest, foreign))

class Clock extends Context.Service<Clock, { readonly now: () => number }>()("test/Clock") {}

describe("EgiHttp (spec.md §12.1, §7)", () => {
  it("HTTPAPP-22: current is the request's stream, with its correlator and extension views; None off EGI", async () => {
    const app = fromHttpApp(Effect.gen(function*() {
      const stream = yield* EgiHttp.current
      const correlator = yield* EgiHttp.correlator
      const priority = yield* EgiHttp.priority
      const flow = yield* EgiHttp.flowControl
      const connection = yield* EgiHttp.connection
      return yield* HttpServerResponse.json({
        some: Option.isSome(stream),
        correlator: Option.getOrNull(correlator),
        urgency: Option.getOrNull(Option.map(priority, (p) => p.urgency)),
        flow: Option.isSome(flow),
        connectionId: Option.getOrNull(Option.map(connection, (c) => c.connectionId))
      })
    }))
    const h2 = JSON.parse((await run(app, { headers: [["priority", "u=1"]] })).text)
    expect(h2).toEqual({ some: true, correlator: { connectionId: 1, streamId: 1 }, urgency: 1, flow: true, connectionId: 1 })
    const h1 = JSON.parse((await run(app, { httpVersion: "1.1" })).text)
    expect(h1.flow).toBe(false)

    const exit = await offEgi(Effect.all([EgiHttp.current, EgiHttp.correlator, EgiHttp.priority, EgiHttp.requestTrailers]))
    expect(exit).toMatchObject({ _tag: "Success", value: [Option.none(), Option.none(), Option.none(), Option.none()] })
  })

  it("HTTPAPP-22: push and earlyHint send their events where listed (the push before the head); no-ops off EGI and where not listed", async () => {
    const app = fromHttpApp(Effect.gen(function*() {
      yield* EgiHttp.earlyHint(["</style.css>; rel=preload; as=style"])
      yield* EgiHttp.push("/style.css", { headers: { accept: "text/css" } })
      yield* EgiHttp.push("/font.woff2", { linkParams: ["type=\"font/woff2\""] })
      return HttpServerResponse.text("page")
    }))
    const h2 = await run(app)
    expect(h2.events.map((e) => e.type)).toEqual([
      "http.response.early_hint",
      "http.response.push",
      "http.response.push",
      "http.response.start",
      "http.response.body"
    ])
    expect(h2.pushes).toEqual([{ path: "/style.css", headers: [["accept", "text/css"]] }, { path: "/font.woff2", headers: [] }])
    const bare = await run(app, { extensions: {} })
    expect(bare.events.map((e) => e.type)).toEqual(["http.response.start", "http.response.body"])
    const h10 = await run(app, { httpVersion: "1.0" })
    expect(h10.events.map((e) => e.type)).toEqual(["http.response.push", "http.response.push", "http.response.start", "http.response.body"])

    expect(await offEgi(Effect.all([EgiHttp.push("/x"), EgiHttp.earlyHint(["</x>"]), EgiHttp.goaway]))).toMatchObject({ _tag: "Success" })
  })

  it("HTTPAPP-23: setTrailers makes the start say trailers: true and sends every section, in order, after the last body, Effects run then with the handler's context", async () => {
    let ran = 0
    const streamed = fromHttpApp(Effect.gen(function*() {
      yield* EgiHttp.setTrailers({ "x-first": "1" })
      yield* EgiHttp.setTrailers(Effect.gen(function*() {
        ran++
        const clock = yield* Clock
        return [["server-timing", `app;dur=${clock.now()}`]] as const
      }))
      return HttpServerResponse.text("body")
    }).pipe(Effect.provideService(Clock, { now: () => 42 })))
    ran = 0
    const res = await run(streamed, { headers: [["te", "trailers"]] })
    expect(ran).toBe(1)
    expect(res.events.map((e) => e.type)).toEqual(["http.response.start", "http.response.body", "http.response.trailers"])
    expect(res.events[0]).toMatchObject({ trailers: true })
    expect(res.trailers).toEqual([["x-first", "1"], ["server-timing", "app;dur=42"]])
    expect(res.text).toBe("body")

    const h10 = await run(streamed, { httpVersion: "1.0" })
    expect(h10.events.map((e) => e.type)).toEqual(["http.response.start", "http.response.body"])
    expect(await offEgi(EgiHttp.setTrailers({ a: "1" }))).toMatchObject({ _tag: "Success" })
  })

  it("HTTPAPP-22: neverIndex adds names to the start where header indexing is listed; a name that is not a lower-case token fails HTTP-5", async () => {
    const app = fromHttpApp(Effect.gen(function*() {
      yield* EgiHttp.neverIndex(["x-token", "x-token"])
      return HttpServerResponse.text("ok", { headers: { "x-token": "secret" } })
    }))
    expect((await run(app)).events[0]).toMatchObject({ neverIndex: ["x-token"] })
    expect((await run(app, { httpVersion: "1.1" })).events[0]).not.toHaveProperty("neverIndex")
    const bad = await offEgi(EgiHttp.neverIndex(["X Token"]))
    expect(bad).toMatchObject({ _tag: "Failure" })
  })

  it("HTTPAPP-24: reset sends RST_STREAM and nothing else is sent; where not listed (HTTP/1.1, off EGI) it fails with LocalProtocolError CORE-7", async () => {
    const app = fromHttpApp(Effect.gen(function*() {
      const outcome = yield* Effect.result(EgiHttp.reset(8))
      return HttpServerResponse.text(outcome._tag === "Failure" ? `refused ${outcome.failure._tag === "LocalProtocolError" ? outcome.failure.rule : "closed"}` : "never sent")
    }))
    const h2 = await run(app)
    expect(h2.events).toEqual([{ type: "http.response.reset", errorCode: 8 }])
    const h1 = await run(app, { httpVersion: "1.1" })
    expect(h1.text).toBe("refused CORE-7")
    const exit = await offEgi(EgiHttp.reset(8))
    expect(exit).toMatchObject({ _tag: "Failure" })
    expect(JSON.stringify(exit)).toContain("CORE-7")
  })

  it("HTTPAPP-22: requestTrailers yields the request's trailers once the body was read, repeated names joined", async () => {
    const app = fromHttpApp(Effect.gen(function*() {
      const before = yield* EgiHttp.requestTrailers
      const req = yield* HttpServerRequest.HttpServerRequest
      const body = yield* req.text
      const after = yield* EgiHttp.requestTrailers
      return yield* HttpServerResponse.json({ before: Option.getOrNull(before), body, after: Option.getOrNull(after) })
    }))
    const res = await run(app, { method: "POST", body: "abc" })
    expect(JSON.parse(res.text)).toEqual({ before: null, body: "abc", after: null })
  })

  it("HTTPAPP-22: requestTrailers yields the trailers that followed the body (http.request.trailers)", async () => {
    const scope = testScope({ method: "POST" })
    const ids = { connectionId: scope.connectionId, streamId: scope.streamId }
    const inbound: Array<InboundEvent> = [
      { type: "http.request", ...ids, body: new TextEncoder().encode("abc"), moreBody: false, trailers: true },
      { type: "http.request.trailers", ...ids, headers: [["x-sum", "1"], ["x-sum", "2"], ["x-other", "z"]] }
    ]
    const receive = Effect.sync(() => inbound.shift() ?? { type: "http.disconnect" as const, ...ids, end: "complete" as const })
    const sent: Array<OutboundEvent> = []
    const send: Send = (event) => Effect.sync(() => void sent.push(event))
    const handled = toHandled(Effect.gen(function*() {
      const req = yield* HttpServerRequest.HttpServerRequest
      yield* req.text
      const trailers = yield* EgiHttp.requestTrailers
      return yield* HttpServerResponse.json(Option.getOrNull(trailers))
    }))
    await Effect.runPromise(runExchange(handled, scope, receive, send))
    const body = sent.find((e) => e.type === "http.response.body")
    expect(JSON.parse(new TextDecoder().decode(body?.type === "http.response.body" ? body.body : undefined))).toEqual({ "x-sum": "1, 2", "x-other": "z" })
  })

  it("HTTPAPP-22: goaway sends http.goaway and the response still goes out", async () => {
    const app = fromHttpApp(Effect.as(EgiHttp.goaway, HttpServerResponse.text("bye")))
    const res = await run(app)
    expect(res.events.map((e) => e.type)).toEqual(["http.goaway", "http.response.start", "http.response.body"])
    expect(res.text).toBe("bye")
  })
})
