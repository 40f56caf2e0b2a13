/**
 * The runner's Fifo (a WebSocket session's queue of received messages):
 * against an array as the model, any sequence of pushes and shifts gives the
 * same items in the same order and the same size.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { Fifo } from "../../src/runner/fifo.ts"

describe("Fifo", () => {
  it("takes items in the order they were pushed, whatever the interleaving of pushes and shifts", () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.integer().map((n) => ({ push: n })), fc.constant({ push: undefined }))), (ops) => {
        const fifo = new Fifo<number>()
        const model: Array<number> = []
        for (const op of ops) {
          if (op.push !== undefined) {
            fifo.push(op.push)
            model.push(op.push)
          } else {
            expect(fifo.shift()).toBe(model.shift())
          }
          expect(fifo.size).toBe(model.length)
        }
        while (model.length > 0) expect(fifo.shift()).toBe(model.shift())
        expect(fifo.shift()).toBeUndefined()
        expect(fifo.size).toBe(0)
      })
    )
  })
})
