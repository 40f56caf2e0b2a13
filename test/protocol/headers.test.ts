import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import { fromRaw, isFieldName, isFieldValue } from "../../src/protocol/headers.ts"

describe("headers (spec.md §3.4)", () => {
  it("HTTP-12: fromRaw keeps order and duplicates, lower-cases names, drops pseudo-headers", () => {
    expect(fromRaw([":method", "GET", "X-A", "1", "x-b", "2", "X-A", "3"], false)).toEqual([
      ["x-a", "1"],
      ["x-b", "2"],
      ["x-a", "3"]
    ])
  })

  it("HTTP-12: cookie crumbs are joined with '; ' where the first stood (HTTP/2), kept apart otherwise", () => {
    const raw = ["cookie", "a=1", "x", "y", "cookie", "b=2", "cookie", "c=3"]
    expect(fromRaw(raw, true)).toEqual([["cookie", "a=1; b=2; c=3"], ["x", "y"]])
    expect(fromRaw(raw, false)).toEqual([["cookie", "a=1"], ["x", "y"], ["cookie", "b=2"], ["cookie", "c=3"]])
  })

  it("HTTP-12: for any raw list, joining cookies keeps every other field and every crumb in order", () => {
    const name = fc.constantFrom("cookie", "x-a", "x-b", "accept")
    fc.assert(
      fc.property(fc.array(fc.tuple(name, fc.string({ unit: "binary-ascii", maxLength: 8 })), { maxLength: 12 }), (pairs) => {
        const raw = pairs.flat()
        const joined = fromRaw(raw, true)
        expect(joined.filter(([n]) => n !== "cookie")).toEqual(pairs.filter(([n]) => n !== "cookie"))
        const crumbs = pairs.filter(([n]) => n === "cookie").map(([, v]) => v)
        const cookies = joined.filter(([n]) => n === "cookie")
        expect(cookies.length).toBe(crumbs.length > 0 ? 1 : 0)
        if (crumbs.length > 0) expect(cookies[0]![1]).toBe(crumbs.join("; "))
      })
    )
  })

  it("HTTP-12: for any raw list, pseudo-header fields first or not, the list is every regular field in order, without a hole", () => {
    const name = fc.constantFrom(":method", ":path", "cookie", "x-a", "accept")
    fc.assert(
      fc.property(fc.array(fc.tuple(name, fc.string({ unit: "binary-ascii", maxLength: 4 })), { maxLength: 10 }), fc.boolean(), (pairs, http2) => {
        const list = fromRaw(pairs.flat(), http2)
        // A hole would read as undefined here (a list sized for more fields than it got).
        expect(Array.from(list, (field) => typeof field)).toEqual(new Array<string>(list.length).fill("object"))
        const regular = pairs.filter(([n]) => !n.startsWith(":"))
        if (http2) expect(list.filter(([n]) => n !== "cookie")).toEqual(regular.filter(([n]) => n !== "cookie"))
        else expect(list).toEqual(regular)
      })
    )
  })

  it("HTTP-5 HTTP-6: field-name and field-value predicates", () => {
    expect(isFieldName("content-type")).toBe(true)
    expect(isFieldName("Content-Type")).toBe(false)
    expect(isFieldName("bad name")).toBe(false)
    expect(isFieldName("")).toBe(false)
    expect(isFieldValue("caf\xe9")).toBe(true)
    expect(isFieldValue("snow\u2603")).toBe(false)
    expect(isFieldValue("a\r\nb")).toBe(false)
    expect(isFieldValue("a\x00b")).toBe(false)
  })

  it("HTTP-5 HTTP-6: the predicates answer as RFC 9110's grammar whatever they were asked before (they remember what they accepted, bounded)", () => {
    const token = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/
    const value = /^[\t\x20-\x7e\x80-\xff]*$/
    // Short strings over a small alphabet of good and bad characters, so that both answers come often and repeat.
    const text = fc.string({ unit: fc.constantFrom("a", "z", "0", "-", "A", " ", "\t", "\r", "\n", "\x00", "\x7f", "\xe9", "\u2603", ":"), maxLength: 6 })
    fc.assert(
      fc.property(fc.array(text, { maxLength: 40 }), (strings) => {
        // Each string twice: once perhaps new, once perhaps remembered.
        for (const s of [...strings, ...strings]) {
          expect(isFieldName(s)).toBe(token.test(s))
          expect(isFieldValue(s)).toBe(value.test(s))
        }
      }),
      { numRuns: 300 }
    )
    // Past the bound (1,024 remembered strings) the answers stay the same, for old and new strings alike.
    for (let i = 0; i < 3000; i++) expect(isFieldName(`x-${i}`)).toBe(true)
    expect(isFieldName("x-1")).toBe(true)
    expect(isFieldName("X-1")).toBe(false)
    expect(isFieldValue("a\r\nb")).toBe(false)
  })
})

describe("paths (spec.md §3.4)", () => {
  it("HTTP-13: path is the percent-decoded octets of rawPath read as UTF-8, raw octets included", async () => {
    const { decodePath } = await import("../../src/protocol/scope.ts")
    expect(decodePath("/plain")).toBe("/plain")
    expect(decodePath("/caf%C3%A9")).toBe("/café")
    expect(decodePath("/caf\xc3\xa9")).toBe("/café") // raw UTF-8 octets as a ByteString
    expect(decodePath("/a%2Fb")).toBe("/a/b")
    expect(decodePath("/bad%zz")).toBe("/bad%zz")
    expect(decodePath("/latin1%E9")).toBe("/latin1%E9") // not UTF-8: rawPath unchanged
    expect(decodePath("/\xe9")).toBe("/\xe9")
    // Asked again: the same answers.
    expect(decodePath("/plain")).toBe("/plain")
    expect(decodePath("/caf%C3%A9")).toBe("/café")
    expect(decodePath("/caf\xc3\xa9")).toBe("/café")
  })

  it("HTTP-13: a path with no `%` and no octet over 0x7F is taken as it is, however often it is asked", async () => {
    const { decodePath } = await import("../../src/protocol/scope.ts")
    const part = fc.constantFrom("a", "/", "%41", "%C3%A9", "\xc3\xa9", "%", "b")
    fc.assert(fc.property(fc.array(fc.array(part, { maxLength: 4 }).map((p) => "/" + p.join("")), { maxLength: 20 }), (paths) => {
      for (const p of [...paths, ...paths]) {
        if (!/[%\x80-\xff]/.test(p)) expect(decodePath(p)).toBe(p)
      }
    }))
  })

  it("HTTP-13: for any string, percent-encoding its UTF-8 and decoding gives it back", async () => {
    const { decodePath } = await import("../../src/protocol/scope.ts")
    fc.assert(fc.property(fc.string({ unit: "grapheme", maxLength: 20 }), (s) => {
      expect(decodePath("/" + encodeURIComponent(s))).toBe("/" + s)
    }))
  })
})
