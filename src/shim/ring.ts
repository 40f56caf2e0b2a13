/**
 * The request-body ring (spec.md §10.4): a single-producer,
 * single-consumer byte ring in a `SharedArrayBuffer`. The main thread
 * writes frames (a 12-byte header `seq`, `flags`, `length`, then the
 * payload); the worker reads them. Positions are byte counters that wrap at
 * 2^32; the ring's size is a power of two, so a counter masks to an offset.
 * No allocation per chunk on either side: the only copies are into the ring
 * and out of it into what `egi.input` returns.
 */

/** Frame header size, bytes. */
export const HEADER = 12

/** Flag: more body follows this frame. */
export const MORE = 1
/** Flag: the client went away; the body ends here, unfinished. */
export const DISCONNECTED = 2

/** The smallest power of two ≥ `bytes` (and ≥ 4 KiB): a ring size. */
export const ringSize = (bytes: number): number => {
  let size = 4096
  while (size < bytes) size *= 2
  return size
}

/** A frame header, as read. */
export interface FrameHeader {
  readonly seq: number
  readonly flags: number
  readonly length: number
}

/** Byte-level access to one ring buffer, with wrap-around. */
export class Ring {
  readonly size: number
  private readonly bytes: Uint8Array
  private readonly scratch = new Uint8Array(HEADER)
  private readonly view = new DataView(this.scratch.buffer)

  constructor(buffer: SharedArrayBuffer) {
    this.bytes = new Uint8Array(buffer)
    this.size = buffer.byteLength
  }

  /** Copies `src` into the ring at counter `at`. */
  put(at: number, src: Uint8Array): void {
    const p = at & (this.size - 1)
    const first = Math.min(src.length, this.size - p)
    this.bytes.set(first === src.length ? src : src.subarray(0, first), p)
    if (first < src.length) this.bytes.set(src.subarray(first), 0)
  }

  /** Copies `n` bytes at counter `at` into `dst` at `offset`. */
  get(at: number, dst: Uint8Array, offset: number, n: number): void {
    const p = at & (this.size - 1)
    const first = Math.min(n, this.size - p)
    dst.set(this.bytes.subarray(p, p + first), offset)
    if (first < n) dst.set(this.bytes.subarray(0, n - first), offset + first)
  }

  putHeader(at: number, seq: number, flags: number, length: number): void {
    this.view.setInt32(0, seq, true)
    this.view.setInt32(4, flags, true)
    this.view.setInt32(8, length, true)
    this.put(at, this.scratch)
  }

  getHeader(at: number): FrameHeader {
    this.get(at, this.scratch, 0, HEADER)
    return { seq: this.view.getInt32(0, true), flags: this.view.getInt32(4, true), length: this.view.getInt32(8, true) }
  }
}
