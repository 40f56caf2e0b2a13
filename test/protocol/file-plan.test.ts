import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import type { Headers } from "../../src/protocol/headers.ts"
import { etagOf, type FilePlan, formatHttpDate, parseHttpDate, planFile, resolveRange } from "../../src/protocol/file-plan.ts"

// Sun, 06 Nov 1994 08:49:37 GMT, plus 123.4 ms.
const MTIME = 784111777123.4
const stat = { size: 1000, mtimeMs: MTIME }
const ETAG = etagOf(stat)
const LAST_MODIFIED = "Sun, 06 Nov 1994 08:49:37 GMT"
const app: Headers = [["content-type", "text/plain"]]

const get = (headers: Headers, method = "GET") => ({ method, headers })
const plan = (headers: Headers, method = "GET", appHeaders: Headers = app, size = 1000): FilePlan =>
  planFile(get(headers, method), 200, appHeaders, { size, mtimeMs: MTIME })
const field = (p: FilePlan, name: string): string | undefined => p.headers.find(([n]) => n === name)?.[1]
const names = (p: FilePlan): Array<string> => p.headers.map(([n]) => n)

describe("validators (RFC 9110 §8.8)", () => {
  it("RFC 9110 §8.8.3: etagOf is a weak entity-tag of size and whole-ms mtime in hex", () => {
    expect(etagOf({ size: 255, mtimeMs: 4096.9 })).toBe(`W/"ff-1000"`)
    expect(etagOf({ size: 0, mtimeMs: 0 })).toBe(`W/"0-0"`)
    expect(ETAG).toMatch(/^W\/"[0-9a-f]+-[0-9a-f]+"$/)
  })

  it("RFC 9110 §5.6.7: dates are formatted as IMF-fixdate and parsed in all three forms", () => {
    expect(formatHttpDate(784111777)).toBe(LAST_MODIFIED)
    expect(formatHttpDate(-62167219200)).toBe("Sat, 01 Jan 0000 00:00:00 GMT")
    expect(formatHttpDate(Number.NaN)).toBeUndefined()
    expect(parseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT")).toBe(784111777)
    expect(parseHttpDate("Sunday, 06-Nov-94 08:49:37 GMT", Date.UTC(2025, 0, 1))).toBe(784111777)
    expect(parseHttpDate("Sun Nov  6 08:49:37 1994")).toBe(784111777)
    expect(parseHttpDate("Sun Nov 16 08:49:37 1994")).toBe(784111777 + 10 * 86400)
  })

  it("RFC 9110 §5.6.7: a two-digit year more than 50 years ahead is in the past century", () => {
    const now = Date.UTC(2025, 5, 1)
    expect(parseHttpDate("Wednesday, 01-Jan-70 00:00:00 GMT", now)).toBe(Date.UTC(2070, 0, 1) / 1000)
    expect(parseHttpDate("Saturday, 01-Jan-94 00:00:00 GMT", now)).toBe(Date.UTC(1994, 0, 1) / 1000)
    expect(parseHttpDate("Friday, 01-Jan-10 00:00:00 GMT", Date.UTC(2099, 0, 1))).toBe(Date.UTC(2110, 0, 1) / 1000)
    expect(parseHttpDate("Monday, 01-Jan-75 00:00:00 GMT", now)).toBe(Date.UTC(2075, 0, 1) / 1000)
    expect(parseHttpDate("Tuesday, 01-Jan-76 00:00:00 GMT", now)).toBe(Date.UTC(1976, 0, 1) / 1000)
  })

  it("RFC 9110 §5.6.7: strings that are not HTTP-dates do not parse", () => {
    for (const bad of ["", "1", "2024-01-01", "Sun, 06 Nov 1994 08:49:37 UTC", "sun, 06 Nov 1994 08:49:37 GMT", "Sun, 31 Feb 1994 08:49:37 GMT",
      "Sun, 06 Nov 1994 24:00:00 GMT", "Sun, 00 Nov 1994 08:49:37 GMT", "Sun, 6 Nov 1994 08:49:37 GMT", `${LAST_MODIFIED}, ${LAST_MODIFIED}`]) {
      expect(parseHttpDate(bad), bad).toBeUndefined()
    }
  })

  it("RFC 9110 §5.6.7: for any time, formatting then parsing gives its whole seconds back", () => {
    fc.assert(fc.property(fc.integer({ min: -62167219200, max: 253402300799 }), (t) => {
      expect(parseHttpDate(formatHttpDate(t)!)).toBe(t)
    }))
  })
})

describe("planFile: headers (RFC 9110 §8.6, §8.8, §14.3)", () => {
  it("RFC 9110 §8.8.2 §8.8.3 §14.3: a 200 adds etag, last-modified and accept-ranges and the whole file", () => {
    const p = plan([])
    expect(p).toEqual({
      status: 200,
      headers: [["content-type", "text/plain"], ["etag", ETAG], ["last-modified", LAST_MODIFIED], ["accept-ranges", "bytes"], ["content-length", "1000"]],
      offset: 0,
      length: 1000
    })
  })

  it("RFC 9110 §8.6: HEAD gets the content-length of GET and no bytes", () => {
    const p = plan([], "HEAD")
    expect(p.status).toBe(200)
    expect(field(p, "content-length")).toBe("1000")
    expect(p.length).toBe(0)
  })

  it("RFC 9110 §8.6: the app's content-length is replaced; its etag, last-modified and accept-ranges are kept once", () => {
    const appHeaders: Headers = [["etag", `"v1"`], ["content-length", "5"], ["last-modified", "Mon, 07 Nov 1994 00:00:00 GMT"], ["accept-ranges", "bytes"], ["x", "y"]]
    const p = plan([], "GET", appHeaders)
    expect(p.headers).toEqual([["x", "y"], ["etag", `"v1"`], ["last-modified", "Mon, 07 Nov 1994 00:00:00 GMT"], ["accept-ranges", "bytes"], ["content-length", "1000"]])
  })

  it("RFC 9110 §15.3: a non-200 app status is sent as is, with the whole file and its content-length", () => {
    const p = planFile(get([["range", "bytes=0-0"], ["if-none-match", "*"]]), 404, [["content-type", "text/html"], ["content-length", "1"]], stat)
    expect(p).toEqual({ status: 404, headers: [["content-type", "text/html"], ["content-length", "1000"]], offset: 0, length: 1000 })
    expect(planFile(get([], "HEAD"), 500, [], stat)).toEqual({ status: 500, headers: [["content-length", "1000"]], offset: 0, length: 0 })
  })

  it("RFC 9110 §6.4.1 §8.6: a non-200 app status without content (204, 304) sends no bytes and no content-length", () => {
    for (const status of [204, 304]) {
      expect(planFile(get([]), status, [["content-length", "1000"], ["etag", `"a"`]], stat)).toEqual({ status, headers: [["etag", `"a"`]], offset: 0, length: 0 })
    }
  })
})

describe("planFile: preconditions (RFC 9110 §13.1, §13.2.2)", () => {
  it("RFC 9110 §13.1.1: If-Match uses the strong comparison, so a weak etag never matches; * does", () => {
    expect(plan([["if-match", ETAG]]).status).toBe(412)
    expect(plan([["if-match", ETAG.slice(2)]]).status).toBe(412)
    expect(plan([["if-match", "*"]]).status).toBe(200)
    const strong: Headers = [["etag", `"abc"`]]
    expect(plan([["if-match", `"x", "abc"`]], "GET", strong).status).toBe(200)
    expect(plan([["if-match", `"x"`], ["if-match", `"abc"`]], "PUT", strong).status).toBe(200)
    expect(plan([["if-match", `W/"abc"`]], "GET", strong).status).toBe(412)
    expect(plan([["if-match", `"x"`]], "GET", strong).status).toBe(412)
  })

  it("RFC 9110 §15.5.13: a 412 carries validators, content-length 0 and no bytes", () => {
    const p = plan([["if-match", `"nope"`]])
    expect(p).toEqual({
      status: 412,
      headers: [["etag", ETAG], ["last-modified", LAST_MODIFIED], ["accept-ranges", "bytes"], ["content-length", "0"]],
      offset: 0,
      length: 0
    })
  })

  it("RFC 9110 §13.1.4: If-Unmodified-Since fails when modified later; an invalid date is ignored", () => {
    expect(plan([["if-unmodified-since", "Sun, 06 Nov 1994 08:49:36 GMT"]]).status).toBe(412)
    expect(plan([["if-unmodified-since", LAST_MODIFIED]]).status).toBe(200) // ms are not compared
    expect(plan([["if-unmodified-since", "Sunday, 06-Nov-94 08:49:37 GMT"]]).status).toBe(200)
    expect(plan([["if-unmodified-since", "yesterday"]]).status).toBe(200)
  })

  it("RFC 9110 §13.2.2: If-Unmodified-Since is ignored when If-Match is present", () => {
    expect(plan([["if-match", "*"], ["if-unmodified-since", "Thu, 01 Jan 1970 00:00:00 GMT"]]).status).toBe(200)
  })

  it("RFC 9110 §13.1.2: If-None-Match uses the weak comparison: 304 on GET/HEAD, 412 otherwise", () => {
    expect(plan([["if-none-match", ETAG]]).status).toBe(304)
    expect(plan([["if-none-match", ETAG.slice(2)]]).status).toBe(304)
    expect(plan([["if-none-match", `"a", ${ETAG}`]], "HEAD").status).toBe(304)
    expect(plan([["if-none-match", `"a"`], ["if-none-match", ETAG]]).status).toBe(304)
    expect(plan([["if-none-match", "*"]]).status).toBe(304)
    expect(plan([["if-none-match", ETAG]], "POST").status).toBe(412)
    expect(plan([["if-none-match", "*"]], "PUT").status).toBe(412)
    expect(plan([["if-none-match", `"other"`]]).status).toBe(200)
    expect(plan([["if-none-match", "garbage"]]).status).toBe(200)
  })

  it("RFC 9110 §15.4.5: a 304 keeps validators and cache fields, drops content metadata, sends nothing", () => {
    const appHeaders: Headers = [
      ["content-type", "text/plain"], ["content-encoding", "gzip"], ["content-location", "/a.txt"], ["cache-control", "max-age=60"],
      ["date", LAST_MODIFIED], ["expires", LAST_MODIFIED], ["vary", "accept-encoding"], ["content-length", "3"], ["set-cookie", "a=b"]
    ]
    const p = plan([["if-none-match", "*"]], "GET", appHeaders)
    expect(p).toEqual({
      status: 304,
      headers: [
        ["content-location", "/a.txt"], ["cache-control", "max-age=60"], ["date", LAST_MODIFIED], ["expires", LAST_MODIFIED],
        ["vary", "accept-encoding"], ["set-cookie", "a=b"], ["etag", ETAG], ["last-modified", LAST_MODIFIED]
      ],
      offset: 0,
      length: 0
    })
  })

  it("RFC 9110 §13.1.3: If-Modified-Since gives 304 when not modified since, on GET/HEAD only", () => {
    expect(plan([["if-modified-since", LAST_MODIFIED]]).status).toBe(304)
    expect(plan([["if-modified-since", "Sun Nov  6 08:49:38 1994"]], "HEAD").status).toBe(304)
    expect(plan([["if-modified-since", "Sun, 06 Nov 1994 08:49:36 GMT"]]).status).toBe(200)
    expect(plan([["if-modified-since", LAST_MODIFIED]], "POST").status).toBe(200)
    expect(plan([["if-modified-since", "not a date"]]).status).toBe(200)
  })

  it("RFC 9110 §13.2.2: If-Modified-Since is ignored when If-None-Match is present", () => {
    expect(plan([["if-none-match", `"other"`], ["if-modified-since", LAST_MODIFIED]]).status).toBe(200)
  })

  it("RFC 9110 §13.2.2: the app's validators are the ones compared", () => {
    const appHeaders: Headers = [["etag", `"v2"`], ["last-modified", "Mon, 07 Nov 1994 00:00:00 GMT"]]
    expect(plan([["if-none-match", `"v2"`]], "GET", appHeaders).status).toBe(304)
    expect(plan([["if-none-match", ETAG]], "GET", appHeaders).status).toBe(200)
    expect(plan([["if-modified-since", LAST_MODIFIED]], "GET", appHeaders).status).toBe(200)
    expect(plan([["if-modified-since", "Mon, 07 Nov 1994 00:00:00 GMT"]], "GET", appHeaders).status).toBe(304)
  })

  it("RFC 9110 §13.2.2: preconditions come before Range", () => {
    expect(plan([["if-match", `"x"`], ["range", "bytes=0-9"]]).status).toBe(412)
    expect(plan([["if-none-match", "*"], ["range", "bytes=0-9"]]).status).toBe(304)
    expect(plan([["if-modified-since", LAST_MODIFIED], ["range", "bytes=5000-"]]).status).toBe(304)
  })
})

describe("planFile: ranges (RFC 9110 §14)", () => {
  it("RFC 9110 §14.1.2 §14.4: bytes=a-b, a- and -n give a 206 with content-range", () => {
    const cases: Array<[string, number, number]> = [
      ["bytes=0-0", 0, 1], ["bytes=10-19", 10, 10], ["bytes=990-", 990, 10], ["bytes=-10", 990, 10],
      ["bytes=900-5000", 900, 100], ["bytes=-5000", 0, 1000], ["BYTES=0-0", 0, 1], ["bytes= 3-4 ", 3, 2], ["bytes=0-0,", 0, 1]
    ]
    for (const [range, offset, length] of cases) {
      const p = plan([["range", range]])
      expect(p.status, range).toBe(206)
      expect([p.offset, p.length], range).toEqual([offset, length])
      expect(field(p, "content-range"), range).toBe(`bytes ${offset}-${offset + length - 1}/1000`)
      expect(field(p, "content-length"), range).toBe(String(length))
    }
    expect(names(plan([["range", "bytes=0-9"]]))).toEqual(["content-type", "etag", "last-modified", "accept-ranges", "content-range", "content-length"])
  })

  it("RFC 9110 §15.5.17: an unsatisfiable range gives 416 with content-range bytes */size", () => {
    for (const [range, size] of [["bytes=1000-", 1000], ["bytes=5000-6000", 1000], ["bytes=-0", 1000], ["bytes=0-", 0], ["bytes=-5", 0], ["bytes=1000-,2000-", 1000]] as const) {
      const p = plan([["range", range]], "GET", app, size)
      expect(p, range).toEqual({
        status: 416,
        headers: [["etag", etagOf({ size, mtimeMs: MTIME })], ["last-modified", LAST_MODIFIED], ["accept-ranges", "bytes"], ["content-range", `bytes */${size}`], ["content-length", "0"]],
        offset: 0,
        length: 0
      })
    }
  })

  it("RFC 9110 §14.2: an invalid Range or another unit is ignored: 200 with the whole file", () => {
    for (const range of ["bytes=", "bytes=5-1", "bytes=a-b", "bytes=--1", "bytes=-", "bytes 0-1", "bytes=0-1-2", "items=0-1", "bytes =0-1",
      "bytes=1.5-2", "bytes=90071992547409920-", "bytes=0-90071992547409920", "bytes=-90071992547409920", "bytes=0-1,x"]) {
      const p = plan([["range", range]])
      expect([p.status, p.offset, p.length, field(p, "content-range")], range).toEqual([200, 0, 1000, undefined])
    }
  })

  it("RFC 9110 §14.2: several ranges are coalesced when they overlap or abut, else the whole file is sent", () => {
    const at = (range: string) => {
      const p = plan([["range", range]])
      return [p.status, p.offset, p.length]
    }
    expect(at("bytes=0-9, 5-19")).toEqual([206, 0, 20])
    expect(at("bytes=10-19,0-9")).toEqual([206, 0, 20])
    expect(at("bytes=0-9,0-9")).toEqual([206, 0, 10])
    expect(at("bytes=0-9,5000-")).toEqual([206, 0, 10])
    expect(at("bytes=0-9,20-29")).toEqual([200, 0, 1000])
    expect(at("bytes=0-0,-1")).toEqual([200, 0, 1000])
  })

  it("RFC 9110 §14.2: Range applies to GET only", () => {
    for (const method of ["HEAD", "POST", "PUT"]) {
      const p = plan([["range", "bytes=0-9"]], method)
      expect(p.status, method).toBe(200)
      expect(field(p, "content-length")).toBe("1000")
    }
  })

  it("RFC 9110 §14.3: an app's accept-ranges without bytes turns ranges off", () => {
    const p = plan([["range", "bytes=0-9"]], "GET", [["accept-ranges", "none"]])
    expect(p.status).toBe(200)
    expect(field(p, "accept-ranges")).toBe("none")
  })

  it("RFC 9110 §13.1.5: If-Range with an entity-tag needs a strong match, so never the weak etagOf", () => {
    expect(plan([["range", "bytes=0-9"], ["if-range", ETAG]]).status).toBe(200)
    const strong: Headers = [["etag", `"abc"`]]
    expect(plan([["range", "bytes=0-9"], ["if-range", `"abc"`]], "GET", strong).status).toBe(206)
    expect(plan([["range", "bytes=0-9"], ["if-range", `W/"abc"`]], "GET", strong).status).toBe(200)
    expect(plan([["range", "bytes=0-9"], ["if-range", `"abd"`]], "GET", strong).status).toBe(200)
    expect(plan([["range", "bytes=5000-"], ["if-range", `"abd"`]], "GET", strong).status).toBe(200)
  })

  it("RFC 9110 §13.1.5: If-Range with a date holds only when it equals Last-Modified", () => {
    expect(plan([["range", "bytes=0-9"], ["if-range", LAST_MODIFIED]]).status).toBe(206)
    expect(plan([["range", "bytes=0-9"], ["if-range", "Sun, 06 Nov 1994 08:49:38 GMT"]]).status).toBe(200)
    expect(plan([["range", "bytes=0-9"], ["if-range", "garbage"]]).status).toBe(200)
    expect(plan([["if-range", LAST_MODIFIED]]).status).toBe(200) // no Range: If-Range ignored
  })

  it("RFC 9110 §14.1.2 §14.4 §15.5.17: for any size and single range, the plan stays in the file and 416 means nothing satisfiable", () => {
    const pos = fc.oneof(fc.nat({ max: 2100 }), fc.constant(Number.MAX_SAFE_INTEGER), fc.constant(2 ** 60))
    const spec = fc.oneof(
      fc.tuple(pos, pos).map(([a, b]) => ({ text: `${a}-${b}`, a, b: b as number | undefined, suffix: undefined as number | undefined })),
      pos.map((a) => ({ text: `${a}-`, a, b: undefined, suffix: undefined })),
      pos.map((n) => ({ text: `-${n}`, a: undefined, b: undefined, suffix: n as number | undefined }))
    )
    fc.assert(fc.property(fc.nat({ max: 2000 }), spec, fc.constantFrom("GET", "HEAD"), (size, r, method) => {
      const p = plan([["range", `bytes=${r.text}`]], method, app, size)
      expect(p.offset + p.length).toBeLessThanOrEqual(size)
      expect(p.offset).toBeGreaterThanOrEqual(0)
      const valid = [r.a, r.b, r.suffix].every((n) => n === undefined || Number.isSafeInteger(n)) && !(r.a !== undefined && r.b !== undefined && r.b < r.a)
      const satisfiable = r.suffix !== undefined ? r.suffix > 0 && size > 0 : r.a! < size
      if (p.status === 206) {
        expect(method).toBe("GET")
        expect(p.length).toBeGreaterThanOrEqual(1)
        expect(field(p, "content-range")).toBe(`bytes ${p.offset}-${p.offset + p.length - 1}/${size}`)
        expect(field(p, "content-length")).toBe(String(p.length))
      } else if (p.status === 416) {
        expect(satisfiable).toBe(false)
        expect(p.length).toBe(0)
        expect(field(p, "content-range")).toBe(`bytes */${size}`)
      } else {
        expect(p.status).toBe(200)
        expect([p.offset, p.length]).toEqual([0, method === "HEAD" ? 0 : size])
      }
      if (method === "GET" && valid) expect(p.status).toBe(satisfiable ? 206 : 416)
    }))
  })

  it("RFC 9110 §14.2: resolveRange on any range set returns a span inside the file or no satisfiable span", () => {
    const spec = fc.oneof(
      fc.tuple(fc.nat({ max: 300 }), fc.nat({ max: 300 })).map(([a, b]) => `${a}-${b}`),
      fc.nat({ max: 300 }).map((a) => `${a}-`),
      fc.nat({ max: 300 }).map((n) => `-${n}`)
    )
    fc.assert(fc.property(fc.nat({ max: 200 }), fc.array(spec, { minLength: 1, maxLength: 5 }), (size, specs) => {
      const r = resolveRange(`bytes=${specs.join(", ")}`, size)
      if (typeof r === "object") {
        expect(r.first).toBeGreaterThanOrEqual(0)
        expect(r.first).toBeLessThanOrEqual(r.last)
        expect(r.last).toBeLessThan(size)
      }
    }))
  })
})

describe("planFile: single-value fields (RFC 9110 §5.3)", () => {
  it("RFC 9110 §5.3 §8.6: for any app header list and request, managed fields appear at most once", () => {
    const name = fc.constantFrom("content-length", "etag", "last-modified", "accept-ranges", "content-range", "content-type", "vary", "x-a")
    const value = fc.constantFrom("1", `"a"`, `W/"b"`, "bytes", "none", LAST_MODIFIED, "bytes 0-1/2", "text/plain")
    const request = fc.subarray([
      ["range", "bytes=0-9"], ["if-none-match", `"a"`], ["if-match", `"a"`], ["if-modified-since", LAST_MODIFIED], ["if-range", `"a"`]
    ] as Array<[string, string]>)
    fc.assert(fc.property(
      fc.array(fc.tuple(name, value), { maxLength: 10 }),
      request,
      fc.constantFrom(200, 200, 200, 404, 204, 304),
      fc.constantFrom("GET", "HEAD", "POST"),
      fc.nat({ max: 50 }),
      (appHeaders, req, status, method, size) => {
        const p = planFile({ method, headers: req }, status, appHeaders, { size, mtimeMs: MTIME })
        for (const single of ["content-length", "etag", "last-modified", "accept-ranges", "content-range"]) {
          expect(p.headers.filter(([n]) => n === single).length, single).toBeLessThanOrEqual(1)
        }
        const declared = field(p, "content-length")
        if (declared !== undefined && method !== "HEAD") expect(Number(declared)).toBe(p.length)
        expect(p.offset + p.length).toBeLessThanOrEqual(size)
      }
    ))
  })
})
