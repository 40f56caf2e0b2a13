/**
 * The chunked transfer coding, decoded as it arrives (RFC 9112 §7.1): the
 * second piece of the runner's own HTTP/1.1 codec. Each octet is looked at
 * once, whatever the size of the pieces the connection delivers, and chunk
 * data comes out as views of the input, never copied.
 *
 * Bounded where a client could make the server work or hold memory for
 * bytes that are no body: a chunk-size line (size and extensions) is at most
 * 4 KiB, the extensions of one body at most 16 KiB in all (as node:http
 * since CVE-2024-22019), the trailer section at most the head limit.
 *
 * @since 0.7.0
 */
import * as Data from "effect/Data"
import { parseFieldLines } from "./head.ts"

/**
 * A chunked body the runner refuses, with the status it answers before
 * closing the connection: 400 (malformed framing, RFC 9112 §7.1), 413
 * (extensions past their bound), 431 (a trailer section past the head
 * limit). `rule` names the section broken.
 *
 * @since 0.7.0
 * @category errors
 */
export class ChunkedError extends Data.TaggedError("ChunkedError")<{
  readonly status: 400 | 413 | 431
  readonly rule: string
  readonly detail: string
}> {
  override get message(): string {
    return `${this.status} (${this.rule}): ${this.detail}`
  }
}

/** Bytes of one chunk-size line (size, extensions, CRLF) at most. */
export const MAX_CHUNK_LINE = 4096
/** Bytes of chunk extensions in one body at most. */
export const MAX_CHUNK_EXTENSIONS = 16 * 1024

const CR = 13
const LF = 10
const SP = 32
const HTAB = 9
const SEMICOLON = 59

/** The value of a hex digit, or -1. */
const HEX = new Int8Array(256).fill(-1)
for (let c = 0; c < 10; c++) HEX[48 + c] = c
for (let c = 0; c < 6; c++) {
  HEX[65 + c] = 10 + c
  HEX[97 + c] = 10 + c
}

/** Octets an extension may hold (RFC 9112 §7.1.1: tokens, quoted strings, BWS): no control octet but HTAB. */
const EXT = new Uint8Array(256)
for (let c = 0x20; c <= 0xff; c++) if (c !== 0x7f) EXT[c] = 1
EXT[HTAB] = 1

/** The decoder's states (numbers: a switch on them is a jump table). */
const State = {
  /** Reading chunk-size digits. */
  Size: 0,
  /** After the digits: whitespace, then `;` or CR. */
  AfterSize: 1,
  /** In the extensions, up to CR. */
  Extension: 2,
  /** The LF of the chunk-size line. */
  SizeLf: 3,
  /** Chunk data. */
  Data: 4,
  /** The CR after chunk data. */
  DataCr: 5,
  /** The LF after chunk data. */
  DataLf: 6,
  /** The trailer section, kept until its empty line. */
  Trailers: 7,
  /** The body is over. */
  Done: 8
} as const
type State = (typeof State)[keyof typeof State]

/**
 * What one `push` gave: the chunk data it found (views of the input, in
 * order), how many input octets belong to the body (`consumed`; the rest,
 * if `done`, is the connection's next request), and, once `done`, the
 * trailer fields as `[name, value, …]`.
 *
 * @since 0.7.0
 * @category models
 */
export interface ChunkedPart {
  readonly data: ReadonlyArray<Uint8Array>
  readonly consumed: number
  readonly done: boolean
  readonly trailers: ReadonlyArray<string>
}

const NONE: ReadonlyArray<string> = Object.freeze([])

/**
 * Decodes one chunked body. Feed it what the connection reads, in order,
 * with `push`; it returns the data found and stops at the body's end (or
 * fails with a `ChunkedError`, after which it must not be fed again).
 * `maxTrailerSize` bounds the trailer section (bytes, the head limit).
 *
 * @since 0.7.0
 * @category codec
 */
export class ChunkedDecoder {
  private state: State = State.Size
  /** Data octets of the current chunk still to come. */
  private left = 0
  private digits = 0
  private lineBytes = 0
  private extensionBytes = 0
  private trailer: Array<Uint8Array> = []
  private trailerBytes = 0
  private readonly maxTrailerSize: number

  constructor(maxTrailerSize: number) {
    this.maxTrailerSize = maxTrailerSize
  }

  /** The body ended (the last chunk and its trailer section were read). */
  get done(): boolean {
    return this.state === State.Done
  }

  push(input: Uint8Array): ChunkedPart | ChunkedError {
    const data: Array<Uint8Array> = []
    let i = 0
    const n = input.length
    while (i < n) {
      switch (this.state) {
        case State.Size: {
          const c = input[i]!
          const v = HEX[c]!
          if (v >= 0) {
            // 13 hex digits reach 2^52: more (leading zeros aside) is past any body this server takes.
            if (this.digits > 0 || v > 0) this.digits++
            if (this.digits > 13) return fail(400, "RFC 9112 §7.1", "a chunk size past 2^52")
            this.left = this.left * 16 + v
            if (++this.lineBytes > MAX_CHUNK_LINE) return fail(400, "RFC 9112 §7.1", `a chunk-size line past ${MAX_CHUNK_LINE} bytes`)
            i++
            break
          }
          if (this.lineBytes === 0) return fail(400, "RFC 9112 §7.1", "a chunk without a size")
          this.state = State.AfterSize
          break
        }
        case State.AfterSize: {
          const c = input[i]!
          if (c === SP || c === HTAB) {
            if (++this.lineBytes > MAX_CHUNK_LINE) return fail(400, "RFC 9112 §7.1", `a chunk-size line past ${MAX_CHUNK_LINE} bytes`)
            i++
          } else if (c === SEMICOLON) this.state = State.Extension
          else if (c === CR) {
            this.state = State.SizeLf
            i++
          } else return fail(400, "RFC 9112 §7.1", "a chunk size followed by neither an extension nor CRLF")
          break
        }
        case State.Extension: {
          const c = input[i]!
          if (c === CR) {
            this.state = State.SizeLf
            i++
            break
          }
          if (EXT[c] !== 1) return fail(400, "RFC 9112 §7.1.1", "a control octet in a chunk extension")
          if (++this.lineBytes > MAX_CHUNK_LINE) return fail(400, "RFC 9112 §7.1", `a chunk-size line past ${MAX_CHUNK_LINE} bytes`)
          if (++this.extensionBytes > MAX_CHUNK_EXTENSIONS) {
            return fail(413, "RFC 9112 §7.1.1", `chunk extensions past ${MAX_CHUNK_EXTENSIONS} bytes in one body`)
          }
          i++
          break
        }
        case State.SizeLf: {
          if (input[i] !== LF) return fail(400, "RFC 9112 §7.1", "a chunk-size line not ending in CRLF")
          i++
          this.lineBytes = 0
          this.digits = 0
          this.state = this.left > 0 ? State.Data : State.Trailers
          break
        }
        case State.Data: {
          const take = Math.min(this.left, n - i)
          data.push(input.subarray(i, i + take))
          i += take
          this.left -= take
          if (this.left === 0) this.state = State.DataCr
          break
        }
        case State.DataCr: {
          if (input[i] !== CR) return fail(400, "RFC 9112 §7.1", "chunk data longer than its size")
          i++
          this.state = State.DataLf
          break
        }
        case State.DataLf: {
          if (input[i] !== LF) return fail(400, "RFC 9112 §7.1", "chunk data not followed by CRLF")
          i++
          this.state = State.Size
          break
        }
        case State.Trailers: {
          // Kept until the empty line: `CRLF` alone (no trailers) or one that ends the field lines.
          const end = this.trailerEnd(input, i)
          const upto = end < 0 ? n : end
          const piece = input.subarray(i, upto)
          this.trailerBytes += piece.length
          if (this.trailerBytes > this.maxTrailerSize) {
            return fail(431, "RFC 9112 §7.1.2", `a trailer section past ${this.maxTrailerSize} bytes`)
          }
          this.trailer.push(piece)
          i = upto
          if (end < 0) break
          const trailers = this.finishTrailers()
          if (trailers instanceof ChunkedError) return trailers
          this.state = State.Done
          return { data, consumed: i, done: true, trailers }
        }
        case State.Done:
          return { data, consumed: i, done: true, trailers: NONE }
      }
    }
    return { data, consumed: i, done: false, trailers: NONE }
  }

  /**
   * Where the trailer section ends in `input` from `at` (just past its empty
   * line), or -1: looks at each octet once, with the two or three octets
   * before it from earlier pieces.
   */
  private trailerEnd(input: Uint8Array, at: number): number {
    for (let i = at; i < input.length; i++) {
      if (input[i] !== LF) continue
      const seen = this.trailerBytes + (i - at) // octets of the section before this LF
      // The section is empty (`CRLF` right after the last chunk) or ends with CRLF CRLF.
      if (this.octetBack(input, at, i, 1) !== CR) continue
      if (seen === 1) return i + 1
      if (seen >= 3 && this.octetBack(input, at, i, 2) === LF && this.octetBack(input, at, i, 3) === CR) return i + 1
    }
    return -1
  }

  /** The octet `k` places before index `i` of `input`, reaching into the pieces kept before `at`. */
  private octetBack(input: Uint8Array, at: number, i: number, k: number): number | undefined {
    if (i - k >= at) return input[i - k]
    let need = k - (i - at)
    for (let p = this.trailer.length - 1; p >= 0; p--) {
      const piece = this.trailer[p]!
      if (need <= piece.length) return piece[piece.length - need]
      need -= piece.length
    }
    return undefined
  }

  private finishTrailers(): ReadonlyArray<string> | ChunkedError {
    const section = this.trailer.length === 1 ? this.trailer[0]! : Buffer.concat(this.trailer)
    this.trailer = []
    if (section.length === 2) return NONE
    const out: Array<string> = []
    const error = parseFieldLines(section, 0, section.length, out)
    if (error !== undefined) return fail(400, error.rule, `trailer section: ${error.detail}`)
    return out
  }
}

const fail = (status: 400 | 413 | 431, rule: string, detail: string): ChunkedError => new ChunkedError({ status, rule, detail })
