/**
 * The cleartext listener's protocol decision (spec.md §8.1), as a property.
 */
import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import { decide } from "../../src/runner/detect.ts"

describe("protocol detection (spec.md §8.1)", () => {
  it("RUN-9: a byte prefix of the HTTP/2 preface is undecided, the whole preface is h2c, anything else is HTTP/1.1", () => {
    const preface = new TextEncoder().encode("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
    fc.assert(fc.property(fc.integer({ min: 0, max: preface.length }), fc.uint8Array({ maxLength: 40 }), (n, tail) => {
      expect(decide(preface.subarray(0, n))).toBe(n === preface.length ? "h2c" : undefined)
      expect(decide(new Uint8Array([...preface, ...tail]))).toBe("h2c")
    }))
    fc.assert(fc.property(fc.constantFrom("GET", "POST", "PRI", "PUT", "OPTIONS"), fc.webPath(), (method, path) => {
      const line = new TextEncoder().encode(`${method} ${path || "/"} HTTP/1.1\r\nhost: x\r\n\r\n`)
      expect(decide(line)).toBe("http/1.1")
    }))
  })
})
