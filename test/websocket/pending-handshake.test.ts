/**
 * A WebSocket handshake waiting for the machinery, which loads at the first
 * one (spec.md §8.8), driven on the supervisor directly: Node loads the
 * modules without yielding to the event loop, so a shutdown cannot begin
 * during the wait on a real socket today, and no real input makes the
 * handshake's handler throw; the supervisor must still get both right.
 */
import { Context, Effect } from "effect"
import { describe, expect, it } from "vitest"
import { defaults } from "../../src/runner/options.ts"
import { Supervisor } from "../../src/runner/supervisor.ts"
import type { RunnerLog } from "../../src/runner/log.ts"

const makeSupervisor = () => {
  const errors: Array<string> = []
  const log: RunnerLog = {
    access: () => {},
    info: () => {},
    debug: () => {},
    flush: () => {},
    error: (message) => void errors.push(message)
  }
  const supervisor = new Supervisor(() => Effect.void, { ...defaults, runnerLog: log }, Context.empty() as Context.Context<unknown>)
  return { supervisor, errors }
}

/** A pending handshake that records what its transport was told. */
const recorder = () => {
  const told: Array<string> = []
  return {
    told,
    pending: { refuse: (status: number) => void told.push(`refuse ${status}`), drop: () => void told.push("drop"), where: undefined }
  }
}

describe("a handshake waiting for the WebSocket machinery (spec.md §8.8)", () => {
  it("WS-14: counts as in flight while it waits; a shutdown begun meanwhile answers it 503 and the app is not called", async () => {
    const { supervisor } = makeSupervisor()
    const { told, pending } = recorder()
    let used = 0
    supervisor.withWebSockets(() => void (used += 1), pending)
    expect(supervisor.inflight()).toBe(1)
    supervisor.goingAway()
    await Effect.runPromise(supervisor.whenIdle())
    expect(told).toEqual(["refuse 503"])
    expect(used).toBe(0)
    expect(supervisor.inflight()).toBe(0)
  })

  it("before a shutdown, the machinery is handed over; a handler that throws is logged and its transport dropped, never an unhandled rejection", async () => {
    const { supervisor, errors } = makeSupervisor()
    const { told, pending } = recorder()
    let used = 0
    supervisor.withWebSockets(() => void (used += 1), pending)
    supervisor.withWebSockets(() => {
      throw new Error("boom in the handshake")
    }, pending)
    await Effect.runPromise(supervisor.whenIdle())
    expect(used).toBe(1)
    expect(told).toEqual(["drop"])
    expect(errors).toEqual(["WebSocket handshake failed"])
  })
})
