/**
 * A WebSocket app that lags far behind its client loses nothing (rule
 * WS-21): with a small inbound bound (`wsMaxQueuedBytes`, WS-20) the server
 * stops reading, the client is pushed back, and once the app receives every
 * message arrives, whole and in order — over both transports.
 */
import { Effect } from "effect"
import { Agent, WebSocket as UndiciWebSocket } from "undici"
import { describe, expect, it } from "vitest"
import WsWebSocket from "ws"
import type { App } from "../../src/protocol/app.ts"
import { deferred, sleep, within } from "../support/async.ts"
import { useServer } from "../support/server.ts"

const COUNT = 40
const SIZE = 128 * 1024

let release = deferred()

/** `/later`: accepts, waits for `release`, then receives COUNT messages and answers `<count> <bytes> <in order>`. */
const app: App = (scope, receive, send) =>
  Effect.gen(function*() {
    if (scope.type !== "websocket") return
    yield* receive
    yield* send({ type: "websocket.accept" })
    yield* Effect.promise(() => release.promise)
    let bytes = 0
    let ordered = true
    for (let i = 0; i < COUNT; i++) {
      const event = yield* receive
      if (event.type !== "websocket.receive" || event.bytes === undefined) break
      bytes += event.bytes.length
      ordered &&= event.bytes.length === SIZE && new DataView(event.bytes.buffer, event.bytes.byteOffset).getUint32(0) === i && event.bytes[SIZE - 1] === (i & 0xff)
    }
    yield* send({ type: "websocket.send", text: `${COUNT} ${bytes} ${ordered}` })
    yield* receive
  })

const message = (i: number): Uint8Array => {
  const bytes = new Uint8Array(SIZE)
  new DataView(bytes.buffer).setUint32(0, i)
  bytes[SIZE - 1] = i & 0xff
  return bytes
}

const dispatcher = new Agent({ allowH2: true, useH2c: true } as ConstructorParameters<typeof Agent>[0])

interface Peer {
  send(bytes: Uint8Array): void
  close(): void
  readonly open: Promise<void>
  readonly answer: Promise<string>
}

const peerOf = (ws: { send(b: Uint8Array): void; close(): void; binaryType: string; addEventListener: (t: string, l: (e: { data?: unknown }) => void) => void }): Peer => {
  ws.binaryType = "arraybuffer"
  return {
    send: (bytes) => ws.send(bytes),
    close: () => ws.close(),
    open: new Promise((resolve) => ws.addEventListener("open", () => resolve())),
    answer: new Promise((resolve) => ws.addEventListener("message", (e) => resolve(String(e.data))))
  }
}

const transports = [
  { name: "HTTP/1.1 Upgrade", connect: (url: string) => peerOf(new WsWebSocket(url) as never) },
  {
    name: "HTTP/2 extended CONNECT",
    connect: (url: string) => peerOf(new UndiciWebSocket(url, { dispatcher } as never) as never)
  }
]

const server = useServer(app, { wsMaxQueuedBytes: 256 * 1024 })

describe.each(transports)("an app that lags behind its client ($name)", ({ connect }) => {
  it("WS-21: 40 messages of 128 KiB sent while the app does not receive (5 MiB, 20 times the 256 KiB bound) all reach it, whole and in order", async () => {
    release = deferred()
    const peer = connect(server().url.replace("http://", "ws://") + "/later")
    await within(peer.open, 3000, "the handshake")
    for (let i = 0; i < COUNT; i++) peer.send(message(i))
    await sleep(500)
    release.resolve()
    expect(await within(peer.answer, 5000, "the app's answer")).toBe(`${COUNT} ${COUNT * SIZE} true`)
    peer.close()
  })
})
