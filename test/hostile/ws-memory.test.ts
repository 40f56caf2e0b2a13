/**
 * Hostile and costly WebSocket clients against the real CLI in a child
 * process, measured by the server's RSS (/proc, Linux): a client that floods
 * large messages at an app that never receives (the inbound queue is bounded
 * in bytes, rule WS-20), and the memory each open socket costs with
 * permessage-deflate off (the default, WS-19) and on (`--ws-deflate`).
 */
import * as http2 from "node:http2"
import * as net from "node:net"
import type { Writable } from "node:stream"
import { describe, expect, it } from "vitest"
import WebSocket from "ws"
import { rssOf, rssPeakDuring, sleep } from "../support/async.ts"
import { runCli } from "../support/cli.ts"

const MiB = 1024 * 1024

/** A masked binary frame (RFC 6455 §5.2) with the all-zero masking key: the payload goes out as is, so one Buffer serves every write. */
const zeroMaskedFrame = (payload: Buffer): Buffer => {
  const head = Buffer.alloc(14)
  head[0] = 0x82
  head[1] = 0x80 | 127
  head.writeBigUInt64BE(BigInt(payload.length), 2)
  return Buffer.concat([head, payload])
}

/** An HTTP/1.1 WebSocket handshake on a raw socket; resolves once the 101 is in. */
const rawUpgrade = (port: number, path: string): Promise<net.Socket> =>
  new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1", () =>
      socket.write(
        `GET ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: Upgrade\r\nupgrade: websocket\r\n` +
          `sec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`
      ))
    socket.once("data", (head: Buffer) =>
      head.toString("latin1").startsWith("HTTP/1.1 101 ") ? resolve(socket) : reject(new Error(head.toString("latin1"))))
    socket.once("error", reject)
  })

/** An RFC 8441 extended CONNECT on a new h2c connection; resolves with the stream once the 200 is in (node's client keeps to the stream window). */
const h2Upgrade = async (port: number, path: string): Promise<{ readonly stream: http2.ClientHttp2Stream; readonly session: http2.ClientHttp2Session }> => {
  const session = http2.connect(`http://127.0.0.1:${port}`)
  session.on("error", () => {})
  await new Promise((resolve) => session.once("remoteSettings", resolve))
  const stream = session.request({ ":method": "CONNECT", ":protocol": "websocket", ":path": path, ":scheme": "http", ":authority": `127.0.0.1:${port}`, "sec-websocket-version": "13" })
  stream.on("error", () => {})
  const status = await new Promise((resolve) => stream.once("response", (h) => resolve(h[":status"])))
  if (status !== 200) throw new Error(`extended CONNECT answered ${status}`)
  return { stream, session }
}

/** The two transports as a writable the flood goes into, and how to tear it down. */
const transports = [
  { name: "HTTP/1.1 Upgrade", open: async (port: number): Promise<{ readonly sink: Writable; readonly close: () => void }> => {
    const socket = await rawUpgrade(port, "/sink")
    socket.on("error", () => {})
    return { sink: socket, close: () => socket.destroy() }
  } },
  { name: "HTTP/2 extended CONNECT", open: async (port: number): Promise<{ readonly sink: Writable; readonly close: () => void }> => {
    const { session, stream } = await h2Upgrade(port, "/sink")
    return { sink: stream, close: () => session.destroy() }
  } }
]

/** Opens `count` WebSockets (the `ws` client offers permessage-deflate), each exchanging one message with the echo app. */
const openEchoing = async (url: string, count: number): Promise<Array<WebSocket>> => {
  const sockets: Array<WebSocket> = []
  for (let i = 0; i < count; i += 20) {
    sockets.push(...await Promise.all(Array.from({ length: Math.min(20, count - i) }, () =>
      new Promise<WebSocket>((resolve, reject) => {
        const ws = new WebSocket(url.replace("http://", "ws://") + "/")
        ws.once("open", () => ws.send("x".repeat(1000)))
        ws.once("message", () => resolve(ws))
        ws.once("error", reject)
      }))))
  }
  return sockets
}

/** The server's RSS growth per socket (bytes) for `count` echoing WebSockets, after a warm-up of 20. */
const perSocket = async (args: ReadonlyArray<string>, count: number): Promise<{ readonly perSocket: number; readonly extensions: string }> => {
  const cli = runCli(["serve", "examples/ws-echo.ts", "--port", "0", "--no-access-log", "--ws-ping-interval", "0", ...args])
  try {
    const { url } = await cli.listening()
    const pid = cli.child.pid!
    const warm = await openEchoing(url, 20)
    await sleep(300)
    const before = rssOf(pid)
    const sockets = await openEchoing(url, count)
    await sleep(300)
    const after = rssOf(pid)
    const extensions = sockets[0]!.extensions
    for (const ws of [...warm, ...sockets]) ws.terminate()
    return { perSocket: (after - before) / count, extensions }
  } finally {
    await cli.dispose()
  }
}

describe.each(transports)("a client flooding an app that never receives ($name; server in a child process)", ({ open }) => {
  it("WS-20: 24 messages of 8 MiB are pushed back: the server's RSS grows by less than 48 MiB (16 queued messages would be 128 MiB)", async () => {
    const cli = runCli(["serve", "test/fixtures/ws-sink.ts", "--port", "0", "--no-access-log"])
    try {
      const { port } = await cli.listening()
      const pid = cli.child.pid!
      const message = zeroMaskedFrame(Buffer.alloc(8 * MiB, 0x61))
      const { sink, close } = await open(port)
      const { baseline, peak } = await rssPeakDuring(pid, async () => {
        for (let i = 0; i < 24; i++) sink.write(message)
        // The kernel's buffers and the server's bound fill; then the client's writes stay queued here.
        await sleep(2000)
      })
      const queuedHere = sink.writableLength
      close()
      console.log(`ws flood: server RSS ${(baseline / MiB).toFixed(0)} MiB before, peak +${((peak - baseline) / MiB).toFixed(1)} MiB; ${(queuedHere / MiB).toFixed(0)} of 192 MiB still unsent by the client`)
      expect(queuedHere).toBeGreaterThan(100 * MiB)
      expect(peak - baseline).toBeLessThan(48 * MiB)
    } finally {
      await cli.dispose()
    }
  }, 20_000)
})

describe("the memory of open WebSockets (server in a child process)", () => {
  it("WS-19: 200 WebSockets that each exchanged a message cost the server under 100 KiB each without permessage-deflate (the default); with --ws-deflate it is negotiated", async () => {
    const off = await perSocket([], 200)
    const on = await perSocket(["--ws-deflate"], 200)
    console.log(`memory per WebSocket (200 sockets, one message each): deflate off ${(off.perSocket / 1024).toFixed(0)} KiB, --ws-deflate ${(on.perSocket / 1024).toFixed(0)} KiB`)
    expect(off.extensions).toBe("")
    expect(on.extensions).toContain("permessage-deflate")
    expect(off.perSocket).toBeLessThan(100 * 1024)
  }, 30_000)
})
