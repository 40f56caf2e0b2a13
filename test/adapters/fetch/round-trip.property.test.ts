/**
 * Bodies round-trip byte-exact through each fetch adapter, however they
 * are chunked (fast-check, `chunked` from egi/testing): through
 * `fromFetch` under `validate` (the in-memory client checks every event
 * both ways against spec.md), through `toFetch` with the app under
 * `validate`, and through both at once.
 */
import { Effect } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import echo from "../../../examples/echo.ts"
import { fromFetch, toFetch } from "../../../src/adapters/fetch/index.ts"
import { chunked, request, validate } from "../../../src/testing/index.ts"

const body = fc.uint8Array({ maxLength: 40_000 }).chain((bytes) => fc.tuple(fc.constant(bytes), chunked(bytes)))

/** A request body stream that hands out `chunks` one per pull. */
const streamOf = (chunks: ReadonlyArray<Uint8Array>) => {
  let i = 0
  return new ReadableStream<Uint8Array>({
    pull: (c) => {
      if (i < chunks.length) c.enqueue(chunks[i++]!.slice())
      else c.close()
    }
  }, { highWaterMark: 0 })
}

const post = (chunks: ReadonlyArray<Uint8Array>) =>
  new Request("http://prop.test/", { method: "POST", body: streamOf(chunks), duplex: "half" } as RequestInit)

describe("FETCH-1 FETCH-8 HTTP-14: byte-exact round trips with random chunking", () => {
  it("FETCH-1 FETCH-4: fromFetch((req) => new Response(req.body)) under validate", async () => {
    const app = validate(fromFetch((req) => new Response(req.body)))
    await fc.assert(fc.asyncProperty(body, async ([bytes, chunks]) => {
      const res = await Effect.runPromise(request(app, { method: "POST", body: chunks }))
      expect(res.status).toBe(200)
      expect(Buffer.from(res.body).equals(Buffer.from(bytes))).toBe(true)
    }), { numRuns: 60 })
  })

  it("FETCH-8 FETCH-10: toFetch(validate(echo)) with a streamed Request body", async () => {
    const h = toFetch(validate(echo), { log: false })
    try {
      await fc.assert(fc.asyncProperty(body, async ([bytes, chunks]) => {
        const res = await h.fetch(post(chunks))
        expect(res.status).toBe(200)
        expect(Buffer.from(await res.arrayBuffer()).equals(Buffer.from(bytes))).toBe(true)
      }), { numRuns: 60 })
    } finally {
      await h.dispose()
    }
  })

  it("FETCH-1 FETCH-8: validate(fromFetch(toFetch(validate(echo)).fetch)) in memory", async () => {
    const h = toFetch(validate(echo), { log: false })
    const app = validate(fromFetch(h.fetch))
    try {
      await fc.assert(fc.asyncProperty(body, async ([bytes, chunks]) => {
        const res = await Effect.runPromise(request(app, { method: "POST", body: chunks }))
        expect(res.status).toBe(200)
        expect(Buffer.from(res.body).equals(Buffer.from(bytes))).toBe(true)
      }), { numRuns: 60 })
    } finally {
      await h.dispose()
    }
  })
})
