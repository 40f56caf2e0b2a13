/**
 * The state tables of spec.md §4.7 and §6.5, checked over every
 * (state, input) pair (h2's test_state_machines style).
 */
import * as fc from "fast-check"
import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import { LocalProtocolError } from "../../src/protocol/errors.ts"
import {
  lifespanTable,
  nextLifespanState,
  nextResponseState,
  nextWebSocketState,
  requestTable,
  type ResponseInput,
  type ResponseState,
  responseTable,
  responseViolation
} from "../../src/protocol/state.ts"

const responseStates: ReadonlyArray<ResponseState> = ["start", "head", "body", "trailers", "done", "reset"]
const responseInputs: ReadonlyArray<ResponseInput> = ["start", "more", "last", "file", "trailers", "push", "hint", "reset"]

describe("response table (spec.md §4.7 table 1)", () => {
  it("HTTP-1 HTTP-2 HTTP-3 HTTP-18 HTTP-19 HTTP-20 HTTP-21: every (state, input) pair transitions as the table says or fails with the named rule", () => {
    fc.assert(
      fc.property(fc.constantFrom(...responseStates), fc.constantFrom(...responseInputs), fc.boolean(), (state, input, announced) => {
        const result = nextResponseState(state, input, announced)
        const expected = responseTable[state][input]
        if (expected !== undefined) {
          const viaTrailers = announced && expected === "done" && (input === "last" || input === "file")
          expect(result).toBe(viaTrailers ? "trailers" : expected)
        } else {
          expect(result).toBeInstanceOf(LocalProtocolError)
          expect((result as LocalProtocolError).rule).toBe(responseViolation(state, input).rule)
        }
      })
    )
  })

  it("HTTP-1 HTTP-2 HTTP-3 HTTP-18 HTTP-19 HTTP-20 HTTP-21: names the right rule for each violation", () => {
    const rule = (s: ResponseState, i: ResponseInput) => (nextResponseState(s, i) as LocalProtocolError).rule
    expect(rule("head", "start")).toBe("HTTP-1")
    expect(rule("body", "start")).toBe("HTTP-1")
    expect(rule("start", "more")).toBe("HTTP-2")
    expect(rule("start", "last")).toBe("HTTP-2")
    expect(rule("start", "file")).toBe("HTTP-2")
    expect(rule("done", "last")).toBe("HTTP-3")
    expect(rule("done", "start")).toBe("HTTP-3")
    expect(rule("trailers", "more")).toBe("HTTP-3")
    expect(rule("reset", "reset")).toBe("HTTP-3")
    expect(rule("body", "trailers")).toBe("HTTP-18")
    expect(rule("start", "trailers")).toBe("HTTP-18")
    expect(rule("head", "hint")).toBe("HTTP-19")
    expect(rule("trailers", "push")).toBe("HTTP-20")
    expect(rule("body", "file")).toBe("HTTP-21")
  })

  it("HTTP-1 HTTP-18: any accepted sequence has one start before every body, and ends at most once", () => {
    fc.assert(
      fc.property(fc.boolean(), fc.array(fc.constantFrom(...responseInputs), { maxLength: 20 }), (announced, inputs) => {
        let state: ResponseState = "start"
        const accepted: Array<ResponseInput> = []
        for (const input of inputs) {
          const next = nextResponseState(state, input, announced)
          if (typeof next !== "string") break
          accepted.push(input)
          state = next
        }
        expect(accepted.filter((i) => i === "start").length).toBeLessThanOrEqual(1)
        const start = accepted.indexOf("start")
        for (const [k, i] of accepted.entries()) {
          if (i === "more" || i === "last" || i === "file") expect(start).toBeGreaterThanOrEqual(0)
          if (i === "more" || i === "last" || i === "file") expect(k).toBeGreaterThan(start)
          if (i === "hint") expect(start < 0 || k < start).toBe(true)
        }
        const ends = accepted.filter((i) => i === "last" || i === "file").length
        expect(ends).toBeLessThanOrEqual(1)
        // Trailers only follow the last body of an announcing response.
        if (accepted.includes("trailers")) {
          expect(announced).toBe(true)
          expect(ends).toBe(1)
        }
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
    expect(requestTable.complete.trailers).toBeUndefined()
  })

  it("HTTP-23: trailers come only after a last body that announced them, then the body is complete", () => {
    expect(requestTable.receiving.lastThenTrailers).toBe("trailers")
    expect(requestTable.receiving.trailers).toBeUndefined()
    expect(Object.keys(requestTable.trailers).sort()).toEqual(["disconnect", "trailers"])
    expect(requestTable.trailers.trailers).toBe("complete")
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

describe("websocket table (spec.md §11.5 table 4)", () => {
  const wsStates = ["connecting", "open", "denying", "closed"] as const
  const wsInputs = [
    "websocket.accept",
    "websocket.send",
    "websocket.close",
    "websocket.http.response.start",
    "websocket.http.response.body",
    "websocket.http.response.body.last"
  ] as const
  /** Table 4 as spec.md prints it: a cell is a `state` in backticks or a rule ID. */
  const printed = (): Map<string, string> => {
    const spec = readFileSync(new URL("../../spec.md", import.meta.url), "utf8")
    const section = spec.slice(spec.indexOf("### 11.5 Table 4"), spec.indexOf("## Appendix A"))
    const cells = new Map<string, string>()
    for (const line of section.split("\n")) {
      const m = /^\| `(\w+)` \|(.*)\|$/.exec(line)
      if (m === null) continue
      m[2]!.split("|").map((c) => c.trim()).forEach((cell, i) => {
        const state = /^`(\w+)`/.exec(cell)
        cells.set(`${m[1]} ${wsInputs[i]}`, state !== null ? state[1]! : cell)
      })
    }
    return cells
  }

  it("WS-1 WS-2 WS-3 WS-7: every (state, event) pair transitions as spec.md's table 4 says or fails with the rule it prints", () => {
    const table = printed()
    expect(table.size).toBe(wsStates.length * wsInputs.length)
    fc.assert(
      fc.property(fc.constantFrom(...wsStates), fc.constantFrom(...wsInputs), (state, input) => {
        const result = nextWebSocketState(state, input)
        const cell = table.get(`${state} ${input}`)!
        if (typeof result === "string") expect(result).toBe(cell)
        else expect(result.rule).toBe(cell)
      })
    )
  })
})
