/**
 * Test support: a WebSocket peer that writes its frames by hand (RFC 6455
 * §5), over an HTTP/1.1 Upgrade (node:net) or an RFC 8441 extended CONNECT
 * (node:http2), for what the client libraries will not do: never answer a
 * close frame or a ping, end the transport at a chosen moment, and report
 * how the server ended it (FIN / END_STREAM or a reset).
 */
import { randomBytes } from "node:crypto"
import * as net from "node:net"
import { Flag, frame, FrameType, headerBlock, rawH2 as connectRaw, rstCode, staticStatus } from "./h2raw.ts"

/** Frame opcodes (RFC 6455 §5.2). */
export const Opcode = { TEXT: 0x1, BINARY: 0x2, CLOSE: 0x8, PING: 0x9, PONG: 0xa } as const

/** One frame from the server, with the time (`performance.now()`) it arrived. */
export interface WsFrame {
  readonly fin: boolean
  readonly opcode: number
  readonly payload: Buffer
  readonly at: number
}

const u64 = (n: number): Buffer => {
  const b = Buffer.alloc(8)
  b.writeBigUInt64BE(BigInt(n))
  return b
}

/** A masked client frame (RFC 6455 §5.3), FIN set. */
export const clientFrame = (opcode: number, payload: Uint8Array = Buffer.alloc(0)): Buffer => {
  const len = payload.length
  const head = len < 126
    ? Buffer.from([0x80 | opcode, 0x80 | len])
    : len < 65536
    ? Buffer.from([0x80 | opcode, 0x80 | 126, len >> 8, len & 0xff])
    : Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | 127]), u64(len)])
  const mask = randomBytes(4)
  const body = Buffer.from(payload).map((b, i) => b ^ mask[i % 4]!)
  return Buffer.concat([head, mask, body])
}

/** A close frame's payload: the code, then the UTF-8 reason. */
export const closePayload = (code: number, reason = ""): Buffer => {
  const out = Buffer.alloc(2 + Buffer.byteLength(reason))
  out.writeUInt16BE(code, 0)
  out.write(reason, 2)
  return out
}

/** Splits whole unmasked server frames off the front of `buf`. */
const parseFrames = (buf: Buffer, at: number): { frames: Array<WsFrame>; rest: Buffer } => {
  const frames: Array<WsFrame> = []
  let offset = 0
  while (buf.length - offset >= 2) {
    const b0 = buf[offset]!
    let len = buf[offset + 1]! & 0x7f
    let start = offset + 2
    if (len === 126) {
      if (buf.length < start + 2) break
      len = buf.readUInt16BE(start)
      start += 2
    } else if (len === 127) {
      if (buf.length < start + 8) break
      len = Number(buf.readBigUInt64BE(start))
      start += 8
    }
    if (buf.length < start + len) break
    frames.push({ fin: (b0 & 0x80) !== 0, opcode: b0 & 0x0f, payload: buf.subarray(start, start + len), at })
    offset = start + len
  }
  return { frames, rest: buf.subarray(offset) }
}

/** How the server ended the transport: FIN / END_STREAM (`end`), or a reset (RST_STREAM, ECONNRESET). */
export interface Ended {
  readonly how: "end" | "reset"
  /** `performance.now()` when it happened. */
  readonly at: number
}

/** A hand-driven WebSocket peer whose opening handshake the server accepted. */
export interface RawPeer {
  /** Every frame received so far. */
  readonly frames: Array<WsFrame>
  /** Resolves with the first frame of `opcode` (one already received, or the next). */
  frame(opcode: number): Promise<WsFrame>
  /** Writes bytes (frames from `clientFrame`). */
  write(bytes: Uint8Array): void
  /** Ends the peer's side: FIN on HTTP/1.1, END_STREAM on HTTP/2. */
  end(): void
  /** Settles once the server ended (or reset) its side. */
  readonly ended: Promise<Ended>
  /** The server reset the connection (HTTP/1.1) or the stream (RST_STREAM), at any time so far. */
  wasReset(): boolean
  /** Tears the transport down. */
  destroy(): void
}

/** Frame bookkeeping shared by both transports. */
const framer = () => {
  const frames: Array<WsFrame> = []
  const waiters: Array<{ opcode: number; resolve: (f: WsFrame) => void }> = []
  let pending = Buffer.alloc(0)
  let ended: ((e: Ended) => void) | undefined
  const endedPromise = new Promise<Ended>((resolve) => (ended = resolve))
  return {
    frames,
    ended: endedPromise,
    end: (how: Ended["how"]) => {
      ended?.({ how, at: performance.now() })
      ended = undefined
    },
    data: (chunk: Buffer) => {
      const parsed = parseFrames(Buffer.concat([pending, chunk]), performance.now())
      pending = Buffer.from(parsed.rest)
      for (const f of parsed.frames) {
        frames.push(f)
        for (const w of waiters.filter((w) => w.opcode === f.opcode)) {
          waiters.splice(waiters.indexOf(w), 1)
          w.resolve(f)
        }
      }
    },
    frame: (opcode: number): Promise<WsFrame> =>
      new Promise((resolve) => {
        const seen = frames.find((f) => f.opcode === opcode)
        if (seen !== undefined) return resolve(seen)
        waiters.push({ opcode, resolve })
      })
  }
}

/** Opens a WebSocket on `path` over HTTP/1.1 (no extensions offered); rejects unless the answer is 101. */
export const rawH1 = (port: number, path: string): Promise<RawPeer> =>
  new Promise((resolve, reject) => {
    const f = framer()
    const socket = net.connect(port, "127.0.0.1")
    let head = Buffer.alloc(0)
    let open = false
    socket.on("connect", () =>
      socket.write(
        `GET ${path} HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\nconnection: Upgrade\r\nupgrade: websocket\r\n` +
          `sec-websocket-version: 13\r\nsec-websocket-key: ${randomBytes(16).toString("base64")}\r\n\r\n`
      )
    )
    socket.on("data", (chunk: Buffer) => {
      if (open) return f.data(chunk)
      head = Buffer.concat([head, chunk])
      const end = head.indexOf("\r\n\r\n")
      if (end < 0) return
      if (!head.subarray(0, end).toString("latin1").startsWith("HTTP/1.1 101 ")) {
        socket.destroy()
        return reject(new Error(`handshake refused: ${head.subarray(0, end).toString("latin1")}`))
      }
      open = true
      resolve({
        frames: f.frames,
        frame: f.frame,
        write: (bytes) => void socket.write(bytes),
        end: () => void socket.end(),
        ended: f.ended,
        wasReset: () => reset,
        destroy: () => void socket.destroy()
      })
      f.data(head.subarray(end + 4))
    })
    let reset = false
    socket.on("end", () => f.end("end"))
    socket.on("error", (e) => {
      reset = true
      if (open) f.end("reset")
      else reject(e)
    })
    socket.on("close", () => f.end("reset"))
  })

/**
 * Opens a WebSocket on `path` over HTTP/2 at the frame level (stream 1 of a
 * new h2c connection, test/support/h2raw.ts), so END_STREAM and RST_STREAM
 * are told apart; rejects unless the answer is 200.
 */
export const rawH2 = async (port: number, path: string): Promise<RawPeer> => {
  const conn = await connectRaw(port)
  const f = framer()
  let reset = false
  let next = 0
  const pump = (): void => {
    for (; next < conn.frames.length; next++) {
      const fr = conn.frames[next]!
      if (fr.stream !== 1) continue
      if (fr.type === FrameType.DATA) f.data(fr.payload)
      if (fr.type === FrameType.RST_STREAM) {
        reset = true
        f.end("reset")
      } else if ((fr.flags & Flag.END_STREAM) !== 0) f.end("end")
    }
  }
  conn.socket.on("data", pump)
  conn.socket.on("close", () => f.end("reset"))
  conn.send(frame(
    FrameType.HEADERS,
    Flag.END_HEADERS,
    1,
    headerBlock([
      [":method", "CONNECT"],
      [":protocol", "websocket"],
      [":scheme", "http"],
      [":authority", `127.0.0.1:${port}`],
      [":path", path],
      ["sec-websocket-version", "13"]
    ])
  ))
  await conn.until((frames) => frames.some((x) => x.stream === 1), 3000)
  const status = staticStatus(conn.frames, 1)
  if (status !== 200) {
    conn.destroy()
    throw new Error(`handshake refused: ${status}`)
  }
  pump()
  return {
    frames: f.frames,
    frame: f.frame,
    write: (bytes) => conn.send(frame(FrameType.DATA, 0, 1, bytes)),
    end: () => conn.send(frame(FrameType.DATA, Flag.END_STREAM, 1)),
    ended: f.ended,
    wasReset: () => reset || rstCode(conn.frames, 1) !== undefined,
    destroy: () => conn.destroy()
  }
}
