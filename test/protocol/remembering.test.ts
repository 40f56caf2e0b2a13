/**
 * The field checks' memo (src/protocol/remembering.ts) keeps copies: a
 * remembered value cut from a large string (V8 makes such a slice a view of
 * its parent) must not keep that string alive. A file of its own, so that
 * the memo starts empty.
 */
import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"
import { describe, expect, it } from "vitest"
import { isFieldValue } from "../../src/protocol/headers.ts"

describe("remembering", () => {
  it("HTTP-6: a remembered field value does not keep the large string it was sliced from", () => {
    setFlagsFromString("--expose-gc")
    const gc = runInNewContext("gc") as () => void
    gc()
    const before = process.memoryUsage().heapUsed
    for (let i = 0; i < 40; i++) {
      // 1 MB each; the value is a 20-character slice of it, distinct per string.
      const large = String(i).padStart(6, "0") + "y".repeat(1_000_000)
      expect(isFieldValue(large.slice(0, 20))).toBe(true)
    }
    gc()
    const grown = process.memoryUsage().heapUsed - before
    // Kept as slices, the 40 values would hold 40 MB.
    expect(grown).toBeLessThan(8 * 1024 * 1024)
  })
})
