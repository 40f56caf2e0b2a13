/**
 * Test support: a frame-level HTTP/2 client over a plain socket that sends
 * what node:http2 and python-h2 clients will not, e.g. more concurrent
 * streams than the server's SETTINGS_MAX_CONCURRENT_STREAMS. Header blocks
 * are HPACK literals without indexing (RFC 7541 §6.2.2), no Huffman.
 */
import * as net from "node:net"
import { ErrorCode } from "../../src/protocol/fields.ts"

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1")

/** RFC 9113 §7 error codes: the runner's own (`ErrorCode`) and those node:http2 sends for a peer's frame errors. */
export const H2Error = { ...ErrorCode, FLOW_CONTROL_ERROR: 3, FRAME_SIZE_ERROR: 6, COMPRESSION_ERROR: 9 } as const

export const FrameType = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7, WINDOW_UPDATE: 8, CONTINUATION: 9 } as const
export const Flag = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4 } as const

/** One frame as received. */
export interface Frame {
  readonly type: number
  readonly flags: number
  readonly stream: number
  readonly payload: Buffer
  /** ms since the connection opened */
  readonly t: number
}

export const frame = (type: number, flags: number, stream: number, payload: Uint8Array = Buffer.alloc(0)): Buffer => {
  const head = Buffer.alloc(9)
  head.writeUIntBE(payload.length, 0, 3)
  head[3] = type
  head[4] = flags
  head.writeUInt32BE(stream & 0x7fffffff, 5)
  return Buffer.concat([head, payload])
}

/** RFC 7541 §5.1 integer with an `n`-bit prefix, first byte OR'ed with `mask`. */
const hpackInt = (value: number, n: number, mask: number): Array<number> => {
  const max = (1 << n) - 1
  if (value < max) return [mask | value]
  const out = [mask | max]
  value -= max
  while (value >= 128) {
    out.push((value % 128) + 128)
    value = Math.floor(value / 128)
  }
  out.push(value)
  return out
}

/** A header block of literal fields without indexing, new names, no Huffman. */
export const headerBlock = (fields: ReadonlyArray<readonly [string, string]>): Buffer => {
  const parts: Array<Buffer> = []
  for (const [name, value] of fields) {
    const n = Buffer.from(name, "latin1")
    const v = Buffer.from(value, "latin1")
    parts.push(Buffer.from([0x00, ...hpackInt(n.length, 7, 0)]), n, Buffer.from(hpackInt(v.length, 7, 0)), v)
  }
  return Buffer.concat(parts)
}

/** A literal field with incremental indexing, new name, no Huffman (RFC 7541 §6.2.1): it enters the peer's dynamic table. */
export const indexedLiteral = (name: string, value: string): Buffer => {
  const n = Buffer.from(name, "latin1")
  const v = Buffer.from(value, "latin1")
  return Buffer.concat([Buffer.from([0x40, ...hpackInt(n.length, 7, 0)]), n, Buffer.from(hpackInt(v.length, 7, 0)), v])
}

/** An indexed field (RFC 7541 §6.1): one or two bytes that stand for a whole table entry (62 = the newest dynamic one). */
export const indexedField = (index: number): Buffer => Buffer.from(hpackInt(index, 7, 0x80))

/**
 * A header block as HEADERS and as many CONTINUATION frames as it takes
 * (`maxFrame` bytes of block each, SETTINGS_MAX_FRAME_SIZE's default),
 * END_HEADERS on the last, END_STREAM on the HEADERS when `endStream`.
 */
export const headerFrames = (stream: number, block: Buffer, endStream = true, maxFrame = 16384): Buffer => {
  const frames: Array<Buffer> = []
  for (let at = 0; at === 0 || at < block.length; at += maxFrame) {
    const last = at + maxFrame >= block.length
    const type = at === 0 ? FrameType.HEADERS : FrameType.CONTINUATION
    const flags = (last ? Flag.END_HEADERS : 0) | (at === 0 && endStream ? Flag.END_STREAM : 0)
    frames.push(frame(type, flags, stream, block.subarray(at, at + maxFrame)))
  }
  return Buffer.concat(frames)
}

/** The pseudo-header fields of a GET of `path` (for `headerBlock`). */
export const requestPseudo = (port: number, path: string): Array<readonly [string, string]> => [
  [":method", "GET"],
  [":scheme", "http"],
  [":authority", `127.0.0.1:${port}`],
  [":path", path]
]

/** HEADERS (END_HEADERS, END_STREAM unless `endStream` is false) for a request. */
export const requestHeaders = (
  stream: number,
  port: number,
  path: string,
  extra: ReadonlyArray<readonly [string, string]> = [],
  endStream = true
): Buffer =>
  frame(
    FrameType.HEADERS,
    Flag.END_HEADERS | (endStream ? Flag.END_STREAM : 0),
    stream,
    headerBlock([[":method", "GET"], [":scheme", "http"], [":authority", `127.0.0.1:${port}`], [":path", path], ...extra])
  )

export interface RawH2 {
  readonly socket: net.Socket
  readonly frames: Array<Frame>
  readonly send: (bytes: Uint8Array) => void
  /** Resolves when `pred` holds for the frames seen so far, or the socket closed; false on timeout. */
  readonly until: (pred: (frames: ReadonlyArray<Frame>) => boolean, ms: number) => Promise<boolean>
  readonly closed: () => boolean
  readonly destroy: () => void
  /** The server's SETTINGS as id → value. */
  readonly settings: Map<number, number>
}

/**
 * Connects, sends the preface, an empty SETTINGS and the `initial` frames (in
 * one write, so the server reads them before this client's SETTINGS ACK),
 * and resolves once the
 * server's SETTINGS arrived and were ACKed (with `ackSettings` false: arrived,
 * never ACKed, as a hostile client may do). Answers PINGs; grants WINDOW_UPDATE
 * for every DATA frame received (so responses flow).
 */
export const rawH2 = (port: number, initial: ReadonlyArray<Uint8Array> = [], ackSettings = true): Promise<RawH2> =>
  new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1")
    const t0 = Date.now()
    const frames: Array<Frame> = []
    const settings = new Map<number, number>()
    const listeners = new Set<() => void>()
    let buf = Buffer.alloc(0)
    let closed = false
    let ready = false
    const notify = (): void => {
      for (const l of listeners) l()
    }
    socket.on("error", () => {})
    socket.on("close", () => {
      closed = true
      if (!ready) reject(new Error("connection closed before the server's SETTINGS"))
      notify()
    })
    socket.on("connect", () => socket.write(Buffer.concat([PREFACE, frame(FrameType.SETTINGS, 0, 0), ...initial])))
    socket.on("data", (d: Buffer) => {
      buf = Buffer.concat([buf, d])
      while (buf.length >= 9) {
        const length = buf.readUIntBE(0, 3)
        if (buf.length < 9 + length) break
        const f: Frame = { type: buf[3]!, flags: buf[4]!, stream: buf.readUInt32BE(5) & 0x7fffffff, payload: buf.subarray(9, 9 + length), t: Date.now() - t0 }
        buf = buf.subarray(9 + length)
        frames.push(f)
        if (f.type === FrameType.SETTINGS && (f.flags & Flag.ACK) === 0) {
          for (let i = 0; i + 6 <= f.payload.length; i += 6) settings.set(f.payload.readUInt16BE(i), f.payload.readUInt32BE(i + 2))
          if (ackSettings) socket.write(frame(FrameType.SETTINGS, Flag.ACK, 0))
          if (!ready) {
            ready = true
            resolve(api)
          }
        } else if (f.type === FrameType.PING && (f.flags & Flag.ACK) === 0) {
          socket.write(frame(FrameType.PING, Flag.ACK, 0, f.payload))
        } else if (f.type === FrameType.DATA && f.payload.length > 0) {
          const inc = Buffer.alloc(4)
          inc.writeUInt32BE(f.payload.length)
          socket.write(frame(FrameType.WINDOW_UPDATE, 0, 0, inc))
        }
      }
      notify()
    })
    const api: RawH2 = {
      socket,
      frames,
      settings,
      send: (bytes) => void socket.write(bytes),
      closed: () => closed,
      destroy: () => void socket.destroy(),
      until: (pred, ms) =>
        new Promise((done) => {
          const check = (): boolean => {
            if (!pred(frames) && !closed) return false
            clearTimeout(timer)
            listeners.delete(check)
            done(pred(frames))
            return true
          }
          const timer = setTimeout(() => {
            listeners.delete(check)
            done(pred(frames))
          }, ms)
          listeners.add(check)
          check()
        })
    }
  })

/** `rawH2` for tests that `defer` their cleanup (useServers): the client is destroyed when the test ends. */
export const deferredRawH2 = (defer: (cleanup: () => void) => void) =>
async (port: number, initial: ReadonlyArray<Uint8Array> = [], ackSettings = true): Promise<RawH2> => {
  const c = await rawH2(port, initial, ackSettings)
  defer(() => c.destroy())
  return c
}

/** The RST_STREAM code `stream` got, if any. */
export const rstCode = (frames: ReadonlyArray<Frame>, stream: number): number | undefined => {
  const f = frames.find((x) => x.type === FrameType.RST_STREAM && x.stream === stream)
  return f === undefined ? undefined : f.payload.readUInt32BE(0)
}

/** The GOAWAY the server sent, if any. */
export const goaway = (frames: ReadonlyArray<Frame>): { lastStreamId: number; code: number } | undefined => {
  const f = frames.find((x) => x.type === FrameType.GOAWAY)
  return f === undefined ? undefined : { lastStreamId: f.payload.readUInt32BE(0) & 0x7fffffff, code: f.payload.readUInt32BE(4) }
}

/** `stream` ended normally: a HEADERS or DATA frame with END_STREAM. */
export const ended = (frames: ReadonlyArray<Frame>, stream: number): boolean =>
  frames.some((f) => f.stream === stream && (f.type === FrameType.HEADERS || f.type === FrameType.DATA) && (f.flags & Flag.END_STREAM) !== 0)

/**
 * The `:status` of `stream`'s response head, when node:http2 encoded it as a
 * static-table index (RFC 7541 Appendix A: 8 = 200, 9 = 204, 10 = 206, 11 =
 * 304, 12 = 400, 13 = 404, 14 = 500), else undefined.
 */
export const staticStatus = (frames: ReadonlyArray<Frame>, stream: number): number | undefined => {
  const f = frames.find((x) => x.type === FrameType.HEADERS && x.stream === stream)
  if (f === undefined || f.payload.length === 0) return undefined
  const table: Record<number, number> = { 0x88: 200, 0x89: 204, 0x8a: 206, 0x8b: 304, 0x8c: 400, 0x8d: 404, 0x8e: 500 }
  return table[f.payload[0]!]
}

/**
 * The `:status` of `stream`'s response head when it is the head's first
 * field: a static-table index (see `staticStatus`), or a literal with the
 * static name `:status` (index 8) and a value without Huffman coding — how
 * nghttp2 sends a status outside the static table, such as 431 (RFC 7541
 * §6.2; a three-digit value is no shorter in Huffman). Else undefined.
 */
export const responseStatus = (frames: ReadonlyArray<Frame>, stream: number): number | undefined => {
  const known = staticStatus(frames, stream)
  if (known !== undefined) return known
  const f = frames.find((x) => x.type === FrameType.HEADERS && x.stream === stream)
  if (f === undefined || f.payload.length < 5) return undefined
  const p = f.payload
  // 0x48: with incremental indexing, name 8; 0x08 / 0x18: without indexing / never indexed, name 8.
  if ((p[0] !== 0x48 && p[0] !== 0x08 && p[0] !== 0x18) || p[1] !== 3) return undefined
  return Number(p.subarray(2, 5).toString("latin1"))
}
