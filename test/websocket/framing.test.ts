/**
 * The framing rules of spec.md §11.7, which the Node runner gets from the
 * `ws` library: a frame that breaks RFC 6455 §5 closes the WebSocket with
 * 1002, text or a close reason that is not UTF-8 with 1007, a message over
 * the limit with 1009 (WS-17, WS-12, WS-11), on both transports, with a peer
 * that writes its frames by hand; the app's `websocket.disconnect` carries
 * the code the server closed with (§11.2), not 1006.
 */
import { randomBytes } from "node:crypto"
import { createRequire } from "node:module"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { App } from "../../src/protocol/app.ts"
import { sentCloseCode } from "../../src/runner/websocket/session.ts"
import { within } from "../support/async.ts"
import { until } from "../support/clients.ts"
import { listen, type TestServer } from "../support/server.ts"
import { closePayload, Opcode, type RawPeer, rawH1, rawH2 } from "../support/ws-raw.ts"

/** A client frame with every bit chosen by the caller (RFC 6455 §5.2). */
const rawFrame = (o: {
  readonly fin?: boolean
  readonly rsv?: number
  readonly opcode: number
  readonly masked?: boolean
  readonly payload?: Uint8Array
}): Buffer => {
  const payload = Buffer.from(o.payload ?? new Uint8Array(0))
  const masked = o.masked ?? true
  const b0 = ((o.fin ?? true) ? 0x80 : 0) | ((o.rsv ?? 0) << 4) | o.opcode
  const len = payload.length
  const head = len < 126
    ? Buffer.from([b0, (masked ? 0x80 : 0) | len])
    : Buffer.from([b0, (masked ? 0x80 : 0) | 126, len >> 8, len & 0xff])
  if (!masked) return Buffer.concat([head, payload])
  const mask = randomBytes(4)
  return Buffer.concat([head, mask, payload.map((b, i) => b ^ mask[i % 4]!)])
}

const text = (s: string) => Buffer.from(s, "utf8")
const NOT_UTF8 = Buffer.from([0xc3, 0x28])
/** The server's wsMaxMessageSize here (rule WS-11). */
const LIMIT = 1000

const cases: ReadonlyArray<{ readonly name: string; readonly frames: ReadonlyArray<Buffer>; readonly code: number }> = [
  { name: "an unmasked frame", frames: [rawFrame({ opcode: Opcode.TEXT, masked: false, payload: text("hi") })], code: 1002 },
  { name: "RSV2 set", frames: [rawFrame({ opcode: Opcode.TEXT, rsv: 0b010, payload: text("hi") })], code: 1002 },
  { name: "RSV1 set with no extension negotiated", frames: [rawFrame({ opcode: Opcode.TEXT, rsv: 0b100, payload: text("hi") })], code: 1002 },
  { name: "a reserved opcode (3)", frames: [rawFrame({ opcode: 0x3, payload: text("hi") })], code: 1002 },
  { name: "a fragmented ping (FIN clear)", frames: [rawFrame({ opcode: Opcode.PING, fin: false })], code: 1002 },
  { name: "a ping of 126 bytes", frames: [rawFrame({ opcode: Opcode.PING, payload: new Uint8Array(126) })], code: 1002 },
  { name: "a continuation with no message started", frames: [rawFrame({ opcode: 0x0, payload: text("hi") })], code: 1002 },
  {
    name: "a new text frame inside a fragmented message",
    frames: [rawFrame({ opcode: Opcode.TEXT, fin: false, payload: text("a") }), rawFrame({ opcode: Opcode.TEXT, payload: text("b") })],
    code: 1002
  },
  { name: "a close frame of 1 byte", frames: [rawFrame({ opcode: Opcode.CLOSE, payload: new Uint8Array([3]) })], code: 1002 },
  { name: "a close code that may not be received (1005)", frames: [rawFrame({ opcode: Opcode.CLOSE, payload: closePayload(1005) })], code: 1002 },
  { name: "a close code below 1000 (999)", frames: [rawFrame({ opcode: Opcode.CLOSE, payload: closePayload(999) })], code: 1002 },
  { name: "a text message that is not UTF-8", frames: [rawFrame({ opcode: Opcode.TEXT, payload: NOT_UTF8 })], code: 1007 },
  {
    name: "a close reason that is not UTF-8",
    frames: [rawFrame({ opcode: Opcode.CLOSE, payload: Buffer.concat([closePayload(1000), NOT_UTF8]) })],
    code: 1007
  },
  { name: "a message over wsMaxMessageSize in one frame", frames: [rawFrame({ opcode: Opcode.BINARY, payload: new Uint8Array(LIMIT + 1) })], code: 1009 },
  {
    name: "a message over wsMaxMessageSize in two fragments, each under it",
    frames: [
      rawFrame({ opcode: Opcode.TEXT, fin: false, payload: Buffer.alloc(LIMIT - 100, "a") }),
      rawFrame({ opcode: 0x0, payload: Buffer.alloc(200, "b") })
    ],
    code: 1009
  }
]

/** The rules a case tests besides WS-17, which lists them all: WS-11 is the limit's own, WS-12 UTF-8's. */
const alsoRules = (code: number): string => (code === 1009 ? " WS-11" : code === 1007 ? " WS-12" : "")

const seen = new Map<string, number>()

/** Accepts, then records the code of the app's websocket.disconnect under the path. */
const app: App = (scope, receive, send) =>
  scope.type !== "websocket" ? Effect.fail(new Error("websocket only")) : Effect.gen(function*() {
    yield* receive
    yield* send({ type: "websocket.accept" })
    for (;;) {
      const event = yield* receive
      if (event.type === "websocket.disconnect") return void seen.set(scope.path, event.code)
    }
  })

let server: TestServer
beforeAll(async () => {
  server = await listen(app, { wsPingTimeout: 500, wsMaxMessageSize: LIMIT })
})
afterAll(() => server.close())

/** The close code in the server's close frame, once it arrived. */
const serverClose = async (peer: RawPeer): Promise<number> => {
  const frame = await within(peer.frame(Opcode.CLOSE), 5000, "the server's close frame")
  return frame.payload.readUInt16BE(0)
}

for (const [transport, open] of [["HTTP/1.1", rawH1], ["HTTP/2", rawH2]] as const) {
  describe(`WS-17 over ${transport}`, () => {
    for (const [i, c] of cases.entries()) {
      it(`WS-17${alsoRules(c.code)}: ${c.name} closes the WebSocket with ${c.code}, and the app's websocket.disconnect carries ${c.code}`, async () => {
        const path = `/${transport === "HTTP/2" ? "h2" : "h1"}-${i}`
        const peer = await open(server.port, path)
        try {
          for (const f of c.frames) peer.write(f)
          expect(await serverClose(peer)).toBe(c.code)
          await until(() => seen.has(path), `the app's disconnect on ${path}`, 5000)
          expect(seen.get(path)).toBe(c.code)
        } finally {
          peer.destroy()
        }
      })
    }
  })
}

/** `ws`'s frame parser, as its sockets use it. */
interface WsReceiver {
  on(event: "error", listener: (error: Error) => void): void
  write(chunk: Buffer): void
}
const { Receiver } = createRequire(import.meta.url)("ws") as {
  Receiver: new(options: { isServer: boolean; maxPayload: number }) => WsReceiver
}

/** The error the installed `ws`'s parser raises on `frames` (a Writable: it emits it on a later tick). */
const parserError = (frames: ReadonlyArray<Buffer>): Promise<Error> =>
  new Promise((resolve) => {
    const receiver = new Receiver({ isServer: true, maxPayload: LIMIT })
    receiver.on("error", resolve)
    for (const f of frames) receiver.write(f)
  })

describe("the close code the session reads off ws's error", () => {
  it("WS-17 WS-11 WS-12: the installed ws's errors carry the code it closes with, for every case above", async () => {
    for (const c of cases) {
      const error = await within(parserError(c.frames), 2000, `ws's error on ${c.name}`)
      expect([c.name, sentCloseCode(error)]).toEqual([c.name, c.code])
      // The same code from ws's documented err.code alone, should a ws release drop its status-code symbol.
      expect([c.name, sentCloseCode({ code: (error as { code?: unknown }).code })]).toEqual([c.name, c.code])
    }
  })

  it("WS-17: an error that is not a refused frame (a failed write, no code) gives none: the session keeps the 1006 ws reports", () => {
    expect(sentCloseCode(new Error("write EPIPE"))).toBeUndefined()
    expect(sentCloseCode(Object.assign(new Error("write EPIPE"), { code: "EPIPE" }))).toBeUndefined()
    expect(sentCloseCode(undefined)).toBeUndefined()
  })
})
