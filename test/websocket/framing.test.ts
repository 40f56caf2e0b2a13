/**
 * The framing rules of spec.md §11.7, which the Node runner gets from the
 * `ws` library: a frame that breaks RFC 6455 §5 closes the WebSocket with
 * 1002, text or a close reason that is not UTF-8 with 1007 (WS-17), on both
 * transports, with a peer that writes its frames by hand.
 */
import { randomBytes } from "node:crypto"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { App } from "../../src/protocol/app.ts"
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
  }
]

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
  server = await listen(app, { wsPingTimeout: 500 })
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
      it(`WS-17: ${c.name} closes the WebSocket with ${c.code}, and the app's websocket.disconnect ends it`, async () => {
        const path = `/${transport === "HTTP/2" ? "h2" : "h1"}-${i}`
        const peer = await open(server.port, path)
        try {
          for (const f of c.frames) peer.write(f)
          expect(await serverClose(peer)).toBe(c.code)
          await until(() => seen.has(path), `the app's disconnect on ${path}`, 5000)
        } finally {
          peer.destroy()
        }
      })
    }
  })
}

