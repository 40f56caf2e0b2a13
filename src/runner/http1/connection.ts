/**
 * An HTTP/1.1 connection served by the runner's own codec: the requests
 * without a body (GET, HEAD, DELETE … with neither Content-Length nor
 * Transfer-Encoding, RFC 9112 §6.3) — most of what a server answers — go
 * straight from the socket to an exchange and back, without node:http's
 * parser, request and response objects. Any other request (a body, an
 * upgrade, CONNECT, `Expect`, HTTP/1.0, a head it refuses, the last request
 * `maxRequestsPerConnection` allows) hands the connection to node:http at
 * that request's first byte, for the rest of its life: node:http serves it
 * as before, errors and limits included.
 *
 * Measured (HTTP/1.1 hello, pinned A/B, 7 rounds): 50.67 → 43.00 µs of
 * server CPU per request, raw node:http 38.67 (0.76 → 0.90 of its
 * requests/s), in one of the machine's slow phases.
 *
 * @since 0.7.0
 */
import type * as net from "node:net"
import { type ConnectionInfo, connectionOf } from "../connection.ts"
import { h1Extensions } from "../extensions.ts"
import { armDeadline, clearDeadline } from "../head-deadline.ts"
import { destroyFlushed, flushTurn } from "../turn-cork.ts"
import { makeHttpScope, requestTarget, type ScopeDefaults } from "../http-scope.ts"
import type { ResolvedOptions } from "../options.ts"
import type { Supervisor } from "../supervisor.ts"
import { type ExchangeOwner, SocketExchange } from "./exchange.ts"
import type { RequestHead } from "./head.ts"
import { type RequestEvent, RequestReader } from "./request-reader.ts"
import type { HttpDate } from "../http-date.ts"
import { ResponseWriter } from "./response-writer.ts"

/** Pipelined bytes held behind the current exchange before the connection stops reading (bytes). */
const MAX_HELD = 64 * 1024

/** What a connection needs of its server. */
export interface Http1Host {
  readonly opts: ResolvedOptions
  readonly supervisor: Supervisor
  readonly defaults: ScopeDefaults
  readonly date: HttpDate
  /** A head of the connection's took longer than the header timeout: answer 408 and close (RUN-31). */
  readonly headExpired: (socket: net.Socket) => void
  /** node:http takes the connection from here, `bytes` first. */
  readonly handOff: (socket: net.Socket, bytes: Uint8Array) => void
  /** The connection is over (closed or handed off). */
  readonly forget: (connection: Http1Connection) => void
}

/** The request is one this connection serves itself. */
const servesItself = (head: RequestHead): boolean =>
  head.framing.kind === "none" && head.httpVersion === "1.1" && !head.upgrade && !head.expectContinue && head.method !== "CONNECT"

/**
 * One HTTP/1.1 connection: reads its requests (request-reader.ts), runs an
 * exchange per request it serves, one at a time, and hands the connection
 * to node:http for the first request it does not.
 */
export class Http1Connection implements ExchangeOwner {
  private readonly socket: net.Socket
  private readonly conn: ConnectionInfo
  private readonly host: Http1Host
  private readonly reader: RequestReader
  private current: SocketExchange | undefined = undefined
  /** The response in progress is the connection's last (a drain, the peer's FIN). */
  private closing = false
  private headTimed = false
  /** The idle timeout is armed (from the first response on; socket activity re-arms it). */
  private idleArmed = false
  private paused = false
  /** Its listeners on the socket, bound once: added at the start, removed at a hand-off. */
  private readonly listeners: ReadonlyArray<readonly [string, (...args: Array<any>) => void]> = [
    ["data", this.data.bind(this)],
    ["end", this.peerEnded.bind(this)],
    ["close", this.closed.bind(this)],
    ["drain", this.drained.bind(this)],
    ["timeout", this.idle.bind(this)],
    ["error", noop]
  ]

  constructor(socket: net.Socket, host: Http1Host) {
    this.socket = socket
    this.conn = connectionOf(socket)!
    this.host = host
    this.reader = new RequestReader(host.opts.maxHeaderListSize, servesItself)
    for (const [event, listener] of this.listeners) socket.on(event, listener)
  }

  date(): string {
    return this.host.date.now()
  }

  /** No request in progress: nothing is lost by closing the connection now. */
  get idleNow(): boolean {
    return this.current === undefined && !this.reader.midRequest && this.reader.buffered === 0
  }

  /**
   * Makes the response in progress the connection's last; false when there
   * is none (the connection is idle between requests).
   */
  closeAfterResponse(): boolean {
    const ex = this.current
    if (ex === undefined) return false
    this.lastResponse(ex)
    return true
  }

  /**
   * `ex`'s response is the connection's last (a drain, the app's
   * `http.goaway`): no request after it is read, the connection closes
   * when it is whole. Nothing when `ex` is over already (the next exchange
   * is not its to end).
   */
  lastResponse(ex: SocketExchange): void {
    if (ex !== this.current) return
    this.closing = true
    ex.writer.closeAfter()
  }

  private data(chunk: Buffer): void {
    this.handle(this.reader.receive(chunk))
    this.timeHead()
    if (this.current !== undefined && this.reader.buffered > MAX_HELD && !this.paused) {
      this.paused = true
      this.socket.pause()
    }
  }

  /**
   * A later head has begun (bytes of it came, or were pipelined behind the
   * last response): it has the header timeout from now, however it
   * trickles in (RUN-31). The first head keeps the deadline it has from
   * the accept.
   */
  private timeHead(): void {
    if (this.current !== undefined || this.headTimed || this.reader.state !== "head" || !this.reader.midRequest || this.conn.requests === 0) return
    this.headTimed = true
    armDeadline(this.socket, this.host.opts.headerTimeout, this.host.headExpired)
  }

  /** `pipelined`: the events are of bytes that arrived while the last response was in progress. */
  private handle(events: ReadonlyArray<RequestEvent>, pipelined = false): void {
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!
      if (e.type === "head") {
        if (!this.serve(e.head)) return this.handOff()
      } else if (e.type === "declined") return this.handOff()
      else if (e.type === "error") {
        if (!pipelined) return this.handOff()
        // Behind a response: no error response of its own (it could be read as part of the other), the connection just closes (RUN-5).
        this.host.opts.runnerLog.error(
          `malformed pipelined HTTP/1.1 request (${e.error.detail}): closing after the response in progress`,
          { connectionId: this.conn.id }
        )
        // The reader is done (it reads nothing more); the listeners stay, the socket's errors and close included.
        closeSoon(this.socket)
        return
      }
    }
  }

  /** Starts the exchange of `head`; false when node:http is to serve it instead. */
  private serve(head: RequestHead): boolean {
    const { opts, supervisor, defaults } = this.host
    const conn = this.conn
    const max = opts.maxRequestsPerConnection
    // The last request a connection may carry and what follows it: node:http's (RUN-34).
    if (max > 0 && conn.requests + 1 >= max) return false
    // An absolute-form target gives the path and the authority (HTTP-36); a bad one is node:http's 400.
    const target = requestTarget(head.target, head.host)
    if (target === undefined) return false
    // Only the first head has a deadline from accept (RUN-31); a later one's runs from its first byte.
    clearDeadline(this.socket)
    this.headTimed = false
    conn.requests += 1
    const streamId = conn.requests
    const scope = makeHttpScope(
      {
        httpVersion: "1.1",
        method: head.method,
        scheme: conn.scheme,
        authority: target.authority,
        target: target.target,
        rawHeaders: head.rawHeaders,
        streamId
      },
      conn,
      defaults,
      (headers) => h1Extensions("1.1", conn.id, streamId, headers)
    )
    const keepAlive = head.keepAlive && !defaults.draining() && !this.closing
    const writer = new ResponseWriter(head.method, "1.1", keepAlive, Math.floor(opts.idleTimeout / 1000))
    const ex = new SocketExchange(scope, supervisor.host, this.socket, this, writer)
    this.current = ex
    supervisor.admit(ex)
    return true
  }

  responseDone(ex: SocketExchange): void {
    if (ex !== this.current) return
    this.current = undefined
    if (!ex.writer.persists || this.closing || this.socket.destroyed) {
      closeSoon(this.socket)
      return
    }
    if (this.paused) {
      this.paused = false
      this.socket.resume()
    }
    // Armed once: node re-arms a socket's timeout at each read and write (not per request, as node:http does: two timer updates less).
    if (!this.idleArmed) {
      this.idleArmed = true
      const idle = this.host.opts.idleTimeout
      if (idle > 0) this.socket.setTimeout(idle)
    }
    // A pipelined request waits for the next tick: run here, its app would run inside the send of the last one.
    if (this.reader.buffered > 0) process.nextTick(this.onNext)
    else this.reader.next()
  }

  private readonly onNext = this.readNext.bind(this)

  private readNext(): void {
    if (this.current !== undefined || this.socket.destroyed) return
    this.handle(this.reader.next(), true)
    this.timeHead()
  }

  /** Closes the connection if no request is in progress (a drain); true when it did. */
  closeIfIdle(): boolean {
    if (!this.idleNow) return false
    closeSoon(this.socket)
    return true
  }

  /** node:http serves the connection from the request that starts `reader.unread()` on. */
  private handOff(): void {
    const bytes = this.reader.unread()
    // The head is whole (or refused): node:http answers it at once, with its own header timeout after.
    clearDeadline(this.socket)
    this.detach()
    // What this turn corked goes first: node:http's own paths cut a connection with a plain destroy().
    flushTurn(this.socket)
    this.host.handOff(this.socket, bytes)
  }

  private detach(): void {
    const socket = this.socket
    // The error listener stays: a socket that errors between the hand-off and node:http's own listener must not throw.
    for (const [event, listener] of this.listeners) if (event !== "error") socket.off(event, listener)
    socket.setTimeout(0)
    this.host.forget(this)
  }

  /** The peer's FIN: a request in progress lost its client (HTTP-15), as with node:http; an idle connection just closes. */
  private peerEnded(): void {
    if (this.current === undefined) closeSoon(this.socket)
    else destroyFlushed(this.socket)
  }

  private closed(): void {
    const ex = this.current
    this.current = undefined
    clearDeadline(this.socket)
    ex?.over()
    this.host.forget(this)
  }

  private drained(): void {
    this.current?.drained()
  }

  /**
   * No byte for the idle timeout: between requests the connection closes
   * (node:http's keep-alive timeout); a response in progress is the app's
   * (the runner's stall rules bound it), a head in progress has its
   * header timeout.
   */
  private idle(): void {
    if (this.current === undefined && !this.reader.midRequest) destroyFlushed(this.socket)
  }
}

const noop = (): void => {}

/**
 * Ends the connection after what is written, then closes it without
 * waiting for the peer's FIN, as node:http does: the connection's slot
 * (maxConnections, RUN-23) is free as soon as its last response is out.
 */
const closeSoon = (socket: net.Socket): void => {
  if (socket.destroyed) return
  socket.end(() => socket.destroy())
}
