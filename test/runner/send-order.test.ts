/**
 * Which failure `send` reports first (spec.md §4.6): every rule is checked,
 * in one order, before the stream — so an app's mistake is reported even on
 * a stream the peer left, and `StreamClosedError` means the event was valid
 * (HTTP-34) — and an app blocked in `send` when the peer goes away is
 * interrupted, its finalizers run (HTTP-15, HTTP-9). Real sockets, both
 * protocols where the rule has a wire side.
 */
import { Effect } from "effect"
import * as net from "node:net"
import { describe, expect, it } from "vitest"
import { deferred, within } from "../support/async.ts"
import { cancel, closeSession, collect, connect, ready } from "../support/h2client.ts"
import { httpApp, OK, type Outcome, rule, trySend } from "../support/outcome.ts"
import { listen } from "../support/server.ts"

const closed = (errorCode: number | undefined, streamId: number): Outcome => ({
  tag: "StreamClosedError",
  errorCode,
  connectionId: 1,
  streamId
})

describe("HTTP-34: send checks every rule before the stream", () => {
  it("HTTP-34 HTTP-9: after the peer reset the stream, an event that breaks a rule fails with that rule, a valid one with StreamClosedError, and reset and goaway complete", async () => {
    const outcomes = deferred<ReadonlyArray<Outcome>>()
    const server = await listen(httpApp((scope, receive, send) =>
      Effect.gen(function*() {
        // Wait for the body; the client resets instead.
        let event = yield* receive
        while (event.type === "http.request") event = yield* receive
        const seen: Array<Outcome> = []
        seen.push(yield* trySend(send, { type: "http.response.start", status: 200, connectionId: scope.connectionId + 1 }))
        seen.push(yield* trySend(send, { type: "http.response.nonsense" }))
        seen.push(yield* trySend(send, { type: "http.response.body", body: new Uint8Array(1) }))
        seen.push(yield* trySend(send, { type: "http.response.start", status: 99 }))
        seen.push(yield* trySend(send, { type: "http.response.start", status: 200, headers: [["Bad", "x"]] }))
        seen.push(yield* trySend(send, { type: "http.response.early_hint", links: ["</a>; rel=preload", "\n"] }))
        seen.push(yield* trySend(send, { type: "http.response.start", status: 200 }))
        seen.push(yield* trySend(send, { type: "http.goaway" }))
        seen.push(yield* trySend(send, { type: "http.response.reset", errorCode: 0 }))
        seen.push(yield* trySend(send, { type: "http.response.start", status: 200 }))
        outcomes.resolve(seen)
      })
    ))
    const session = await connect(server.url)
    try {
      const stream = session.request({ ":method": "POST", ":path": "/" }, { endStream: false })
      const result = collect(stream)
      const id = await ready(stream)
      stream.write(new Uint8Array(10))
      await new Promise((r) => setTimeout(r, 50))
      cancel(stream)
      await result
      expect(await within(outcomes.promise, 5000, "the app's outcomes")).toEqual([
        rule("CORE-3"),
        rule("CORE-6"),
        rule("HTTP-2"),
        rule("HTTP-4"),
        rule("HTTP-5"),
        rule("HTTP-6"),
        closed(8, id), // the client's RST_STREAM CANCEL
        OK, // goaway drains the connection, gone stream or not
        OK, // a reset of a stream that is gone does nothing
        rule("HTTP-3") // and Table 1 moved on to `reset`
      ])
    } finally {
      await closeSession(session)
      await server.close()
    }
  })

  it("HTTP-34: the order is correlator, type, extension, Table 1, then the event's keys (status, then each field in list order)", async () => {
    const outcomes = deferred<ReadonlyArray<Outcome>>()
    const server = await listen(httpApp((scope, _receive, send) =>
      Effect.gen(function*() {
        const seen: Array<Outcome> = []
        const other = scope.streamId + 2
        // CORE-3 before Table 1 (a body before the start) and before the status.
        seen.push(yield* trySend(send, { type: "http.response.body", streamId: other }))
        seen.push(yield* trySend(send, { type: "http.response.start", status: 99, streamId: other }))
        // Table 1 before the event's keys: trailers before the start (HTTP-18) with bad fields.
        seen.push(yield* trySend(send, { type: "http.response.trailers", headers: [["Bad", "x"]] }))
        // The status before the fields; the fields in list order.
        seen.push(yield* trySend(send, { type: "http.response.start", status: 99, headers: [["Bad", "x"]] }))
        seen.push(yield* trySend(send, { type: "http.response.start", status: 200, headers: [["Bad", "x"], ["ok", "\n"]] }))
        seen.push(yield* trySend(send, { type: "http.response.start", status: 200, headers: [["ok", "\n"], ["Bad", "x"]] }))
        seen.push(yield* trySend(send, { type: "http.response.start", status: 200, headers: [["content-length", "x"], ["ok", "\n"]] }))
        seen.push(yield* trySend(send, { type: "http.response.start", status: 200, headers: [["ok", "y"]], neverIndex: ["Bad"] }))
        // A valid start; then a second start with a bad status is HTTP-1 (Table 1 first).
        seen.push(yield* trySend(send, { type: "http.response.start", status: 200, headers: [["content-length", "2"]] }))
        seen.push(yield* trySend(send, { type: "http.response.start", status: 99 }))
        // Table 1 passes a body; its length against content-length comes next.
        seen.push(yield* trySend(send, { type: "http.response.body", body: new Uint8Array(3) }))
        seen.push(yield* trySend(send, { type: "http.response.body", body: new TextEncoder().encode("ok") }))
        outcomes.resolve(seen)
      })
    ))
    const session = await connect(server.url)
    try {
      const r = await collect(session.request({ ":path": "/" }))
      expect(r.status).toBe(200)
      expect(r.body.toString()).toBe("ok")
      expect(await within(outcomes.promise, 5000, "the app's outcomes")).toEqual([
        rule("CORE-3"),
        rule("CORE-3"),
        rule("HTTP-18"),
        rule("HTTP-4"),
        rule("HTTP-5"),
        rule("HTTP-6"),
        rule("HTTP-17"),
        rule("HTTP-5"),
        OK,
        rule("HTTP-1"),
        rule("HTTP-17"),
        OK
      ])
    } finally {
      await closeSession(session)
      await server.close()
    }
  })
})


/** The blocked app was interrupted: its finalizer ran last, nothing went on after the failed send, and send failed only with StreamClosedError. */
const interruptedCleanly = async (log: ReadonlyArray<string>, finished: Promise<unknown>): Promise<void> => {
  await within(finished, 5000, "the app's finalizer")
  await new Promise((r) => setTimeout(r, 300))
  expect(log.at(-1)).toBe("finalizer")
  expect(log).not.toContain("went on after the failure")
  expect(log.filter((l) => l.startsWith("send failed")).every((l) => l === "send failed: StreamClosedError")).toBe(true)
}

describe("HTTP-15: an app blocked in send when the peer goes away", () => {
  /** Streams 64 KiB chunks until send fails; records what happened, in order. */
  const blockedApp = (log: Array<string>, done: () => void) =>
    httpApp((_scope, _receive, send) =>
      Effect.gen(function*() {
        yield* send({ type: "http.response.start", status: 200 })
        const chunk = new Uint8Array(64 * 1024)
        for (let i = 0; i < 100_000; i++) {
          const outcome = yield* trySend(send, { type: "http.response.body", body: chunk, moreBody: true })
          if (!("ok" in outcome)) {
            log.push(`send failed: ${outcome.tag}`)
            break
          }
        }
        // Code after the failure: the interruption must not let it finish.
        yield* Effect.sleep(200)
        log.push("went on after the failure")
      }).pipe(Effect.ensuring(Effect.sync(() => {
        log.push("finalizer")
        done()
      })))
    )

  it("HTTP-15 HTTP-9: HTTP/2 — a client that stops reading, then resets: the app is interrupted (finalizer runs, code after the failure does not), the pending send failing with StreamClosedError at most", async () => {
    const log: Array<string> = []
    const finished = deferred()
    const server = await listen(blockedApp(log, () => finished.resolve()))
    const session = await connect(server.url)
    try {
      const stream = session.request({ ":path": "/" })
      stream.pause() // never read: the app blocks in send (HTTP-10)
      stream.on("error", () => {})
      await new Promise((r) => setTimeout(r, 300))
      cancel(stream)
      await interruptedCleanly(log, finished.promise)
    } finally {
      await closeSession(session)
      await server.close()
    }
  })

  it("HTTP-15 HTTP-9: HTTP/1.1 — a client that stops reading, then closes the connection: the app is interrupted the same way", async () => {
    const log: Array<string> = []
    const finished = deferred()
    const server = await listen(blockedApp(log, () => finished.resolve()))
    const socket = net.connect(server.port, "127.0.0.1")
    try {
      socket.on("error", () => {})
      socket.write("GET / HTTP/1.1\r\nhost: x\r\n\r\n")
      socket.pause() // never read
      await new Promise((r) => setTimeout(r, 500))
      socket.destroy()
      await interruptedCleanly(log, finished.promise)
    } finally {
      socket.destroy()
      await server.close()
    }
  })
})
