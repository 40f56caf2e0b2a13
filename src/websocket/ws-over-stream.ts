/**
 * The one place that reaches into `ws` below its public API (pinned at
 * 8.23.0 in package.json; test/websocket/h2.test.ts covers it): a
 * server-side WebSocket over any Duplex — an HTTP/2 stream after an RFC 8441
 * extended CONNECT — with permessage-deflate negotiated from the request's
 * `sec-websocket-extensions` as `ws`'s own server does it.
 *
 * `ws` builds server-side sockets with `new WebSocket(null, undefined,
 * options)` and `setSocket(duplex, head, options)`, and records the
 * negotiated extensions in `_extensions`; `setSocket` works on a plain
 * Duplex (it only calls `setNoDelay`/`setTimeout` when present).
 */
import { createRequire } from "node:module"
import type { Duplex } from "node:stream"
import WebSocket from "ws"

/** `ws`'s permessage-deflate and extension-header parser, exported on its default export. */
interface WsInternals {
  readonly PerMessageDeflate: {
    new(options: Record<string, unknown>): { accept(offers: unknown): Record<string, unknown> }
    readonly extensionName: string
  }
  readonly extension: {
    parse(header: string): Record<string, unknown>
    format(extensions: Record<string, unknown>): string
  }
}

/** A server-side `ws` socket as `setSocket` wants it. */
interface ServerSocket {
  _protocol: string
  _extensions: Record<string, unknown>
  setSocket(socket: Duplex, head: Buffer, options: Record<string, unknown>): void
}

// The ESM entry of `ws` exports the bare WebSocket class; its CommonJS entry
// hangs `PerMessageDeflate` and `extension` on it.
const internals = createRequire(import.meta.url)("ws") as WsInternals

/** The outcome of negotiating extensions: the response field value (if any) and what the socket needs. */
export interface Negotiated {
  readonly header: string | undefined
  readonly extensions: Record<string, unknown>
}

/**
 * Accepts the client's permessage-deflate offer (RFC 7692) when `enabled`.
 * Throws on a malformed `sec-websocket-extensions` value.
 */
export const negotiateExtensions = (offer: string | undefined, enabled: boolean, maxPayload: number): Negotiated => {
  if (!enabled || offer === undefined) return { header: undefined, extensions: {} }
  const deflate = new internals.PerMessageDeflate({ isServer: true, maxPayload })
  const offers = internals.extension.parse(offer)
  const name = internals.PerMessageDeflate.extensionName
  if (offers[name] === undefined) return { header: undefined, extensions: {} }
  const params = deflate.accept(offers[name])
  return { header: internals.extension.format({ [name]: [params] }), extensions: { [name]: deflate } }
}

/** A server-side WebSocket speaking over `stream` (whose handshake is already answered). */
export const serverWebSocketOver = (
  stream: Duplex,
  options: { readonly maxPayload: number; readonly protocol: string | undefined; readonly negotiated: Negotiated }
): WebSocket => {
  const ws = new (WebSocket as unknown as new(address: null, protocols: undefined, options: Record<string, unknown>) => WebSocket)(
    null,
    undefined,
    { maxPayload: options.maxPayload }
  )
  const internal = ws as unknown as ServerSocket
  if (options.protocol !== undefined) internal._protocol = options.protocol
  internal._extensions = options.negotiated.extensions
  internal.setSocket(stream, Buffer.alloc(0), { maxPayload: options.maxPayload, allowSynchronousEvents: true })
  return ws
}
