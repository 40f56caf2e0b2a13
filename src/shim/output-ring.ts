/**
 * The output ring (spec.md §10.4): what a worker sends the main thread —
 * response chunks and its other messages — as frames in a single-producer,
 * single-consumer ring (ring.ts) instead of `postMessage`s.
 *
 * A worker publishes a frame by advancing `outWritten`, without waiting for
 * the main thread. The main thread takes every frame published since it
 * last looked, in one go (rule CLASSIC-17), then sets `outArmed`; the first
 * frame a worker publishes after that clears it and posts one empty message
 * to wake the main thread. So a busy main thread is woken once for any
 * number of frames. A message per response made the main thread dispatch
 * one event (and deserialize one message) per response.
 *
 * Frame header (ring.ts): `seq`, `flags`, `length`. A chunk's payload is,
 * with {@link HEAD}, the head's length and status (two little-endian
 * 32-bit integers) and its fields as Latin-1 text, `name LF value LF …`
 * (exact: `start_response` took only token names and field values, which
 * hold no LF and no code point above 0xFF, rule CLASSIC-1), then body
 * bytes; a message's is `node:v8`'s serialization of it. A payload larger
 * than a quarter of the ring goes as several frames, all but the last
 * flagged {@link PARTIAL}.
 *
 * A body of {@link PORT_BODY} bytes or more does not go through the ring:
 * the worker publishes a chunk frame flagged {@link BY_PORT} whose payload
 * (after the head) is the body's 4-byte id, then posts the body on its
 * port (`{ id, body }`); that message is also the frame's wake. The main
 * thread takes the frame only once the body arrived, so chunks stay in
 * order. Through the ring, a large body
 * was copied twice more (into the shared memory with V8's relaxed atomic
 * copy, and out into a fresh buffer on the main thread): a classic app
 * streaming 64 KiB writes cost 15–30 % more CPU than by message (two A/B
 * runs).
 */
import { deserialize, serialize } from "node:v8"
import { HEADER, Ring } from "./ring.ts"
import type { ChunkMessage, FromWorker, WorkerMessage } from "./wire.ts"
import { Slot } from "./wire.ts"

/** Flag: the frame holds a message (`node:v8` serialization), not a chunk. */
export const MESSAGE = 1
/** Flag: the chunk ends the response. */
export const END = 2
/** Flag: the chunk carries the head. */
export const HEAD = 4
/** Flag: more frames of this payload follow. */
export const PARTIAL = 8
/** Flag: the chunk's body came on the worker's port; the payload ends with its id. */
export const BY_PORT = 16

/** Bodies of this many bytes or more go by port (see above). */
export const PORT_BODY = 16 * 1024

/** A body posted on a worker's port (the ring holds its place). */
export interface PortBody {
  readonly id: number
  readonly body: Uint8Array
}

const EMPTY = new Uint8Array(0)

/** The output ring's size for a pool's `outputBuffer` (bytes): at least 64 KiB, a power of two. */
export const outputRingSize = (outputBuffer: number): number => {
  let size = 64 * 1024
  while (size < outputBuffer) size *= 2
  return size
}

/**
 * The worker's end: writes frames, waiting (with `wait`) while the ring has
 * no room. `wait(seen)` sleeps until the control block's `signal` moves
 * past `seen`.
 */
export class OutputWriter {
  private readonly ring: Ring
  private readonly control: Int32Array
  private readonly wait: (seen: number) => void
  private readonly post: (message: 0 | PortBody) => void
  private pos = 0
  private lastBody = 0

  /** `post` posts the main thread a message on the worker's port: 0 to wake it, or a body. */
  constructor(buffer: SharedArrayBuffer, control: Int32Array, wait: (seen: number) => void, post: (message: 0 | PortBody) => void) {
    this.ring = new Ring(buffer)
    this.control = control
    this.wait = wait
    this.post = post
  }

  /**
   * Publishes one chunk of request `seq`'s response; `head` is `[status,
   * headers]` for the first chunk. A body of {@link PORT_BODY} bytes or
   * more is posted first and the frame holds its place.
   */
  chunk(seq: number, head: readonly [number, ReadonlyArray<readonly [string, string]>] | undefined, body: Uint8Array | undefined, end: boolean): void {
    const flags = (end ? END : 0) | (head === undefined ? 0 : HEAD)
    let prefix: Uint8Array = EMPTY
    if (head !== undefined) {
      let text = ""
      for (const [name, value] of head[1]) text += text === "" ? `${name}\n${value}` : `\n${name}\n${value}`
      const bytes = Buffer.allocUnsafe(8 + text.length)
      bytes.writeUInt32LE(text.length, 0)
      bytes.writeUInt32LE(head[0], 4)
      bytes.write(text, 8, "latin1")
      prefix = bytes
    }
    if (body === undefined || body.length < PORT_BODY) return this.frames(seq, flags, prefix, body ?? EMPTY, true)
    this.lastBody = (this.lastBody + 1) | 0
    const id = Buffer.allocUnsafe(4)
    id.writeInt32LE(this.lastBody, 0)
    this.frames(seq, flags | BY_PORT, prefix, id, false)
    this.post({ id: this.lastBody, body })
  }

  /** Publishes one message (anything but a chunk). */
  message(message: FromWorker): void {
    this.frames(0, MESSAGE, serialize(message), EMPTY, true)
  }

  /**
   * Writes `a` then `b` as one payload: one frame, or several when it is
   * larger than a quarter of the ring. Without `wake`, a message the caller
   * posts next wakes the main thread instead.
   */
  private frames(seq: number, flags: number, a: Uint8Array, b: Uint8Array, wake: boolean): void {
    const total = a.length + b.length
    const most = this.ring.size / 4
    if (total <= most) return this.frame(seq, flags, a, b, wake)
    const whole = Buffer.concat([a, b], total)
    for (let at = 0; at < total; at += most) {
      const end = Math.min(total, at + most)
      // Only the last frame leaves its wake to the caller's message: one that waits for room must have woken the main thread.
      this.frame(seq, end < total ? flags | PARTIAL : flags, whole.subarray(at, end), EMPTY, wake || end < total)
    }
  }

  private frame(seq: number, flags: number, a: Uint8Array, b: Uint8Array, wake: boolean): void {
    const length = a.length + b.length
    this.room(HEADER + length)
    if (a.length > 0) this.ring.put(this.pos + HEADER, a)
    if (b.length > 0) this.ring.put(this.pos + HEADER + a.length, b)
    this.ring.putHeader(this.pos, seq, flags, length)
    this.pos = (this.pos + HEADER + length) | 0
    Atomics.store(this.control, Slot.outWritten, this.pos)
    // The main thread took everything before this frame and waits to be told: tell it once.
    if (Atomics.load(this.control, Slot.outArmed) === 1 && Atomics.compareExchange(this.control, Slot.outArmed, 1, 0) === 1 && wake) {
      this.post(0)
    }
  }

  /** Waits until the ring has `bytes` free (the main thread takes frames as soon as it runs). */
  private room(bytes: number): void {
    const free = (): number => this.ring.size - ((this.pos - Atomics.load(this.control, Slot.outRead)) | 0)
    if (free() >= bytes) return
    Atomics.store(this.control, Slot.outWaiting, 1)
    try {
      while (true) {
        const seen = Atomics.load(this.control, Slot.signal)
        if (free() >= bytes) return
        this.wait(seen)
      }
    } finally {
      Atomics.store(this.control, Slot.outWaiting, 0)
    }
  }
}

/**
 * The main thread's end: `drain` (on each wake message from the worker)
 * delivers every frame published since the last drain, in order, as the
 * message it encodes, then arms `outArmed` for the next. `wake` is called
 * when a worker waits for room and the drain made some.
 */
export class OutputReader {
  private readonly ring: Ring
  private readonly control: Int32Array
  private readonly deliver: (message: WorkerMessage) => void
  private readonly wake: () => void
  private pos = 0
  private parts: Array<Buffer> = []
  private closed = false
  private readonly drainBound = (): void => this.drain()

  constructor(buffer: SharedArrayBuffer, control: Int32Array, deliver: (message: WorkerMessage) => void, wake: () => void) {
    this.ring = new Ring(buffer)
    this.control = control
    this.deliver = deliver
    this.wake = wake
  }

  /** Bodies posted on the port whose frames were not taken yet, by id. */
  private readonly bodies = new Map<number, Uint8Array>()

  /** Delivers what is published now and stops (the worker is gone). */
  close(): void {
    if (this.closed) return
    this.take()
    this.closed = true
    this.bodies.clear()
  }

  /** A message on the worker's port: a wake (0), or a body whose frame follows (drained too: the frame may be waiting for it). */
  received(message: 0 | PortBody): void {
    if (message !== 0) this.bodies.set(message.id, message.body)
    this.drain()
  }

  /** Delivers what is published, then arms the worker's wake message (call it on each, and once at the start). */
  drain(): void {
    if (this.closed) return
    let armed = false
    try {
      for (let round = 0; round < 16 && !armed; round++) {
        const waitsForBody = !this.take()
        Atomics.store(this.control, Slot.outArmed, 1)
        // Stopped at a frame whose body is still on its way: its arrival drains again.
        // Published meanwhile: take it too, unless the worker saw the arm and is posting a wake.
        armed = waitsForBody || Atomics.load(this.control, Slot.outWritten) === this.pos ||
          Atomics.compareExchange(this.control, Slot.outArmed, 1, 0) !== 1
      }
    } finally {
      // A worker that publishes as fast as this takes, or a delivery that threw: look again after I/O.
      if (!armed) setImmediate(this.drainBound)
    }
  }

  /** Takes the frames published, in order; false when it stopped at one whose body has not arrived. */
  private take(): boolean {
    const end = Atomics.load(this.control, Slot.outWritten)
    if (this.pos === end) return true
    let whole = true
    while (this.pos !== end) {
      const { seq, flags, length } = this.ring.getHeader(this.pos)
      const payload = Buffer.allocUnsafe(length)
      this.ring.get(this.pos + HEADER, payload, 0, length)
      let body: Uint8Array | undefined
      if ((flags & (BY_PORT | PARTIAL)) === BY_PORT) {
        // The id is the payload's last 4 bytes (split across frames when a large head came before).
        const all = payload.length >= 4 || this.parts.length === 0 ? payload : Buffer.concat([...this.parts, payload])
        const id = all.readInt32LE(all.length - 4)
        body = this.bodies.get(id)
        if (body === undefined) {
          whole = false
          break
        }
        this.bodies.delete(id)
      }
      this.pos = (this.pos + HEADER + length) | 0
      Atomics.store(this.control, Slot.outRead, this.pos)
      if ((flags & PARTIAL) !== 0) {
        this.parts.push(payload)
        continue
      }
      this.deliver(decode(seq, flags, this.whole(payload), body))
    }
    if (Atomics.load(this.control, Slot.outWaiting) === 1) this.wake()
    return whole
  }

  private whole(last: Buffer): Buffer {
    if (this.parts.length === 0) return last
    const parts = this.parts
    parts.push(last)
    this.parts = []
    return Buffer.concat(parts)
  }
}

/** The message a frame holds; `byPort` is the body that came on the port for a {@link BY_PORT} chunk. */
const decode = (seq: number, flags: number, payload: Buffer, byPort: Uint8Array | undefined): WorkerMessage => {
  if ((flags & MESSAGE) !== 0) return deserialize(payload) as FromWorker
  let at = 0
  let status: number | undefined
  let headers: Array<readonly [string, string]> | undefined
  if ((flags & HEAD) !== 0) {
    const length = payload.readUInt32LE(0)
    status = payload.readUInt32LE(4)
    headers = []
    if (length > 0) {
      const parts = payload.toString("latin1", 8, 8 + length).split("\n")
      for (let i = 0; i < parts.length; i += 2) headers.push([parts[i]!, parts[i + 1]!])
    }
    at = 8 + length
  }
  const body = byPort ?? (at < payload.length ? payload.subarray(at) : undefined)
  return [seq, (flags & END) !== 0, body, status, headers] satisfies ChunkMessage
}
