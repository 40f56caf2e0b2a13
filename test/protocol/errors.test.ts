/**
 * The interface's errors by `_tag` and fields (spec.md §5, CORE-9), as an
 * app meets them from a real server: what another implementation must
 * produce for `Effect.catchTag` and field reads to work the same.
 */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import type { App } from "../../src/protocol/app.ts"
import type { OutboundEvent } from "../../src/protocol/events.ts"
import type { FlowControlExtension } from "../../src/protocol/extensions.ts"
import { unsupportedScope } from "../../src/protocol/unsupported.ts"
import { deferred, within } from "../support/async.ts"
import { cancel, closeSession, collect, connect, ready } from "../support/h2client.ts"
import { httpApp } from "../support/outcome.ts"
import { listen } from "../support/server.ts"

/** The error an Effect failed with, as a plain record of its own enumerable properties. */
const failure = <E>(effect: Effect.Effect<unknown, E>): Effect.Effect<Record<string, unknown> | "no failure"> =>
  Effect.match(effect, {
    onSuccess: () => "no failure" as const,
    onFailure: (e) => ({ ...(e as object) })
  })

describe("CORE-9: errors by _tag and fields", () => {
  it("CORE-9: LocalProtocolError {_tag, rule, detail} from send and from setLocalWindowSize; catchTag matches it", async () => {
    const seen = deferred<ReadonlyArray<unknown>>()
    const server = await listen(httpApp((scope, _receive, send) =>
      Effect.gen(function*() {
        const bad = yield* failure(send({ type: "http.response.start", status: 42 }))
        const caught = yield* send({ type: "http.response.start", status: 42 }).pipe(
          Effect.as("not caught"),
          Effect.catchTag("LocalProtocolError", (e) => Effect.succeed(`caught ${e.rule}`))
        )
        const flow = scope.extensions["http.flow_control"] as FlowControlExtension
        const window = yield* failure(flow.setLocalWindowSize(-1))
        seen.resolve([bad, caught, window])
        yield* send({ type: "http.response.start", status: 204 })
        yield* send({ type: "http.response.body" })
      })
    ))
    const session = await connect(server.url)
    try {
      await collect(session.request({ ":path": "/" }))
      const [bad, caught, window] = await within(seen.promise, 5000, "the app's errors")
      expect(Object.keys(bad as object).sort()).toEqual(["_tag", "detail", "rule"])
      expect(bad).toMatchObject({ _tag: "LocalProtocolError", rule: "HTTP-4", detail: expect.any(String) })
      expect(caught).toBe("caught HTTP-4")
      expect(Object.keys(window as object).sort()).toEqual(["_tag", "detail", "rule"])
      expect(window).toMatchObject({ _tag: "LocalProtocolError", rule: "HTTP-24" })
    } finally {
      await closeSession(session)
      await server.close()
    }
  })

  it("CORE-9: StreamClosedError {_tag, connectionId, streamId, errorCode} after the peer's RST_STREAM; receive does not fail on the reset stream", async () => {
    const seen = deferred<ReadonlyArray<unknown>>()
    const server = await listen(httpApp((scope, receive, send) =>
      Effect.gen(function*() {
        let event = yield* receive
        while (event.type === "http.request") event = yield* receive
        const again = yield* Effect.exit(receive)
        const closed = yield* failure(send({ type: "http.response.start", status: 200 }))
        seen.resolve([scope.connectionId, scope.streamId, again._tag, closed])
      })
    ))
    const session = await connect(server.url)
    try {
      const stream = session.request({ ":method": "POST", ":path": "/" }, { endStream: false })
      const done = collect(stream)
      await ready(stream)
      stream.write(new Uint8Array(1))
      await new Promise((r) => setTimeout(r, 50))
      cancel(stream)
      await done
      const [connectionId, streamId, again, closed] = await within(seen.promise, 5000, "the app's error")
      expect(again).toBe("Success")
      expect(Object.keys(closed as object).sort()).toEqual(["_tag", "connectionId", "errorCode", "streamId"])
      expect(closed).toEqual({ _tag: "StreamClosedError", connectionId, streamId, errorCode: 8 })
    } finally {
      await closeSession(session)
      await server.close()
    }
  })

  it("CORE-9: StreamClosedError without a peer code has no errorCode key (HTTP/1.1, the client went away)", async () => {
    const seen = deferred<unknown>()
    const server = await listen(httpApp((_scope, receive, send) =>
      Effect.gen(function*() {
        let event = yield* receive
        while (event.type === "http.request") event = yield* receive
        seen.resolve(yield* failure(send({ type: "http.response.start", status: 200 })))
      })
    ))
    const net = await import("node:net")
    const socket = net.connect(server.port, "127.0.0.1")
    try {
      socket.on("error", () => {})
      socket.write("POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\n\r\nabc")
      await new Promise((r) => setTimeout(r, 100))
      socket.destroy()
      const closed = await within(seen.promise, 5000, "the app's error")
      expect(Object.keys(closed as object).sort()).toEqual(["_tag", "connectionId", "streamId"])
      expect(closed).toMatchObject({ _tag: "StreamClosedError" })
    } finally {
      socket.destroy()
      await server.close()
    }
  })

  it("CORE-9: FileSendError {_tag, file, code, detail} for a path that does not exist; nothing sent, the app answers 404", async () => {
    const seen = deferred<unknown>()
    const missing = "/nonexistent/egi-core-9-" + process.pid
    const server = await listen(httpApp((_scope, _receive, send) =>
      Effect.gen(function*() {
        yield* send({ type: "http.response.start", status: 200 })
        seen.resolve(yield* failure(send({ type: "http.response.pathsend", path: missing })))
        yield* send({ type: "http.response.start", status: 404 })
        yield* send({ type: "http.response.body" })
      })
    ))
    const session = await connect(server.url)
    try {
      const r = await collect(session.request({ ":path": "/" }))
      expect(r.status).toBe(404)
      const error = await within(seen.promise, 5000, "the app's error")
      expect(Object.keys(error as object).sort()).toEqual(["_tag", "code", "detail", "file"])
      expect(error).toMatchObject({ _tag: "FileSendError", file: missing, code: "ENOENT", detail: expect.any(String) })
    } finally {
      await closeSession(session)
      await server.close()
    }
  })

  it("CORE-9: the lifespan's send fails with LocalProtocolError (rule LIFE-2) of the same shape; unsupportedScope fails with {_tag: UnsupportedScopeError, scopeType}", async () => {
    const seen = deferred<ReadonlyArray<unknown>>()
    const app: App = (scope, receive, send) => {
      if (scope.type === "lifespan") {
        return Effect.gen(function*() {
          yield* receive
          const early = yield* failure(send({ type: "lifespan.shutdown.complete" } as OutboundEvent))
          yield* send({ type: "lifespan.startup.complete" })
          const unsupported = yield* failure(unsupportedScope({ ...scope, type: "bogus" } as never))
          seen.resolve([early, unsupported])
          yield* receive
          yield* send({ type: "lifespan.shutdown.complete" })
        })
      }
      return unsupportedScope(scope)
    }
    const server = await listen(app)
    try {
      const [early, unsupported] = await within(seen.promise, 5000, "the lifespan's errors")
      expect(Object.keys(early as object).sort()).toEqual(["_tag", "detail", "rule"])
      expect(early).toMatchObject({ _tag: "LocalProtocolError", rule: "LIFE-2" })
      expect(unsupported).toEqual({ _tag: "UnsupportedScopeError", scopeType: "bogus" })
    } finally {
      await server.close()
    }
  })
})
