/**
 * src/adapters/effect/socket.ts on a fake `websocket` stream: a `receive`
 * fed by hand and a `send` that keeps table 4 (spec.md §11.5) with
 * `WebSocketSide`, as the runner does. The same code on real sockets (HTTP/1.1
 * and RFC 8441) is in effect-ws.test.ts.
 */
import { Cause, Deferred, Effect, Exit, Fiber, Option, Queue, Scope } from "effect"
import * as HttpServerError from "effect/http/HttpServerError"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as Socket from "effect/socket/Socket"
import { describe, expect, it } from "vitest"
import { EgiServerRequest, makeExchange } from "../../../src/adapters/effect/request.ts"
import { acceptSocket, denialSend, WebSocketUpgrade } from "../../../src/adapters/effect/socket.ts"
import type { Send } from "../../../src/protocol/app.ts"
import { type SendError, StreamClosedError } from "../../../src/protocol/errors.ts"
import type { InboundEvent, OutboundEvent } from "../../../src/protocol/events.ts"
import type { WebSocketScope } from "../../../src/protocol/scope.ts"
import { WebSocketSide } from "../../../src/protocol/websocket.ts"
import { testScope } from "../../../src/testing/client.ts"

const scope: WebSocketScope = {
  ...testScope({ path: "/ws" }),
  type: "websocket",
  httpVersion: "2",
  scheme: "ws",
  subprotocols: ["chat.v1", "chat.v2"],
  extensions: {}
}
const ids = { connectionId: scope.connectionId, streamId: scope.streamId }

/** A fake stream: `push` feeds `receive`; `send` checks table 4 and records; `gate`, when set, holds each send until it opens. */
const fakeStream = () => {
  const inbox = Effect.runSync(Queue.unbounded<InboundEvent>())
  const side = new WebSocketSide(scope)
  const sent: Array<OutboundEvent> = []
  let gate: Deferred.Deferred<void> | undefined
  let gone = false
  const send: Send = (event) =>
    Effect.suspend((): Effect.Effect<void, SendError> => {
      if (gone) return Effect.fail(new StreamClosedError(ids))
      const bad = side.check(event)
      if (bad !== undefined) return Effect.fail(bad)
      side.accept(event)
      sent.push(event)
      return gate === undefined ? Effect.void : Deferred.await(gate)
    })
  return {
    receive: Queue.take(inbox),
    send,
    sent,
    push: (event: InboundEvent) => Queue.offerUnsafe(inbox, event),
    hold: () => (gate = Deferred.makeUnsafe<void>()),
    release: () => gate !== undefined && Deferred.doneUnsafe(gate, Effect.void),
    leave: () => {
      gone = true
    }
  }
}

const connect: InboundEvent = { type: "websocket.connect", ...ids }
const text = (t: string): InboundEvent => ({ type: "websocket.receive", ...ids, text: t })
const bytes = (b: Uint8Array): InboundEvent => ({ type: "websocket.receive", ...ids, bytes: b })
const disconnect = (code: number, reason = ""): InboundEvent => ({ type: "websocket.disconnect", ...ids, code, reason })

const run = <A, E>(effect: Effect.Effect<A, E, Scope.Scope>): Promise<A> => Effect.runPromise(Effect.scoped(effect))

const closeOf = (exit: Exit.Exit<unknown, Socket.SocketError>) => {
  const error = Exit.isFailure(exit) ? Cause.findErrorOption(exit.cause) : Option.none()
  return Option.isSome(error) && error.value.reason._tag === "SocketCloseError" ? { code: error.value.reason.code, reason: error.value.reason.closeReason } : undefined
}

describe("acceptSocket (spec.md §12.1, §11)", () => {
  it("HTTPAPP-20: accepts with upgradeWith's headers, sec-websocket-protocol as the subprotocol", async () => {
    const s = fakeStream()
    await run(acceptSocket(scope, s.receive, s.send, { headers: { "Sec-WebSocket-Protocol": "chat.v2", "x-served-by": "egi" } }))
    expect(s.sent).toEqual([{ type: "websocket.accept", subprotocol: "chat.v2", headers: [["x-served-by", "egi"]] }])
  })

  it("HTTPAPP-20: a subprotocol the client never offered fails with LocalProtocolError WS-1", async () => {
    const s = fakeStream()
    const exit = await Effect.runPromiseExit(acceptSocket(scope, s.receive, s.send, { headers: { "sec-websocket-protocol": "other" } }))
    expect(Exit.isFailure(exit) && Cause.findErrorOption(exit.cause)).toMatchObject({ value: { rule: "WS-1" } })
  })

  it("HTTPAPP-21: the reader yields each message as sent (text, bytes), skipping websocket.connect; a disconnect fails every later pull with its code", async () => {
    const s = fakeStream()
    for (const e of [connect, text("hello"), bytes(new Uint8Array([1, 2])), disconnect(4001, "bye")]) s.push(e)
    const { batches, first, second } = await run(Effect.gen(function*() {
      const socket = yield* acceptSocket(scope, s.receive, s.send)
      const { pull } = yield* socket.reader
      const batches = [yield* pull, yield* pull]
      const first = yield* Effect.exit(pull)
      s.push(disconnect(4001, "bye")) // WS-5: the runner repeats it
      const second = yield* Effect.exit(pull)
      return { batches, first, second }
    }))
    expect(batches).toEqual([["hello"], [new Uint8Array([1, 2])]])
    expect(closeOf(first)).toEqual({ code: 4001, reason: "bye" })
    expect(closeOf(second)).toEqual({ code: 4001, reason: "bye" })
  })

  it("HTTPAPP-21: the writer sends text, bytes and a CloseEvent as websocket.send and websocket.close", async () => {
    const s = fakeStream()
    await run(Effect.gen(function*() {
      const socket = yield* acceptSocket(scope, s.receive, s.send)
      const writer = yield* socket.writer
      yield* writer.writeAll(["a", new Uint8Array([7])])
      yield* writer.write(new Socket.CloseEvent(4000, "done"))
    }))
    expect(s.sent.slice(1)).toEqual([
      { type: "websocket.send", text: "a" },
      { type: "websocket.send", bytes: new Uint8Array([7]) },
      { type: "websocket.close", code: 4000, reason: "done" }
    ])
  })

  it("HTTPAPP-21: a write completes only when send does (WS-6 backpressure)", async () => {
    const s = fakeStream()
    const done = await run(Effect.gen(function*() {
      const socket = yield* acceptSocket(scope, s.receive, s.send)
      const writer = yield* socket.writer
      s.hold()
      const fiber = yield* Effect.forkChild(writer.write("slow"))
      yield* Effect.sleep(20)
      const before = fiber.pollUnsafe()
      s.release()
      yield* Fiber.join(fiber)
      return before
    }))
    expect(done).toBeUndefined()
  })

  it("HTTPAPP-21: a failed send (client gone, a code WS-10 refuses) fails the write with SocketWriteError", async () => {
    const s = fakeStream()
    const [badCode, gone] = await run(Effect.gen(function*() {
      const socket = yield* acceptSocket(scope, s.receive, s.send)
      const writer = yield* socket.writer
      const badCode = yield* Effect.flip(writer.write(new Socket.CloseEvent(1005)))
      s.leave()
      const gone = yield* Effect.flip(writer.write("late"))
      return [badCode, gone] as const
    }))
    expect(badCode.reason).toMatchObject({ _tag: "SocketWriteError", cause: { _tag: "LocalProtocolError", rule: "WS-10" } })
    expect(gone.reason).toMatchObject({ _tag: "SocketWriteError", cause: { _tag: "StreamClosedError" } })
  })

  it("HTTPAPP-21: releasing the reader fails a pull under way (1006) and closes the WebSocket: 1000, or 1011 on failure", async () => {
    const s = fakeStream()
    const pulled = await run(Effect.gen(function*() {
      const socket = yield* acceptSocket(scope, s.receive, s.send)
      const readScope = yield* Scope.make()
      const { pull } = yield* Scope.provide(socket.reader, readScope)
      const fiber = yield* Effect.forkChild(Effect.exit(pull))
      yield* Effect.sleep(5)
      yield* Scope.close(readScope, Exit.void)
      return yield* Fiber.join(fiber)
    }))
    expect(closeOf(pulled)).toEqual({ code: 1006, reason: undefined })
    expect(s.sent.at(-1)).toEqual({ type: "websocket.close", code: 1000 })

    const t = fakeStream()
    await Effect.runPromiseExit(Effect.scoped(Effect.gen(function*() {
      const socket = yield* acceptSocket(scope, t.receive, t.send)
      yield* socket.reader
      return yield* Effect.fail("boom")
    })))
    expect(t.sent.at(-1)).toEqual({ type: "websocket.close", code: 1011 })
  })

  it("HTTPAPP-21: a reader released after the client closed sends nothing more", async () => {
    const s = fakeStream()
    s.push(disconnect(1000))
    await run(Effect.gen(function*() {
      const socket = yield* acceptSocket(scope, s.receive, s.send)
      const { pull } = yield* socket.reader
      yield* Effect.exit(pull)
      s.leave()
    }))
    expect(s.sent.map((e) => e.type)).toEqual(["websocket.accept"])
  })
})

describe("WebSocketUpgrade (request.upgrade on a websocket scope)", () => {
  const request = HttpServerRequest.fromWeb(new Request("http://localhost/ws"))

  it("HTTPAPP-20: request.upgrade accepts once; a second upgrade yields the same Socket; the exchange is then upgraded", async () => {
    const s = fakeStream()
    const upgrade = new WebSocketUpgrade(scope, s.receive, s.send)
    const exchange = makeExchange(scope, s.receive, s.send)
    const egiRequest = new EgiServerRequest(exchange, upgrade.upgradeWith)
    const [a, b] = await run(Effect.all([egiRequest.upgrade, egiRequest.upgradeWith({ headers: { "x-ignored": "1" } })]))
    expect(a).toBe(b)
    expect(s.sent).toEqual([{ type: "websocket.accept", headers: [] }])
    expect(exchange.phase).toBe("upgraded")
  })

  it("HTTPAPP-20: an accept that breaks a rule fails with HttpServerError (InternalError, 500); a client gone before it interrupts with ClientAbort", async () => {
    const s = fakeStream()
    const bad = new WebSocketUpgrade(scope, s.receive, s.send)
    const error = await Effect.runPromise(Effect.flip(bad.upgradeWith(request, { headers: { "sec-websocket-protocol": "nope" } })))
    expect(error).toBeInstanceOf(HttpServerError.HttpServerError)
    expect(error.reason._tag).toBe("InternalError")

    const t = fakeStream()
    t.leave()
    const exit = await Effect.runPromiseExit(new WebSocketUpgrade(scope, t.receive, t.send).upgradeWith(request, {}))
    expect(Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause)).toBe(true)
    const annotated = Exit.isFailure(exit) && exit.cause.reasons.some((r) => r.annotations.has(HttpServerError.ClientAbort.key))
    expect(annotated).toBe(true)
  })
})

describe("denialSend (a handler that answers instead of upgrading)", () => {
  it("HTTPAPP-20: http.response.start and body become the denial's events (WS-3), content-length left to the runner", async () => {
    const s = fakeStream()
    const send = denialSend(s.send)
    await Effect.runPromise(Effect.all([
      send({ type: "http.response.start", status: 404, headers: [["content-type", "text/plain"], ["content-length", "9"]] }),
      send({ type: "http.response.body", body: new TextEncoder().encode("not "), moreBody: true }),
      send({ type: "http.response.body", body: new TextEncoder().encode("found") })
    ]))
    expect(s.sent).toEqual([
      { type: "websocket.http.response.start", status: 404, headers: [["content-type", "text/plain"]] },
      { type: "websocket.http.response.body", body: new TextEncoder().encode("not "), moreBody: true },
      { type: "websocket.http.response.body", body: new TextEncoder().encode("found") }
    ])
  })
})
