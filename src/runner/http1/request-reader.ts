/**
 * A connection's requests read from its bytes, without I/O (RFC 9112): the
 * fourth piece of the runner's own HTTP/1.1 codec, the one the socket
 * adapter drives. Bytes go in as the socket delivers them; out come the
 * events of one request at a time — its head, its body data (views of the
 * input, never copied), its end with trailers — or the error to answer.
 * Pipelined requests wait in the buffer until the server says the current
 * exchange is over (`next`), so responses go out in order (RFC 9112 §9.3.2).
 *
 * A head is bounded in bytes however it arrives (trickled, or behind empty
 * lines), and each octet is looked at a bounded number of times.
 *
 * @since 0.7.0
 */
import { ChunkedDecoder, ChunkedError } from "./chunked.ts"
import { headEnd, HeadError, leadingEmptyLines, parseHead, type RequestHead } from "./head.ts"

/**
 * What the reader found: a request `head`; body `data` (a view of what was
 * received); the body's `end`, with its trailer fields `[name, value, …]`;
 * the `error` that ends the connection (answer its status, then close); or
 * a head the caller `declined` (its `accept` said no): the reader stops
 * there, and `unread` gives that head's bytes and all after it.
 *
 * @since 0.7.0
 * @category models
 */
export type RequestEvent =
  | { readonly type: "head"; readonly head: RequestHead }
  | { readonly type: "declined"; readonly head: RequestHead }
  | { readonly type: "data"; readonly bytes: Uint8Array }
  | { readonly type: "end"; readonly trailers: ReadonlyArray<string> }
  | { readonly type: "error"; readonly error: HeadError | ChunkedError }

/**
 * Where the reader is: waiting for a head (`head`), in a request's body
 * (`body`), past a request's end until `next` (`exchange`), after an
 * upgrade or CONNECT head, whose bytes are no longer HTTP/1.1 (`handedOff`),
 * or after an error (`failed`).
 *
 * @since 0.7.0
 * @category models
 */
export type ReaderState = "head" | "body" | "exchange" | "handedOff" | "failed"

const NO_TRAILERS: ReadonlyArray<string> = Object.freeze([])
const EMPTY = new Uint8Array(0)

/**
 * Reads one connection's requests. `maxHeadSize`: bytes a head (and a
 * trailer section) may take, empty lines before it included (RFC 9112
 * §2.2 lets a server skip them, not take them without bound).
 *
 * @since 0.7.0
 * @category codec
 */
export class RequestReader {
  state: ReaderState = "head"
  private readonly maxHeadSize: number
  /** Received bytes not yet taken: a head still arriving, or pipelined requests. */
  private pending: Uint8Array = EMPTY
  /** How far `pending` was searched for the end of a head. */
  private searched = 0
  /** Empty lines skipped before the current head (they count towards its bound). */
  private skipped = 0
  /** Body bytes still due (Content-Length), when not chunked. */
  private left = 0
  private chunked: ChunkedDecoder | undefined = undefined
  /**
   * The last head read, until the next: the first `lastHeadEnd` bytes of
   * `lastHeadIn`, what `unread` gives back. Kept as a buffer and a length,
   * not a view made for each request: a Buffer's `subarray` costs ~200
   * instructions (bench/in-process.ts --instructions), and only a hand-off
   * reads it.
   */
  private lastHeadIn: Uint8Array = EMPTY
  private lastHeadEnd = 0

  private readonly accept: ((head: RequestHead) => boolean) | undefined

  /**
   * `accept`, when given, is asked about each head before its body is
   * read: false stops the reader at that head (a `declined` event), for a
   * caller that serves some requests itself and hands the connection on for
   * the others.
   */
  constructor(maxHeadSize: number, accept?: (head: RequestHead) => boolean) {
    this.maxHeadSize = maxHeadSize
    this.accept = accept
  }

  /** Takes `bytes` from the connection; the events they complete, in order. */
  receive(bytes: Uint8Array): Array<RequestEvent> {
    const out: Array<RequestEvent> = []
    if (this.state === "failed") return out
    if (this.state === "body" && this.pending.length === 0) {
      this.body(bytes, out)
      return out
    }
    if (this.pending.length === 0) this.pending = bytes
    else this.append(bytes)
    this.run(out)
    return out
  }

  /** Where held bytes grow (its first `storeUsed` bytes written), when they span reads. */
  private store: Buffer | undefined = undefined
  private storeUsed = 0

  /**
   * Adds `bytes` after the held ones. In place when they are the tail of
   * the store and it has room, else into a store twice their size: each
   * byte is copied a bounded number of times however the client splits
   * them (a concatenation per read would copy a head trickled one byte at
   * a time ~n²/2 times: 2 GiB for a 64 KiB head). Bytes already handed out
   * (data, a head) are never overwritten: the store only grows at its end.
   */
  private append(bytes: Uint8Array): void {
    const held = this.pending
    const store = this.store
    if (
      store !== undefined && held.buffer === store.buffer &&
      held.byteOffset + held.length === store.byteOffset + this.storeUsed && this.storeUsed + bytes.length <= store.length
    ) {
      store.set(bytes, this.storeUsed)
      this.storeUsed += bytes.length
      this.pending = store.subarray(held.byteOffset - store.byteOffset, this.storeUsed)
      return
    }
    const need = held.length + bytes.length
    const next = Buffer.allocUnsafe(Math.max(4096, need * 2))
    next.set(held, 0)
    next.set(bytes, held.length)
    this.store = next
    this.storeUsed = need
    this.pending = next.subarray(0, need)
  }

  /** The current exchange is over (its response went out whole): read the next request, if it came already. */
  next(): Array<RequestEvent> {
    const out: Array<RequestEvent> = []
    if (this.state !== "exchange") return out
    this.state = "head"
    this.run(out)
    return out
  }

  /**
   * Bytes received and held: a head still arriving (bounded by
   * `maxHeadSize`), or requests pipelined behind the current exchange,
   * which nothing here bounds — the socket adapter stops reading while
   * this is over its limit.
   */
  get buffered(): number {
    return this.pending.length
  }

  /** The connection is in the middle of a request (a head begun, a body not over): its end now cuts the request short. */
  get midRequest(): boolean {
    return this.state === "body" || (this.state === "head" && this.pending.length > 0)
  }

  /**
   * Every byte from the last head on (or, after a head error, from the
   * head that failed): what another HTTP/1.1 implementation needs to serve
   * the connection from that request on. The reader is done with it.
   */
  unread(): Uint8Array {
    const head = this.lastHeadIn.subarray(0, this.lastHeadEnd)
    const rest = this.pending
    this.lastHeadIn = EMPTY
    this.lastHeadEnd = 0
    this.pending = EMPTY
    this.state = "handedOff"
    return head.length === 0 ? rest : rest.length === 0 ? head : Buffer.concat([head, rest])
  }

  /** Bytes received but not taken: after a hand-off, the first bytes of the other protocol. */
  rest(): Uint8Array {
    const rest = this.pending
    this.pending = EMPTY
    this.searched = 0
    return rest
  }

  private run(out: Array<RequestEvent>): void {
    while (this.pending.length > 0) {
      if (this.state === "head") {
        if (!this.head(out)) return
      } else if (this.state === "body") {
        const bytes = this.pending
        this.pending = EMPTY
        this.body(bytes, out)
      } else return
    }
  }

  /** Looks for the next head in `pending`; false when it has not all arrived (or failed). */
  private head(out: Array<RequestEvent>): boolean {
    // Empty lines before a request-line are skipped (RFC 9112 §2.2), even split across reads.
    const skip = leadingEmptyLines(this.pending, 0)
    if (skip > 0) {
      this.skipped += skip
      this.pending = this.pending.subarray(skip)
      this.searched = Math.max(0, this.searched - skip)
    }
    const end = headEnd(this.pending, this.searched)
    if (end < 0) {
      this.searched = this.pending.length
      if (this.skipped + this.pending.length > this.maxHeadSize) this.fail(out, tooLong(this.maxHeadSize))
      return false
    }
    if (this.skipped + end > this.maxHeadSize) {
      this.fail(out, tooLong(this.maxHeadSize))
      return false
    }
    const head = parseHead(this.pending, 0, end)
    if (head instanceof HeadError) {
      this.fail(out, head)
      return false
    }
    this.lastHeadIn = this.pending
    this.lastHeadEnd = end
    // Most reads hold one whole request: then nothing is left, and no view of nothing is made.
    this.pending = end === this.pending.length ? EMPTY : this.pending.subarray(end)
    this.searched = 0
    this.skipped = 0
    if (this.accept !== undefined && !this.accept(head)) {
      this.state = "handedOff"
      out.push({ type: "declined", head })
      return false
    }
    out.push({ type: "head", head })
    // An upgrade or a tunnel: what follows is not HTTP/1.1 (RFC 9110 §7.8, §9.3.6).
    if (head.method === "CONNECT" || (head.upgrade && head.framing.kind === "none")) {
      this.state = "handedOff"
      return false
    }
    switch (head.framing.kind) {
      case "none":
        out.push({ type: "end", trailers: NO_TRAILERS })
        this.state = "exchange"
        return false
      case "length":
        this.left = head.framing.length
        this.state = "body"
        return true
      case "chunked":
        this.chunked = new ChunkedDecoder(this.maxHeadSize)
        this.state = "body"
        return true
    }
  }

  /** Body bytes: data events up to the body's end; what follows it waits in `pending`. */
  private body(bytes: Uint8Array, out: Array<RequestEvent>): void {
    const decoder = this.chunked
    if (decoder === undefined) {
      const take = Math.min(this.left, bytes.length)
      if (take > 0) out.push({ type: "data", bytes: take === bytes.length ? bytes : bytes.subarray(0, take) })
      this.left -= take
      if (this.left > 0) return
      this.finish(out, NO_TRAILERS, bytes.subarray(take))
      return
    }
    const part = decoder.push(bytes)
    if (part instanceof ChunkedError) return this.fail(out, part)
    for (const data of part.data) out.push({ type: "data", bytes: data })
    if (part.done) this.finish(out, part.trailers, bytes.subarray(part.consumed))
  }

  private finish(out: Array<RequestEvent>, trailers: ReadonlyArray<string>, after: Uint8Array): void {
    out.push({ type: "end", trailers })
    this.chunked = undefined
    this.state = "exchange"
    this.pending = after
  }

  /** The connection cannot go on: a head's error keeps its bytes (for `unread`), a body's drops what is left. */
  private fail(out: Array<RequestEvent>, error: HeadError | ChunkedError): void {
    this.state = "failed"
    this.lastHeadIn = EMPTY
    this.lastHeadEnd = 0
    if (error instanceof ChunkedError) this.pending = EMPTY
    this.chunked = undefined
    out.push({ type: "error", error })
  }
}

const tooLong = (max: number): HeadError =>
  new HeadError({ status: 431, rule: "RFC 6585 §5", detail: `a request head past ${max} bytes` })
