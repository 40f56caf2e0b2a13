/**
 * The HTTP/1.x wire of an exchange: a node:http request/response pair
 * (RFC 9112). A response without Content-Length is sent chunked.
 */
import * as Effect from "effect/Effect"
import type { IncomingMessage, ServerResponse } from "node:http"
import { fromRaw, type Headers } from "../protocol/headers.ts"
import type { HttpScope } from "../protocol/scope.ts"
import { CONNECTION_LOST, Exchange, type ExchangeHost, type PeerEnd } from "./exchange.ts"

const NONE: Headers = []

const noPromise = Effect.succeed(undefined)

/**
 * The head as node:http's flat list, with the `content-length` the runner
 * adds (RUN-10) — unless the app framed the body itself with
 * `transfer-encoding`: RFC 9112 §6.2 forbids both in one message, and a
 * proxy that read the length would split the response apart.
 */
const toFlat = (headers: Headers, contentLength: number): Array<string> => {
  const out: Array<string> = []
  let framed = false
  for (let i = 0; i < headers.length; i++) {
    const h = headers[i]!
    out.push(h[0], h[1])
    if (h[0] === "transfer-encoding") framed = true
  }
  if (contentLength >= 0 && !framed) out.push("content-length", String(contentLength))
  return out
}

/**
 * An exchange over a node:http IncomingMessage/ServerResponse pair.
 */
export class H1Exchange extends Exchange {
  readonly res: ServerResponse
  private readonly req: IncomingMessage
  private trailers: Headers | undefined = undefined

  constructor(scope: HttpScope, host: ExchangeHost, req: IncomingMessage, res: ServerResponse, contentLength: number, noBody: boolean) {
    super(scope, host, req, contentLength, noBody)
    this.req = req
    this.res = res
  }

  protected wireStart(status: number, headers: Headers, endStream: boolean, contentLength: number): void {
    this.res.writeHead(status, toFlat(headers, contentLength))
    if (endStream) this.res.end()
  }

  protected wireTrailers(headers: Headers): void {
    this.res.addTrailers(headers.map((h): [string, string] => [h[0], h[1]]))
    this.res.end()
  }

  protected trailerFraming(declared: number): boolean {
    // Trailers ride on the chunked coding only (RFC 9112 §7.1.2).
    return this.scope.httpVersion === "1.1" && declared < 0
  }

  protected wirePush(): Effect.Effect<number | undefined> {
    return noPromise
  }

  protected wireEarlyHint(links: ReadonlyArray<string>): void {
    this.res.writeEarlyHints({ link: links.slice() })
  }

  protected wireGoaway(): void {
    const res = this.res
    // Before the head: node sends `connection: close` and closes after the response.
    if (!res.headersSent) res.shouldKeepAlive = false
    else if (!res.writableFinished) res.once("finish", () => res.socket?.end())
    else res.socket?.end()
  }

  protected override wireMayAbandonBody(): void {
    if (this.bodyTouched && !this.req.complete && !this.res.headersSent) this.res.shouldKeepAlive = false
  }

  protected wireAbandonBody(): void {
    // node:http discards a body the app never started to read by itself; one it started is left to us: close after this response.
    if (!this.bodyTouched || this.req.complete) return
    this.wireGoaway()
  }

  /**
   * The client closed its sending side (FIN) in the middle of the body
   * (h1-server.ts): the body ends with what arrived, and the request is
   * malformed (HTTP-7). The request stream itself is not ended: node:http
   * destroys the socket when an incomplete request's stream ends, which
   * would take responses still queued before this one with it. False when
   * no body was being read.
   */
  endShortBody(): boolean {
    const req = this.req
    if (req.complete || req.readableEnded || req.destroyed) return false
    this.bodyCutShort()
    return true
  }

  /**
   * The connection closes after this exchange's response, the last on it
   * (its request was cut short): the head says so if it is still to go,
   * and the socket ends once the response is flushed — after the
   * responses queued before it, which node:http writes first.
   */
  closeConnectionAfter(socket: { end(): unknown }): void {
    const res = this.res
    if (!res.headersSent) res.shouldKeepAlive = false
    if (res.writableFinished || res.destroyed) socket.end()
    else res.once("finish", () => socket.end())
  }

  protected override bodyComplete(): boolean {
    return this.req.complete
  }

  protected requestTrailers(): Headers {
    if (this.trailers !== undefined) return this.trailers
    const raw = this.req.rawTrailers as Array<string> | undefined
    this.trailers = raw === undefined || raw.length === 0 ? NONE : fromRaw(raw, false)
    return this.trailers
  }

  private headFlushed = false

  protected override wireFlush(): void {
    // `headersSent` is true as soon as writeHead ran; the head itself waits for body bytes.
    if (this.headFlushed) return
    this.headFlushed = true
    this.res.flushHeaders()
  }

  protected wireWrite(chunk: Uint8Array): boolean {
    return this.res.write(chunk)
  }

  protected wireQueued(): number {
    return this.res.writableLength
  }

  protected wireEnd(chunk: Uint8Array): void {
    if (chunk.length === 0) this.res.end()
    else this.res.end(chunk)
  }

  protected wireClosed(): boolean {
    return this.res.destroyed
  }

  protected wireFinished(): boolean {
    return this.res.writableFinished
  }

  reject(status: number, code: number): void {
    // The unread body makes the connection unusable for a next request.
    if (!this.respondError(status, [["connection", "close"]])) this.wireReset(code)
  }

  wireReset(_code: number): void {
    // HTTP/1.1 has no stream reset: closing the connection is the only way to
    // tell the client the response is incomplete.
    this.res.destroy()
  }

  protected peerEnd(): PeerEnd | undefined {
    // HTTP/1.1 has no codes: a response the client cannot get any more means the connection went.
    return this.res.destroyed ? CONNECTION_LOST : undefined
  }

  protected get sink(): NodeJS.EventEmitter {
    return this.res
  }
}
