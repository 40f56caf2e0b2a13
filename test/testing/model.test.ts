/**
 * Model-based tests (fc.commands) against the real runner over a real
 * HTTP/2 connection: random interleavings of opening streams, writing
 * chunks, ending and resetting them. Invariants, under `validate`:
 * correlation (a stream's events never reach another stream's app: each
 * response names its own stream and echoes only its own bytes), byte
 * integrity for any chunking, and no rule broken by the server in either
 * direction (the validator's ServerViolationError would surface as an app
 * failure in the log).
 */
import { Effect } from "effect"
import fc from "fast-check"
import type * as http2 from "node:http2"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { App } from "../../src/protocol/app.ts"
import { validate } from "../../src/testing/index.ts"
import { cancel, closeSession, collect, connect, type H2Result } from "../support/h2client.ts"
import { listen, type TestServer } from "../support/server.ts"

/** Echoes each chunk as it arrives, under a head that names the stream. */
const tagged: App = (scope, receive, send) =>
  Effect.gen(function*() {
    if (scope.type !== "http") return
    yield* send({ type: "http.response.start", status: 200, headers: [["x-stream", `${scope.connectionId}/${scope.streamId}`]] })
    while (true) {
      const event = yield* receive
      if (event.type !== "http.request") return
      yield* send({ type: "http.response.body", body: event.body, moreBody: event.moreBody })
      if (!event.moreBody) return
    }
  })

interface Stream {
  readonly client: http2.ClientHttp2Stream
  readonly result: Promise<H2Result>
  readonly sent: Array<Uint8Array>
  ended: boolean
  reset: boolean
}
interface Real {
  readonly session: http2.ClientHttp2Session
  readonly streams: Array<Stream>
}
interface Model {
  open: number
}

const live = (real: Real) => real.streams.filter((s) => !s.ended && !s.reset)

/** The `i`-th live stream (modulo how many there are), if any. */
const pickLive = (real: Real, i: number): Stream | undefined => {
  const open = live(real)
  return open.length === 0 ? undefined : open[i % open.length]
}

class Open implements fc.AsyncCommand<Model, Real> {
  check = (m: Readonly<Model>) => m.open < 200
  async run(m: Model, r: Real) {
    m.open++
    const client = r.session.request({ ":method": "POST", ":path": "/" }, { endStream: false })
    r.streams.push({ client, result: collect(client), sent: [], ended: false, reset: false })
  }
  toString = () => "open"
}

class Write implements fc.AsyncCommand<Model, Real> {
  readonly pick: number
  readonly bytes: Uint8Array
  constructor(pick: number, bytes: Uint8Array) {
    this.pick = pick
    this.bytes = bytes
  }
  check = () => true
  async run(_m: Model, r: Real) {
    const s = pickLive(r, this.pick)
    if (s === undefined) return
    s.sent.push(this.bytes)
    s.client.write(this.bytes)
  }
  toString = () => `write(${this.pick}, ${this.bytes.length} B)`
}

/** Ends a live stream (END_STREAM) or resets it (RST_STREAM CANCEL). */
class Close implements fc.AsyncCommand<Model, Real> {
  readonly pick: number
  readonly reset: boolean
  constructor(pick: number, reset: boolean) {
    this.pick = pick
    this.reset = reset
  }
  check = () => true
  async run(_m: Model, r: Real) {
    const s = pickLive(r, this.pick)
    if (s === undefined) return
    if (this.reset) {
      s.reset = true
      cancel(s.client)
    } else {
      s.ended = true
      s.client.end()
    }
  }
  toString = () => `${this.reset ? "reset" : "end"}(${this.pick})`
}

let server: TestServer
let streamsSeen = 0
beforeAll(async () => {
  // Room for every stream a run may hold open at once.
  server = await listen(validate(tagged), { maxConcurrentStreams: 256 })
})
afterAll(() => server.close())

describe("model-based: streams on one connection (fc.commands)", () => {
  it("CORE-1 HTTP-14 HTTP-8: under any interleaving of open/write/end/reset of up to 200 streams, each stream gets back exactly its own bytes", async () => {
    const write = fc.tuple(fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 3000 })).map(([i, b]) => new Write(i, b))
    const commands = fc.commands(
      [
        fc.constant(new Open()),
        fc.constant(new Open()),
        write,
        write,
        write,
        fc.tuple(fc.nat(), fc.boolean()).map(([i, reset]) => new Close(i, reset))
      ],
      { maxCommands: 400, size: "large" }
    )
    await fc.assert(
      fc.asyncProperty(commands, async (cmds) => {
        const session = await connect(server.url)
        const real: Real = { session, streams: [] }
        await fc.asyncModelRun(() => ({ model: { open: 0 }, real }), cmds)
        for (const s of live(real)) {
          s.ended = true
          s.client.end()
        }
        const results = await Promise.all(real.streams.map((s) => s.result))
        streamsSeen = Math.max(streamsSeen, real.streams.length)
        for (const [i, s] of real.streams.entries()) {
          if (s.reset) continue
          const r = results[i]!
          expect(r.status).toBe(200)
          expect(r.headers["x-stream"]).toBe(`${String(r.headers["x-stream"]).split("/")[0]}/${r.streamId}`)
          expect(r.body.equals(Buffer.concat(s.sent))).toBe(true)
        }
        await closeSession(session)
        expect(server.lines.error.filter((l) => l.includes("ServerViolationError") || l.includes("LocalProtocolError"))).toEqual([])
      }),
      { numRuns: 15 }
    )
    // The runs did interleave many streams (the generator is not stuck on tiny cases).
    expect(streamsSeen).toBeGreaterThanOrEqual(20)
  })
})
