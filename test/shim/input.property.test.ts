/**
 * CLASSIC-6 as a property: whatever the body, however it is cut into
 * chunks, and whatever mix of read(n), read(), readline(n), readlines() and
 * iteration the app uses, `egi.input` yields exactly the body, in order, and
 * empty reads at the end. First against the Input class with an in-memory
 * source, then end to end through worker threads and a real HTTP/2 client.
 */
import fc from "fast-check"
import { createHash } from "node:crypto"
import { describe, expect, it } from "vitest"
import { type ChunkSource, Input } from "../../src/shim/input.ts"
import { fromClassic } from "../../src/shim/shim.ts"
import { request } from "../support/h2client.ts"
import { useServer, useSession } from "../support/server.ts"
import { pseudoRandomBytes } from "../support/bytes.ts"

const cut = (bytes: Buffer, cuts: ReadonlyArray<number>): Array<Buffer> => {
  const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b)
  const parts: Array<Buffer> = []
  let from = 0
  for (const c of [...at, bytes.length]) {
    if (c > from) parts.push(bytes.subarray(from, c))
    from = Math.max(from, c)
  }
  return parts
}

const step = fc.oneof(
  fc.integer({ min: 1, max: 70_000 }).map((n) => `r${n}`),
  fc.constant("R"),
  fc.constant("l"),
  fc.integer({ min: 1, max: 300 }).map((n) => `l${n}`),
  fc.constant("L"),
  fc.constant("i")
)

const upload = fc.record({
  size: fc.oneof(fc.integer({ min: 0, max: 2_000 }), fc.integer({ min: 0, max: 300_000 })),
  seed: fc.integer(),
  cuts: fc.array(fc.nat(), { maxLength: 12 }),
  pattern: fc.array(step, { minLength: 1, maxLength: 6 })
})

/** The same reading loop as the fixture's `readByPattern`. */
const readAll = (input: Input, pattern: ReadonlyArray<string>): Buffer => {
  const parts: Array<Uint8Array> = []
  let empties = 0
  for (let i = 0; empties < pattern.length + 1; i++) {
    const s = pattern[i % pattern.length]!
    const got = s === "R"
      ? [input.read()]
      : s[0] === "r"
      ? [input.read(Number(s.slice(1)))]
      : s === "l"
      ? [input.readline()]
      : s[0] === "l"
      ? [input.readline(Number(s.slice(1)))]
      : s === "L"
      ? input.readlines()
      : [...(function*() {
        const n = input[Symbol.iterator]().next()
        if (n.done !== true) yield n.value
      })()]
    const size = got.reduce((n, g) => n + g.length, 0)
    empties = size === 0 ? empties + 1 : 0
    parts.push(...got)
  }
  return Buffer.concat(parts)
}

describe("egi.input (in memory)", () => {
  it("CLASSIC-6: any chunking and read pattern yields exactly the body, then empty reads", () => {
    fc.assert(
      fc.property(upload, ({ size, seed, cuts, pattern }) => {
        const bytes = pseudoRandomBytes(size, seed, true)
        const chunks = cut(bytes, cuts)
        const source: ChunkSource = { next: () => chunks.shift() ?? null }
        const input = new Input(source)
        const got = readAll(input, pattern)
        expect(got.equals(bytes)).toBe(true)
        expect(input.read().length + input.read(3).length + input.readline().length + input.readlines().length).toBe(0)
      }),
      { numRuns: 300 }
    )
  })

  it("CLASSIC-6: read(n) returns exactly n bytes until the end; readline stops after each line feed", () => {
    const input = new Input({ next: ((c) => () => c.shift() ?? null)([Buffer.from("ab\ncd"), Buffer.from("e\nfgh")]) })
    expect(Buffer.from(input.read(1)).toString()).toBe("a")
    expect(Buffer.from(input.readline()).toString()).toBe("b\n")
    expect(Buffer.from(input.read(4)).toString()).toBe("cde\n")
    expect(Buffer.from(input.readline(2)).toString()).toBe("fg")
    expect(Buffer.from(input.read(10)).toString()).toBe("h")
    expect(input.read(10).length).toBe(0)
    expect(input.read(0).length + input.readline(0).length).toBe(0)
  })
})

describe("egi.input (worker threads, HTTP/2)", () => {
  const app = fromClassic(
    { module: new URL("./fixtures/classic-app.ts", import.meta.url).href, export: "app" },
    { workers: 2, inputBuffer: 32 * 1024, logger: { error: () => {}, info: () => {} } }
  )
  const server = useServer(app)
  const session = useSession(server)

  it("CLASSIC-6: the classic app sees exactly the bytes sent, for any body, chunking and read pattern", async () => {
    await fc.assert(
      fc.asyncProperty(upload, async ({ size, seed, cuts, pattern }) => {
        const bytes = pseudoRandomBytes(size, seed, true)
        const r = await request(
          session(),
          { ":method": "POST", ":path": `/read?p=${pattern.join(",")}` },
          cut(bytes, cuts)
        )
        expect(r.status).toBe(200)
        const got = JSON.parse(r.body.toString())
        expect(got).toEqual({
          bytes: bytes.length,
          sha256: createHash("sha256").update(bytes).digest("hex"),
          afterEnd: [0, 0, 0, 0]
        })
      }),
      { numRuns: 40 }
    )
  })
})
