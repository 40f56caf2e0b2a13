/**
 * The one place that reaches into `ws` below its public API (pinned at
 * 8.23.0 in package.json; test/websocket/transports.test.ts runs the same
 * cases over both transports): a server-side WebSocket over any Duplex — an
 * HTTP/2 stream after an RFC 8441 extended CONNECT — with permessage-deflate
 * negotiated from the request's `sec-websocket-extensions` as `ws`'s own
 * server does it.
 *
 * `ws` builds server-side sockets with `new WebSocket(null, undefined,
 * options)` and `setSocket(duplex, head, options)`, both with its server's
 * options (defaults filled in: `autoPong`, `closeTimeout`, …), and records
 * the negotiated extensions in `_extensions`; `setSocket` works on a plain
 * Duplex (it only calls `setNoDelay`/`setTimeout` when present).
 */
import { createRequire } from "node:module"
import type { Duplex } from "node:stream"
import WebSocket, { WebSocketServer } from "ws"
import type { RunnerOptions } from "../options.ts"

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
const requireHere = createRequire(import.meta.url)
const internals = requireHere("ws") as WsInternals

/** The installed `ws`'s version, for error messages. */
export const wsVersion = (): string => {
  try {
    return String((requireHere("ws/package.json") as { version?: unknown }).version ?? "unknown")
  } catch {
    return "unknown"
  }
}

/**
 * Checks that the installed `ws` still has what this module uses below its
 * public API: `PerMessageDeflate` and `extension` on its CommonJS export, a
 * server-side socket built with `new WebSocket(null, undefined, options)`,
 * `setSocket`, `_protocol`/`_extensions`, and a `WebSocketServer` whose
 * `options` carry `closeTimeout` and `autoPong`. Returns what is missing
 * (one phrase), or `undefined` when all is there. Pure inspection: builds
 * one socket and one server, attaches nothing.
 */
export const missingWsInternals = (): string | undefined => {
  try {
    if (typeof internals.PerMessageDeflate !== "function") return "PerMessageDeflate"
    if (typeof internals.PerMessageDeflate.extensionName !== "string") return "PerMessageDeflate.extensionName"
    if (typeof internals.extension?.parse !== "function" || typeof internals.extension.format !== "function") return "extension.parse/format"
    const options = serverOptions({ maxPayload: 1024, closeTimeout: 1000 })
    if (typeof options !== "object" || options === null) return "WebSocketServer#options"
    if (options["closeTimeout"] !== 1000 || typeof options["autoPong"] !== "boolean") return "WebSocketServer#options.closeTimeout/autoPong"
    const ws = new (WebSocket as unknown as new(address: null, protocols: undefined, options: Record<string, unknown>) => WebSocket)(
      null,
      undefined,
      options
    ) as unknown as Partial<ServerSocket>
    if (typeof ws.setSocket !== "function") return "WebSocket#setSocket"
    if (typeof ws._protocol !== "string" || typeof ws._extensions !== "object") return "WebSocket#_protocol/_extensions"
    return undefined
  } catch (cause) {
    return `a server-side WebSocket (${(cause as Error)?.message ?? String(cause)})`
  }
}

/** What both transports hand `ws` from the runner's options. */
export interface SocketLimits {
  /** Largest message, bytes (rule WS-11). */
  readonly maxPayload: number
  /** ms the server's close frame waits for the peer's before the connection is dropped (rule WS-16); `ws`'s own default (30 s) when absent. */
  readonly closeTimeout?: number
}

/** The runner's options as `ws` takes them, for the HTTP/1.1 `WebSocketServer` and the HTTP/2 sockets alike. */
export const socketLimits = (opts: Pick<RunnerOptions, "wsMaxMessageSize" | "wsPingTimeout">): SocketLimits => ({
  maxPayload: opts.wsMaxMessageSize,
  closeTimeout: opts.wsPingTimeout
})

/**
 * The options `ws`'s own server gives each socket it builds, its defaults
 * filled in by `WebSocketServer` itself, so an HTTP/2 socket gets exactly
 * what an HTTP/1.1 one gets (without `closeTimeout` the close timer fires at
 * once; without `autoPong` pings go unanswered).
 */
const serverOptions = ({ closeTimeout, maxPayload }: SocketLimits): Record<string, unknown> => {
  const server = new WebSocketServer({ noServer: true, clientTracking: false, maxPayload, ...(closeTimeout === undefined ? {} : { closeTimeout }) })
  return (server as unknown as { readonly options: Record<string, unknown> }).options
}

/** The outcome of negotiating extensions: the response field value (if any) and what the socket needs. */
export interface Negotiated {
  readonly header: string | undefined
  readonly extensions: Record<string, unknown>
}

/**
 * Accepts the client's permessage-deflate offer (RFC 7692) when `enabled`
 * (rule WS-19). Throws on a malformed `sec-websocket-extensions` value,
 * enabled or not (rule WS-15).
 */
export const negotiateExtensions = (offer: string | undefined, enabled: boolean, maxPayload: number): Negotiated => {
  if (offer === undefined) return { header: undefined, extensions: {} }
  const offers = internals.extension.parse(offer)
  const name = internals.PerMessageDeflate.extensionName
  if (offers[name] === undefined) return { header: undefined, extensions: {} }
  const deflate = new internals.PerMessageDeflate({ isServer: true, maxPayload })
  // Checked even when not enabled: bad parameters are a malformed handshake either way (zlib is made only on first use).
  const params = deflate.accept(offers[name])
  if (!enabled) return { header: undefined, extensions: {} }
  return { header: internals.extension.format({ [name]: [params] }), extensions: { [name]: deflate } }
}

/** A server-side WebSocket speaking over `stream` (whose handshake is already answered). */
export const serverWebSocketOver = (
  stream: Duplex,
  options: SocketLimits & { readonly protocol: string | undefined; readonly negotiated: Negotiated }
): WebSocket => {
  const server = serverOptions(options)
  const ws = new (WebSocket as unknown as new(address: null, protocols: undefined, options: Record<string, unknown>) => WebSocket)(
    null,
    undefined,
    server
  )
  const internal = ws as unknown as ServerSocket
  if (options.protocol !== undefined) internal._protocol = options.protocol
  internal._extensions = options.negotiated.extensions
  internal.setSocket(stream, Buffer.alloc(0), server)
  return ws
}
