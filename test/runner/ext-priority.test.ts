/**
 * Priority changes (spec.md §7.7, rule HTTP-33): `http.priority`'s
 * `current` and `changed` follow RFC 9218 PRIORITY_UPDATE frames on a
 * server that sees them — tested on the live view such a server feeds with
 * `updatePriority` — and on the Node runner, which cannot see them
 * (node:http2 drops the frame; docs/node-priority-update.md), they keep the
 * request's priority: a raw frame client sends the frame and nothing reaches
 * the app.
 */
import { Effect, Fiber } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { App } from "../../src/protocol/app.ts"
import { parsePriority, type Priority } from "../../src/protocol/priority.ts"
import { priorityOf, updatePriority } from "../../src/runner/priority-view.ts"
import { deferred, within } from "../support/async.ts"
import { ended, frame, FrameType, goaway, rawH2, requestHeaders } from "../support/h2raw.ts"
import { listen, type TestServer } from "../support/server.ts"

const PRIORITY = 0x2
const PRIORITY_UPDATE = 0x10

/** RFC 9218 §7.1: PRIORITY_UPDATE on stream 0, for `stream`, with `value`. */
const priorityUpdate = (stream: number, value: string): Buffer => {
  const id = Buffer.alloc(4)
  id.writeUInt32BE(stream)
  return frame(PRIORITY_UPDATE, 0, 0, Buffer.concat([id, Buffer.from(value, "ascii")]))
}

const plain = (p: Priority): Priority => ({ urgency: p.urgency, incremental: p.incremental })

/** Runs `effect` for up to `ms`: its value, or "pending". */
const within_ = <A>(effect: Effect.Effect<A>, ms: number): Promise<A | "pending"> =>
  Effect.runPromise(Effect.raceFirst(effect, Effect.as(Effect.sleep(ms), "pending" as const)))

describe("HTTP-33: http.priority follows PRIORITY_UPDATE (the live view a server feeds)", () => {
  it("HTTP-33: an update completes a pending changed with the new priority, current yields it, urgency and incremental keep the request's", async () => {
    const view = priorityOf([["priority", "u=5"]], true)
    const waiting = Effect.runFork(view.changed(view))
    await new Promise((r) => setTimeout(r, 10))
    expect(waiting.pollUnsafe()).toBeUndefined()
    expect(updatePriority(view, "u=0")).toBe(true)
    const next = await Effect.runPromise(Fiber.join(waiting))
    expect(plain(next)).toEqual({ urgency: 0, incremental: false })
    expect(plain(await Effect.runPromise(view.current))).toEqual({ urgency: 0, incremental: false })
    expect({ urgency: view.urgency, incremental: view.incremental }).toEqual({ urgency: 5, incremental: false })
  })

  it("HTTP-33: an update replaces the priority whole (absent members take their defaults), parsed as the field is (HTTP-27)", async () => {
    const view = priorityOf([["priority", "u=1, i"]], true)
    updatePriority(view, "i")
    expect(plain(await Effect.runPromise(view.current))).toEqual({ urgency: 3, incremental: true })
    updatePriority(view, "u=9, garbage((")
    expect(plain(await Effect.runPromise(view.current))).toEqual({ urgency: 3, incremental: false })
  })

  it("HTTP-33: an update equal to the priority in force completes nothing; a changed from a stale priority completes at once, so no change is lost", async () => {
    const view = priorityOf([], true)
    const waiting = Effect.runFork(view.changed(parsePriority("u=3")))
    updatePriority(view, "u=3")
    await new Promise((r) => setTimeout(r, 10))
    expect(waiting.pollUnsafe()).toBeUndefined()
    // Two updates before the app looks again: it sees the latest, against what it saw last.
    const seen = await Effect.runPromise(view.current)
    updatePriority(view, "u=6")
    updatePriority(view, "u=2, i")
    expect(plain(await Effect.runPromise(view.changed(seen)))).toEqual({ urgency: 2, incremental: true })
    // A waiter already pending completed with the first change.
    expect(plain(await Effect.runPromise(Fiber.join(waiting)))).toEqual({ urgency: 6, incremental: false })
    // Interrupted waiters are dropped; a later update still reaches a new one.
    const interrupted = Effect.runFork(view.changed(parsePriority("u=2, i")))
    await Effect.runPromise(Fiber.interrupt(interrupted))
    const again = Effect.runFork(view.changed(parsePriority("u=2, i")))
    updatePriority(view, "u=7")
    expect(plain(await Effect.runPromise(Fiber.join(again)))).toEqual({ urgency: 7, incremental: false })
  })

  it("HTTP-33: an update that arrived before the app looked is in force from the start", async () => {
    const view = priorityOf([["priority", "u=4"]], true)
    updatePriority(view, "u=1")
    expect(plain(await Effect.runPromise(view.current))).toEqual({ urgency: 1, incremental: false })
    expect(plain(await Effect.runPromise(view.changed(view)))).toEqual({ urgency: 1, incremental: false })
  })

  it("HTTP-33: a fixed view (the Node runner's) takes no update: current keeps the request's priority, changed waits for ever", async () => {
    const view = priorityOf([["priority", "u=5"]])
    expect(updatePriority(view, "u=0")).toBe(false)
    expect(plain(await Effect.runPromise(view.current))).toEqual({ urgency: 5, incremental: false })
    expect(await within_(view.changed(view), 50)).toBe("pending")
    // The shared default view cannot be changed for every stream.
    expect(updatePriority(priorityOf([]), "u=0")).toBe(false)
    expect(plain(await Effect.runPromise(priorityOf([]).current))).toEqual({ urgency: 3, incremental: false })
  })
})

describe("the Node runner: node:http2 drops PRIORITY_UPDATE and PRIORITY frames (spec.md §7.7)", () => {
  let server: TestServer
  const started = deferred()
  const app: App = (scope, _receive, send) =>
    Effect.gen(function*() {
      if (scope.type !== "http") return
      const ext = scope.extensions["http.priority"]!
      started.resolve()
      const outcome = yield* Effect.raceFirst(
        Effect.map(ext.changed(ext), plain),
        Effect.as(Effect.sleep(400), "no change" as const)
      )
      const body = JSON.stringify({ head: plain(ext), current: plain(yield* ext.current), outcome })
      yield* send({ type: "http.response.start", status: 200 })
      yield* send({ type: "http.response.body", body: new TextEncoder().encode(body) })
    })
  beforeAll(async () => {
    server = await listen(app)
  })
  afterAll(() => server.close())

  it("HTTP-27: a PRIORITY_UPDATE (u=0) after HEADERS with priority u=5 reaches no app: current stays u=5, changed does not complete; the connection is unharmed", async () => {
    const c = await rawH2(server.port, [requestHeaders(1, server.port, "/", [["priority", "u=5"]])])
    try {
      await within(started.promise, 3000, "the app started")
      // SETTINGS_NO_RFC7540_PRIORITIES is not needed for the frame to be valid (RFC 9218 §7.1).
      c.send(priorityUpdate(1, "u=0"))
      c.send(frame(PRIORITY, 0, 1, Buffer.from([0, 0, 0, 0, 200])))
      expect(await c.until((fs) => ended(fs, 1), 3000)).toBe(true)
      const body = Buffer.concat(c.frames.filter((f) => f.type === FrameType.DATA && f.stream === 1).map((f) => f.payload)).toString()
      expect(JSON.parse(body)).toEqual({
        head: { urgency: 5, incremental: false },
        current: { urgency: 5, incremental: false },
        outcome: "no change"
      })
      expect(goaway(c.frames)).toBeUndefined()
      expect(c.frames.some((f) => f.type === FrameType.RST_STREAM)).toBe(false)
    } finally {
      c.destroy()
    }
  })
})
