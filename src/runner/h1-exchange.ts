/**
 * The HTTP/1.x wire of an exchange: a node:http request/response pair
 * (RFC 9112). A response without Content-Length is sent chunked.
 */
import type { IncomingMessage, ServerResponse } from "node:http"
import type { Headers } from "../protocol/headers.ts"
import type { HttpScope } from "../protocol/scope.ts"
import { Exchange, type ExchangeHost } from "./exchange.ts"

const toFlat = (headers: Headers, contentLength: number): Array<string> => {
  const out: Array<string> = []
  for (let i = 0; i < headers.length; i++) {
    const h = headers[i]!
    out.push(h[0], h[1])
  }
  if (contentLength >= 0) out.push("content-length", String(contentLength))
  return out
}

/**
 * An exchange over a node:http IncomingMessage/ServerResponse pair.
 */
export class H1Exchange extends Exchange {
  readonly res: ServerResponse

  constructor(scope: HttpScope, host: ExchangeHost, req: IncomingMessage, res: ServerResponse, contentLength: number, noBody: boolean) {
    super(scope, host, req, contentLength, noBody)
    this.res = res
  }

  protected wireStart(status: number, headers: Headers, endStream: boolean, contentLength: number): void {
    this.res.writeHead(status, toFlat(headers, contentLength))
    if (endStream) this.res.end()
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

  protected peerErrorCode(): number | undefined {
    return undefined
  }

  protected get sink(): NodeJS.EventEmitter {
    return this.res
  }
}
