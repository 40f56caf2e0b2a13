/**
 * An HTTP/1.1 exchange written straight to its socket by the runner's own
 * codec (response-writer.ts), for a request without a body: no node:http
 * request or response object. The connection (connection.ts) makes one per
 * request it serves itself and hands the socket to node:http for the rest.
 *
 * @since 0.7.0
 */
import * as Effect from "effect/Effect"
import type * as net from "node:net"
import type { Headers } from "../../protocol/headers.ts"
import type { HttpScope } from "../../protocol/scope.ts"
import type { BodySource, ResponseSink } from "../exchange-base.ts"
import { CONNECTION_LOST, Exchange, type ExchangeHost, type PeerEnd } from "../exchange.ts"
import { corkForTurn, destroyFlushed } from "../turn-cork.ts"
import { latin1 } from "./head.ts"
import { FramingError, ResponseWriter, type WireParts } from "./response-writer.ts"

const NONE: Headers = []

/** Bodies up to this many bytes go out in one write with their head. */
const SMALL = 1024

const noPromise = Effect.succeed(undefined)

/** The body of a request that has none: ended, never readable (shared: its listeners are not kept). */
const NO_BODY: BodySource = Object.freeze({
  read: () => null,
  readableEnded: true,
  on: () => undefined,
  off: () => undefined
})

/** What the exchange needs of its connection. */
export interface ExchangeOwner {
  /** The response of `ex` is whole on the socket: the connection reads its next request, or closes. */
  responseDone(ex: SocketExchange): void
  /** The response of `ex` is to be the connection's last (`http.goaway`). */
  lastResponse(ex: SocketExchange): void
  /** The `date` field's value now. */
  date(): string
}

/**
 * The body's length on the wire: -1 (chunked) when the app framed the body
 * itself with `transfer-encoding` (HTTP-37: never beside a length), else
 * the runner's `known` length, else the app's own `content-length`, else -1.
 */
const bodyLength = (headers: Headers, known: number): number => {
  let declared = -1
  for (let i = 0; i < headers.length; i++) {
    const h = headers[i]!
    if (h[0] === "transfer-encoding") return -1
    if (h[0] === "content-length") declared = Number(h[1])
  }
  return known >= 0 ? known : declared
}

/**
 * One request without a body and its response, on `socket`. It is its own
 * response sink: `drain` when the socket drains while it is the
 * connection's current exchange, `close` when its response is flushed whole
 * or the socket closes.
 */
export class SocketExchange extends Exchange implements ResponseSink {
  private readonly socket: net.Socket
  private readonly owner: ExchangeOwner
  readonly writer: ResponseWriter
  /** The head, held until the first body bytes or the end (as node:http does). */
  private head: string | undefined = undefined
  /** The last write of the response was flushed to the socket. */
  private flushed = false
  private drainListeners: Array<() => void> | undefined = undefined
  private closeListeners: Array<() => void> | undefined = undefined
  private closed = false

  constructor(scope: HttpScope, host: ExchangeHost, socket: net.Socket, owner: ExchangeOwner, writer: ResponseWriter) {
    super(scope, host, NO_BODY, -1, true)
    this.socket = socket
    this.owner = owner
    this.writer = writer
  }

  // ---- the sink

  on(event: "drain" | "close", listener: () => void): this {
    if (event === "drain") (this.drainListeners ??= []).push(listener)
    else (this.closeListeners ??= []).push(listener)
    return this
  }

  off(event: "drain" | "close", listener: () => void): this {
    const list = event === "drain" ? this.drainListeners : this.closeListeners
    const i = list?.indexOf(listener) ?? -1
    if (i >= 0) list!.splice(i, 1)
    return this
  }

  /** The socket drained (the connection calls it on its current exchange). */
  drained(): void {
    const list = this.drainListeners
    if (list !== undefined) for (const l of list.slice()) l()
  }

  /** The response is flushed whole, or the socket closed: once. */
  over(): void {
    if (this.closed) return
    this.closed = true
    const list = this.closeListeners
    if (list !== undefined) for (const l of list.slice()) l()
  }

  protected get sink(): ResponseSink {
    return this
  }

  // ---- the wire

  private write(parts: WireParts | FramingError, last: boolean): boolean {
    if (parts instanceof FramingError) {
      // The protocol core refuses what would break the framing before it gets here; past it, the connection cannot go on.
      destroyFlushed(this.socket)
      return false
    }
    const head = this.head
    this.head = undefined
    const socket = this.socket
    if (socket.destroyed) return false
    const n = parts.length + (head === undefined ? 0 : 1)
    if (n === 0) {
      if (last) this.finish()
      return true
    }
    const onFlushed = last ? this.flushedBound : undefined
    // While the server is busy, what this turn writes goes out at its end with every other socket's (turn-cork.ts).
    corkForTurn(socket)
    let ok: boolean
    if (n === 2 && head !== undefined && typeof parts[0] !== "string" && parts[0]!.length <= SMALL) {
      // A small body rides in the head's string (latin1 maps each byte to one char and back): one
      // write instead of a corked writev of two. Pinned A/B, HTTP/1.1 hello: see the commit.
      ok = socket.write(head + latin1(parts[0]!, 0, parts[0]!.length), "latin1", onFlushed)
    } else if (n === 1) {
      const only = head ?? parts[0]!
      ok = typeof only === "string" ? socket.write(only, "latin1", onFlushed) : socket.write(only, onFlushed)
    } else {
      // One writev for the head and the body, as node:http does (also when the turn is not corked).
      socket.cork()
      if (head !== undefined) socket.write(head, "latin1", parts.length === 0 ? onFlushed : undefined)
      ok = true
      for (let i = 0; i < parts.length; i++) {
        const p = parts[i]!
        const cb = i === parts.length - 1 ? onFlushed : undefined
        ok = typeof p === "string" ? socket.write(p, "latin1", cb) : socket.write(p, cb)
      }
      socket.uncork()
    }
    if (last) this.owner.responseDone(this)
    return ok
  }

  private readonly flushedBound = this.onFlushed.bind(this)

  /** The last write went out (or failed: then the response is not whole, and `peerEnd` says the connection is lost). */
  private onFlushed(error?: Error | null): void {
    if (error == null) this.flushed = true
    this.over()
  }

  private finish(): void {
    this.flushed = true
    this.owner.responseDone(this)
    this.over()
  }

  protected wireStart(status: number, headers: Headers, endStream: boolean, contentLength: number): void {
    const length = bodyLength(headers, contentLength)
    const parts = this.writer.head(status, headers, length, this.owner.date())
    if (parts instanceof FramingError) return void this.write(parts, false)
    if (!endStream) {
      this.head = parts[0] as string
      return
    }
    this.head = parts[0] as string
    this.write(this.writer.end(NONE), true)
  }

  protected wireTrailers(headers: Headers): void {
    this.write(this.writer.end(headers), true)
  }

  protected trailerFraming(declared: number): boolean {
    // Trailers ride on the chunked coding only (RFC 9112 §7.1.2).
    return this.scope.httpVersion === "1.1" && declared < 0
  }

  protected wirePush(): Effect.Effect<number | undefined> {
    return noPromise
  }

  protected wireEarlyHint(links: ReadonlyArray<string>): void {
    // One link field with the entries comma-joined, as node:http's writeEarlyHints writes it.
    this.write(this.writer.interim(103, [["link", links.join(", ")]]), false)
  }

  protected wireGoaway(): void {
    // Before the head: `connection: close`; either way no request after this one is read, and the
    // connection closes once this response is whole. Once it is over, the connection is the next one's.
    this.owner.lastResponse(this)
  }

  protected wireAbandonBody(): void {}

  protected requestTrailers(): Headers {
    return NONE
  }

  protected override wireFlush(): void {
    if (this.head !== undefined) this.write([], false)
  }

  protected wireWrite(chunk: Uint8Array): boolean {
    return this.write(this.writer.data(chunk), false)
  }

  protected wireQueued(): number {
    return this.socket.writableLength
  }

  protected wireEnd(chunk: Uint8Array): void {
    const data = this.writer.data(chunk)
    if (data instanceof FramingError) return void this.write(data, false)
    const end = this.writer.end(NONE)
    if (end instanceof FramingError) return void this.write(end, false)
    this.write(end.length === 0 ? data : [...data, ...end], true)
  }

  protected wireClosed(): boolean {
    return this.socket.destroyed || this.flushed
  }

  protected wireFinished(): boolean {
    return this.flushed
  }

  reject(status: number, code: number): void {
    if (!this.respondError(status, [["connection", "close"]])) this.wireReset(code)
  }

  wireReset(_code: number): void {
    // HTTP/1.1 has no stream reset: closing the connection is the only way to tell the client the response is incomplete.
    // What this turn wrote goes first: a pipelined response before this one is whole, and this one's head and first bytes show it was cut.
    destroyFlushed(this.socket)
  }

  protected peerEnd(): PeerEnd | undefined {
    return this.socket.destroyed && !this.flushed ? CONNECTION_LOST : undefined
  }
}
