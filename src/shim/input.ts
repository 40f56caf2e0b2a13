/**
 * `egi.input`: the classic app's blocking view of the request body
 * (spec.md §10.3, PEP 3333 "Input and Error Streams").
 *
 * Runs in a worker thread over a blocking {@link ChunkSource}; pure apart
 * from what the source does.
 *
 * @since 0.3.0
 */

/**
 * Where the bytes come from: `next(max)` blocks until body bytes are there
 * and returns at most `max` of them (never empty), or `null` once the body
 * has ended. It throws `ClientDisconnectedError` when the client went away
 * before the end.
 */
export interface ChunkSource {
  next(max: number): Uint8Array | null
}

/** What a read without a size asks the source for at a time, bytes. */
const BLOCK = 65_536

const EMPTY = new Uint8Array(0)
const LF = 0x0a

const concat = (parts: ReadonlyArray<Uint8Array>, total: number): Uint8Array => {
  if (parts.length === 1) return parts[0]!
  const out = new Uint8Array(total)
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

/**
 * The blocking input stream of one request, `environ["egi.input"]`
 * (spec.md §10.3). Sizes are in bytes. Reads never go past the end of the
 * body (its Content-Length, or END_STREAM): at the end they return an
 * empty array, as often as they are called (`egi.input_terminated` is
 * true). Every read blocks the worker, never the event loop, and throws
 * `ClientDisconnectedError` once the client has gone away.
 *
 * @since 0.3.0
 * @category classic
 */
export class Input implements Iterable<Uint8Array> {
  private chunk: Uint8Array = EMPTY
  private offset = 0
  private ended = false
  private readonly source: ChunkSource

  constructor(source: ChunkSource) {
    this.source = source
  }

  /** Makes sure some unread bytes are buffered (asking for up to `want`); false at the end of the body. */
  private fill(want: number): boolean {
    if (this.offset < this.chunk.length) return true
    if (this.ended) return false
    const next = this.source.next(Number.isFinite(want) ? Math.max(1, want) : BLOCK)
    if (next === null) {
      this.ended = true
      this.chunk = EMPTY
      this.offset = 0
      return false
    }
    this.chunk = next
    this.offset = 0
    return true
  }

  /** Takes up to `n` buffered bytes (`fill()` first). */
  private take(n: number): Uint8Array {
    const end = Math.min(this.chunk.length, this.offset + n)
    const out = this.chunk.subarray(this.offset, end)
    this.offset = end
    return out
  }

  /**
   * `read(size)`: blocks until `size` bytes are there or the body ends, and
   * returns them (fewer only at the end; empty after it). Without `size`, or
   * with a negative one, reads the rest of the body.
   */
  read(size?: number | null): Uint8Array {
    const limit = size === undefined || size === null || size < 0 ? Infinity : Math.floor(size)
    const parts: Array<Uint8Array> = []
    let total = 0
    while (total < limit && this.fill(limit - total)) {
      const part = this.take(limit - total)
      parts.push(part)
      total += part.length
    }
    return total === 0 ? EMPTY : concat(parts, total)
  }

  /**
   * `readline(limit)`: the next line, up to and including its `\n` (0x0A),
   * or at most `limit` bytes, or what is left at the end; empty at the end.
   */
  readline(limit?: number | null): Uint8Array {
    const max = limit === undefined || limit === null || limit < 0 ? Infinity : Math.floor(limit)
    const parts: Array<Uint8Array> = []
    let total = 0
    while (total < max && this.fill(BLOCK)) {
      const lf = this.chunk.indexOf(LF, this.offset)
      const want = lf < 0 ? this.chunk.length - this.offset : lf + 1 - this.offset
      const part = this.take(Math.min(want, max - total))
      parts.push(part)
      total += part.length
      if (lf >= 0 && this.offset === lf + 1) break
    }
    return total === 0 ? EMPTY : concat(parts, total)
  }

  /**
   * `readlines(hint)`: the remaining lines; with a positive `hint`, stops
   * after the line that brings the total to `hint` bytes or more.
   */
  readlines(hint?: number | null): Array<Uint8Array> {
    const lines: Array<Uint8Array> = []
    let total = 0
    for (let line = this.readline(); line.length > 0; line = this.readline()) {
      lines.push(line)
      total += line.length
      if (hint !== undefined && hint !== null && hint > 0 && total >= hint) break
    }
    return lines
  }

  /** Iterates the remaining lines (as `readline()` returns them). */
  *[Symbol.iterator](): Iterator<Uint8Array> {
    for (let line = this.readline(); line.length > 0; line = this.readline()) yield line
  }

  /** The bytes taken from the source that no read has returned yet (for the escape, §10.6). */
  unread(): Uint8Array {
    return this.chunk.subarray(this.offset)
  }
}
