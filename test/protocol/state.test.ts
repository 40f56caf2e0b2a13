/**
 * The state tables of spec.md §4.7 and §6.5, checked over every
 * (state, input) pair (h2's test_state_machines style).
 */
import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import { LocalProtocolError } from "../../src/protocol/errors.ts"
import {
  lifespanTable,
  nextLifespanState,
  nextResponseState,
  requestTable,
  type ResponseInput,
  type ResponseState,
  responseTable,
  responseViolation
} from "../../src/protocol/state.ts"

const responseStates: ReadonlyArray<ResponseState> = ["start", "body", "done"]
const responseInputs: ReadonlyArray<ResponseInput> = ["start", "more", "last"]

describe("response table (spec.md §4.7 table 1)", () => {
  it("HTTP-1 HTTP-2 HTTP-3: every (state, input) pair transitions as the table says or fails with the named rule", () => {
    fc.assert(
      fc.property(fc.constantFrom(...responseStates), fc.constantFrom(...responseInputs), (state, input) => {
        const result = nextResponseState(state, input)
        const expected = responseTable[state][input]
        if (expected !== undefined) expect(result).toBe(expected)
        else {
          expect(result).toBeInstanceOf(LocalProtocolError)
          expect((result as LocalProtocolError).rule).toBe(responseViolation[state].rule)
        }
      })
    )
  })

  it("HTTP-1 HTTP-2 HTTP-3: names the right rule for each violation", () => {
    expect((nextResponseState("body", "start") as LocalProtocolError).rule).toBe("HTTP-1")
    expect((nextResponseState("start", "more") as LocalProtocolError).rule).toBe("HTTP-2")
    expect((nextResponseState("start", "last") as LocalProtocolError).rule).toBe("HTTP-2")
    expect((nextResponseState("done", "last") as LocalProtocolError).rule).toBe("HTTP-3")
    expect((nextResponseState("done", "start") as LocalProtocolError).rule).toBe("HTTP-3")
  })

  it("HTTP-1: any event sequence the table accepts has exactly one start, first, and at most one last, last", () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...responseInputs), { maxLength: 20 }), (inputs) => {
        let state: ResponseState = "start"
        const accepted: Array<ResponseInput> = []
        for (const input of inputs) {
          const next = nextResponseState(state, input)
          if (typeof next !== "string") break
          accepted.push(input)
          state = next
        }
        if (accepted.length > 0) expect(accepted[0]).toBe("start")
        expect(accepted.filter((i) => i === "start").length).toBeLessThanOrEqual(1)
        const last = accepted.indexOf("last")
        if (last >= 0) expect(last).toBe(accepted.length - 1)
        expect(state === "done").toBe(last >= 0)
      })
    )
  })
})

describe("request table (spec.md §4.7 table 2)", () => {
  it("HTTP-8: disconnected is absorbing and reachable from every state", () => {
    for (const state of Object.keys(requestTable) as Array<keyof typeof requestTable>) {
      expect(requestTable[state].disconnect).toBe("disconnected")
    }
    expect(Object.keys(requestTable.disconnected)).toEqual(["disconnect"])
  })

  it("HTTP-14: nothing but disconnect follows a complete body", () => {
    expect(requestTable.complete.more).toBeUndefined()
    expect(requestTable.complete.last).toBeUndefined()
  })
})

describe("lifespan table (spec.md §6.5)", () => {
  const types = [
    "lifespan.startup.complete",
    "lifespan.startup.failed",
    "lifespan.shutdown.complete",
    "lifespan.shutdown.failed"
  ]
  it("LIFE-2: a reply not due in the state fails with LIFE-2", () => {
    fc.assert(
      fc.property(fc.constantFrom(...(Object.keys(lifespanTable) as Array<keyof typeof lifespanTable>)), fc.constantFrom(...types), (state, type) => {
        const result = nextLifespanState(state, type)
        const expected = lifespanTable[state][type]
        if (expected !== undefined) expect(result).toBe(expected)
        else expect((result as LocalProtocolError).rule).toBe("LIFE-2")
      })
    )
    expect((nextLifespanState("running", "lifespan.shutdown.complete") as LocalProtocolError).rule).toBe("LIFE-2")
  })
})
