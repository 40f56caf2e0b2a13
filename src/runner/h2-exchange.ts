/**
 * The HTTP/2 wire of an exchange: one node:http2 server stream (RFC 9113 §8).
 */
import type { ServerHttp2Stream } from "node:http2"
import { addAbortSignal } from "node:stream"
import type { Headers } from "../protocol/headers.ts"
import { connectionSpecific } from "../protocol/headers.ts"
import type { HttpScope } from "../protocol/scope.ts"
import { ErrorCode, Exchange, type ExchangeHost } from "./exchange.ts"

/** Node's header object for `respond()`: duplicates become arrays, connection-specific fields are dropped (RUN-6). */
const toNodeHeaders = (
  status: number,
  headers: Headers,
  contentLength: number
): Record<string, string | Array<string> | number> => {
  const out: Record<string, string | Array<string> | number> = { ":status": status }
  if (contentLength >= 0) out["content-length"] = contentLength
  for (let i = 0; i < headers.length; i++) {
    const [name, value] = headers[i]!
    if (connectionSpecific.has(name)) continue
    const prev = out[name]
    if (prev === undefined) out[name] = value
    else if (Array.isArray(prev)) prev.push(value)
    else out[name] = [prev as string, value]
  }
  return out
}

const endStreamOptions = { endStream: true } as const
const openOptions = { endStream: false } as const

/**
 * An exchange over a node:http2 server stream.
 */
export class H2Exchange extends Exchange {
  readonly stream: ServerHttp2Stream
  private resetByRunner = false

  constructor(scope: HttpScope, host: ExchangeHost, stream: ServerHttp2Stream, contentLength: number, endStream: boolean) {
    super(scope, host, stream, contentLength, endStream)
    this.stream = stream
  }

  protected wireStart(status: number, headers: Headers, endStream: boolean, contentLength: number): void {
    this.stream.respond(toNodeHeaders(status, headers, contentLength), endStream ? endStreamOptions : openOptions)
  }

  protected wireWrite(chunk: Uint8Array): boolean {
    return this.stream.write(chunk)
  }

  protected wireQueued(): number {
    return this.stream.writableLength
  }

  protected wireEnd(chunk: Uint8Array): void {
    if (chunk.length === 0) this.stream.end()
    else this.stream.end(chunk)
  }

  protected wireClosed(): boolean {
    const s = this.stream
    return s.destroyed || s.closed
  }

  protected wireFinished(): boolean {
    return this.stream.writableFinished
  }

  reject(status: number, code: number): void {
    if (!this.respondError(status)) return this.wireReset(code)
    // RFC 9113 §8.1: a complete response may be followed by RST_STREAM
    // NO_ERROR, which tells the client to stop sending the request body.
    const stream = this.stream
    stream.once("finish", () => {
      if (!stream.destroyed) stream.close(ErrorCode.NO_ERROR)
    })
  }

  wireReset(code: number): void {
    const s = this.stream
    if (s.destroyed) return
    this.resetByRunner = true
    // close(code) on a stream whose writable side is still open first ends it
    // (DATA with END_STREAM) and the RST_STREAM never follows: the client would
    // see a complete, truncated response. Destroying sends RST_STREAM alone:
    // CANCEL for an abort, INTERNAL_ERROR for an error.
    if (s.writableEnded) s.close(code)
    else if (code === ErrorCode.CANCEL) {
      const abort = new AbortController()
      addAbortSignal(abort.signal, s)
      abort.abort()
    } else s.destroy(new Error(`stream reset by the runner (code ${code})`))
  }

  protected peerErrorCode(): number | undefined {
    const s = this.stream
    // A normal close leaves rstCode 0, and a reset of the runner's own is not
    // the peer's: only the peer's reset has a code to report.
    if (this.resetByRunner || !(s.closed || s.destroyed)) return undefined
    return s.rstCode !== undefined && s.rstCode !== 0 ? s.rstCode : undefined
  }

  protected get sink(): NodeJS.EventEmitter {
    return this.stream
  }
}
