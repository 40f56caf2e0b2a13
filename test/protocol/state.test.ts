/**
 * The state tables (spec.md §4.7 tables 1 and 2, §6.5 table 3, §11.5 table
 * 4), every (state, input) pair enumerated — not sampled — with the table
 * spec.md prints as the oracle, so a wrong entry in the code or a drift of
 * the document fails here (h2's test_state_machines style). Then
 * properties of accepted sequences, which hold whatever the tables say.
 */
import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import {
  lifespanInputs,
  lifespanStates,
  lifespanTable,
  nextLifespanState,
  nextResponseState,
  nextWebSocketState,
  requestInputs,
  requestStates,
  requestTable,
  type ResponseInput,
  responseInputs,
  type ResponseState,
  responseStates,
  responseTable,
  step,
  type Table,
  websocketInputs,
  websocketStates,
  websocketTable
} from "../../src/protocol/state.ts"
import { type Cell, table1, table2, table3, table4 } from "../support/spec-tables.ts"

/** Every pair of `code` against `printed`: the same next state, or the same rule; and the same states and inputs. */
const agree = <S extends string, I extends string>(
  code: Table<S, I>,
  states: ReadonlyArray<S>,
  inputs: ReadonlyArray<I>,
  printed: Map<string, Map<string, Cell>>,
  printedInputs: ReadonlyArray<I> = inputs
): Array<string> => {
  expect([...printed.keys()]).toEqual([...states])
  const drift: Array<string> = []
  for (const state of states) {
    expect([...printed.get(state)!.keys()]).toEqual([...printedInputs])
    for (const input of inputs) {
      const cell = code[state][input]
      const spec = printed.get(state)!.get(input)
      const ours = typeof cell === "string" ? `→ ${cell}` : cell.rule
      const theirs = spec === undefined ? "(not printed)" : "next" in spec ? `→ ${spec.next}` : String(spec.rule)
      if (ours !== theirs) drift.push(`${state} × ${input}: code ${ours}, spec.md ${theirs}`)
      // step() agrees with the cell.
      const stepped = step(code, state, input)
      expect(typeof stepped === "string" ? `→ ${stepped}` : stepped.rule).toBe(ours)
    }
  }
  return drift
}

describe("the code's tables are spec.md's tables, pair by pair", () => {
  it("HTTP-1 HTTP-2 HTTP-3 HTTP-18 HTTP-19 HTTP-20 HTTP-21: table 1, all 54 pairs", () => {
    expect(agree(responseTable, responseStates, responseInputs, table1())).toEqual([])
  })

  it("HTTP-8 HTTP-14 HTTP-23: table 2, all 20 pairs", () => {
    expect(agree(requestTable, requestStates, requestInputs, table2())).toEqual([])
  })

  it("LIFE-2: table 3, all 16 pairs", () => {
    expect(agree(lifespanTable, lifespanStates, lifespanInputs, table3())).toEqual([])
  })

  it("WS-1 WS-2 WS-3 WS-7: table 4, all 24 pairs", () => {
    expect(agree(websocketTable, websocketStates, websocketInputs, table4())).toEqual([])
  })
})

describe("the transition functions", () => {
  it("HTTP-18: with trailers announced, last and file lead to trailers, never done; otherwise as the table", () => {
    for (const state of responseStates) {
      for (const input of responseInputs) {
        const cell = responseTable[state][input]
        const announced = nextResponseState(state, input, true)
        const plain = nextResponseState(state, input, false)
        if (typeof cell !== "string") {
          expect(typeof announced === "string" ? announced : announced.rule).toBe(cell.rule)
          continue
        }
        expect(plain).toBe(cell)
        expect(announced).toBe(cell === "done" && (input === "last" || input === "file") ? "trailers" : cell)
      }
    }
  })

  it("LIFE-2: a reply that is no lifespan reply, or an Object.prototype key, is LIFE-2 in every state", () => {
    for (const state of lifespanStates) {
      for (const type of ["constructor", "toString", "__proto__", "hasOwnProperty", "lifespan.startup", "x"]) {
        const result = nextLifespanState(state, type)
        expect(typeof result === "string" ? result : result.rule).toBe("LIFE-2")
      }
    }
  })

  it("WS-7: nothing is accepted once closed", () => {
    for (const input of websocketInputs) {
      const result = nextWebSocketState("closed", input)
      expect(typeof result === "string" ? result : result.rule).toBe("WS-7")
    }
  })
})

describe("accepted sequences (table 1)", () => {
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
      }),
      { numRuns: 500 }
    )
  })
})
