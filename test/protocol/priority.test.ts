import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import { defaultPriority, parsePriority } from "../../src/protocol/priority.ts"

const p = (urgency: number, incremental: boolean) => ({ urgency, incremental })

describe("priority field (RFC 9218)", () => {
  it("RFC 9218 §4.1 §4.2: the default is urgency 3, not incremental, frozen and shared", () => {
    expect(defaultPriority).toEqual(p(3, false))
    expect(Object.isFrozen(defaultPriority)).toBe(true)
    expect(parsePriority(undefined)).toBe(defaultPriority)
    expect(parsePriority("")).toBe(defaultPriority)
    expect(parsePriority("   ")).toEqual(defaultPriority)
    expect(Object.isFrozen(parsePriority("u=1, i"))).toBe(true)
  })

  it("RFC 9218 §5: examples parse to their urgency and incremental", () => {
    expect(parsePriority("u=5, i")).toEqual(p(5, true))
    expect(parsePriority("u=0")).toEqual(p(0, false))
    expect(parsePriority("i")).toEqual(p(3, true))
    expect(parsePriority("i=?1")).toEqual(p(3, true))
    expect(parsePriority("u=7,i=?0")).toEqual(p(7, false))
    expect(parsePriority("  u=2 ,\ti  ")).toEqual(p(2, true))
    expect(parsePriority("u=-0")).toEqual(p(0, false))
  })

  it("RFC 9218 §4.1: u out of 0–7 or not an Integer is ignored", () => {
    expect(parsePriority("u=8")).toEqual(p(3, false))
    expect(parsePriority("u=-1, i")).toEqual(p(3, true))
    expect(parsePriority("u=3.5")).toEqual(p(3, false))
    expect(parsePriority("u=1.0")).toEqual(p(3, false))
    expect(parsePriority("u=?1")).toEqual(p(3, false))
    expect(parsePriority("u")).toEqual(p(3, false))
    expect(parsePriority("u=a")).toEqual(p(3, false))
    expect(parsePriority(`u="1"`)).toEqual(p(3, false))
    expect(parsePriority("u=(1 2)")).toEqual(p(3, false))
    expect(parsePriority("u=123456789012345")).toEqual(p(3, false))
  })

  it("RFC 9218 §4.2: i that is not a Boolean is ignored", () => {
    expect(parsePriority("i=?0")).toEqual(p(3, false))
    expect(parsePriority("i=1")).toEqual(p(3, false))
    expect(parsePriority("i=true, u=1")).toEqual(p(1, false))
    expect(parsePriority("i=(?1)")).toEqual(p(3, false))
  })

  it("RFC 9218 §4 RFC 8941 §3.1.2: parameters on members and unknown members are skipped", () => {
    expect(parsePriority("u=1;a=b, i")).toEqual(p(1, true))
    expect(parsePriority("i;x=1;y, u=6;z=?0")).toEqual(p(6, true))
    expect(parsePriority(`x=("a" 1.5 :YWI=: ?1 tok/en;p=2);q, u=4, *z=@1659578233, y=%"caf%c3%a9", w=-12.125`)).toEqual(p(4, false))
    expect(parsePriority("u=1; a=1, i")).toEqual(p(1, true))
    expect(parsePriority("foo, bar=baz, u=2")).toEqual(p(2, false))
  })

  it("RFC 8941 §4.2.2: a later member replaces an earlier one of the same key, even an invalid one", () => {
    expect(parsePriority("u=1, u=6")).toEqual(p(6, false))
    expect(parsePriority("u=1, u=9")).toEqual(p(3, false))
    expect(parsePriority("i, i=?0")).toEqual(p(3, false))
    expect(parsePriority("i=?0, i")).toEqual(p(3, true))
    expect(parsePriority("i, i=5")).toEqual(p(3, false))
  })

  it("RFC 8941 §4.2: a value that is not a Dictionary is ignored whole", () => {
    for (const bad of ["u=", "u=1,", ",u=1", "u=1 i", "U=1", "u=1;", "u=1,,i", "u==1", "u=1 ;a", `u=1, x="unterminated`, "u=1, x=(1", "u=1, x=(1,2)",
      "u=1, x=1.", "u=1, x=1.1234", "u=1, x=?2", "u=1, x=:a b:", "u=1, 1x", "u=1, x=\u00e9", `u=1, x="\\n"`, `u=1, x=%"%C3"`, "i\tu=2"]) {
      expect(parsePriority(bad), bad).toBe(defaultPriority)
    }
  })

  it("RFC 9218 §4 RFC 8941 §4.2.2: for any dictionary of u, i and unknown members, the last u and i decide", () => {
    type Member = { text: string; key: "u" | "i" | "other"; value: number | boolean | undefined }
    const params = fc.array(fc.constantFrom(";a", ";b=1", ";c=?0", `;d="x"`, ";e=tok"), { maxLength: 2 }).map((ps) => ps.join(""))
    const u: fc.Arbitrary<Member> = fc.oneof(
      fc.integer({ min: -20, max: 20 }).map((n) => ({ text: `u=${n}`, key: "u" as const, value: n >= 0 && n <= 7 ? n : undefined })),
      fc.integer({ min: -99999, max: 99999 }).map((n) => ({ text: `u=${n}`, key: "u" as const, value: n >= 0 && n <= 7 ? n : undefined })),
      fc.constantFrom("u", "u=?1", "u=2.5", "u=tok", `u="3"`, "u=(1)").map((text) => ({ text, key: "u" as const, value: undefined }))
    )
    const i: fc.Arbitrary<Member> = fc.constantFrom<Member>(
      { text: "i", key: "i", value: true },
      { text: "i=?1", key: "i", value: true },
      { text: "i=?0", key: "i", value: false },
      { text: "i=1", key: "i", value: undefined },
      { text: "i=tok", key: "i", value: undefined },
      { text: "i=(?1)", key: "i", value: undefined }
    )
    const other: fc.Arbitrary<Member> = fc.constantFrom("x", "a=1", "ux=3", "ii", "*k=?1", `s="u=1, i"`, "t=(u i)", "z=u").map((text) => ({ text, key: "other" as const, value: undefined }))
    const member = fc.tuple(fc.oneof(u, i, other), params).map(([m, ps]) => ({ ...m, text: m.text + ps }))
    fc.assert(fc.property(fc.array(member, { maxLength: 8 }), fc.constantFrom(",", ", ", " ,", " , ", ",\t"), (members, sep) => {
      const lastU = members.filter((m) => m.key === "u").at(-1)
      const lastI = members.filter((m) => m.key === "i").at(-1)
      expect(parsePriority(members.map((m) => m.text).join(sep))).toEqual({
        urgency: typeof lastU?.value === "number" ? lastU.value : 3,
        incremental: typeof lastI?.value === "boolean" ? lastI.value : false
      })
    }))
  })
})
