/**
 * The HTTP/1.x side of the runner: a node:http server that never listens
 * itself, turning each request into an `http` scope and an exchange
 * (spec.md §4.1, RFC 9112), and answering unparseable requests, targets
 * that are no http URI (400) and CONNECT (501) itself.
 */
import * as http from "node:http"
import type * as net from "node:net"
import { closeAfterResponse, connectionOf, whereConnection } from "./connection.ts"
import { h1Extensions } from "./extensions.ts"
import { H1Exchange } from "./h1-exchange.ts"
import type { ResolvedOptions } from "./options.ts"
import { makeHttpScope, parseContentLength, requestTarget, type ScopeDefaults } from "./http-scope.ts"
import type { Supervisor } from "./supervisor.ts"
import type { UpgradeListener } from "./websocket/h1-upgrade.ts"
import { endRaw, lingerOf, rawErrorResponse } from "./raw-response.ts"
import type { LogWhere } from "./log.ts"
import { peerName } from "./client-errors.ts"
import { clearDeadline } from "./head-deadline.ts"

/** The connection a socket belongs to, for a log line (none before it was tagged). */
const whereSocket = (socket: net.Socket): LogWhere | undefined => whereConnection(connectionOf(socket))

/** The request asks for a WebSocket (`Upgrade: websocket`, RFC 6455 §4.1). */
const isWebSocketUpgrade = (req: http.IncomingMessage): boolean => (req.headers.upgrade ?? "").toLowerCase() === "websocket"

/** Builds the HTTP/1.x server. */
export const makeH1Server = (opts: ResolvedOptions, supervisor: Supervisor, defaults: ScopeDefaults): http.Server => {
  const server = http.createServer({
    maxHeaderSize: opts.maxHeaderListSize,
    headersTimeout: opts.headerTimeout,
    requestTimeout: 0,
    keepAliveTimeout: opts.idleTimeout,
    // node:http checks the header timeout on this period (default 30 s): a
    // twentieth of it, so that a head is cut at most 5 % late (RUN-31).
    connectionsCheckingInterval: headerCheckInterval(opts.headerTimeout),
    noDelay: true,
    // A request with neither content-length nor transfer-encoding has no
    // body (RFC 9112 §6.3): node ends its readable at once instead of
    // emitting 'end' and 'close' a tick later. Node 24 (ignored by 22).
    // Pinned A/B, hello: 35.0 → 34.25 µs server CPU per request.
    optimizeEmptyRequests: true,
    // Only WebSocket upgrades leave the request path (h2c upgrades are answered over HTTP/1.1).
    shouldUpgradeCallback: isWebSocketUpgrade
  })
  // WebSocket upgrades, on the machinery loaded at the first one (websocket/load.ts); 500 when it cannot be (WS-22).
  let upgrade: UpgradeListener | undefined
  server.on("upgrade", (req: http.IncomingMessage, socket: net.Socket, rest: Buffer) =>
    supervisor.withWebSockets((ws) => (upgrade ??= ws.h1.h1UpgradeListener(opts, supervisor, defaults))(req, socket, rest), {
      refuse: (status) => void (socket.destroyed || endRaw(socket, rawErrorResponse(status), lingerOf(opts))),
      drop: () => void socket.destroy(),
      where: whereSocket(socket)
    }))

  // The last request of each connection that has a body (Content-Length or
  // chunked), while node:http may still be reading that body.
  const framed = new WeakMap<net.Socket, H1Exchange>()

  // The first request head is complete: the connection's deadline is done (RUN-31).
  server.on("upgrade", (req: http.IncomingMessage) => clearDeadline(req.socket))
  server.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => {
    const conn = connectionOf(req.socket)
    if (conn === undefined) return void res.destroy()
    // Only the first head has a deadline from accept (RUN-31): later ones are node:http's.
    if (conn.requests === 0) clearDeadline(req.socket)
    // An absolute-form target gives the path and the authority (HTTP-36).
    const target = requestTarget(req.url ?? "/", req.headers.host ?? null)
    if (target === undefined) {
      opts.runnerLog.error(`request target ${JSON.stringify(req.url)} is no http or https URI: 400`, { connectionId: conn.id })
      return void refuse(res, 400)
    }
    conn.requests += 1
    if (defaults.draining()) res.shouldKeepAlive = false
    // RUN-34: the last request of the connection gets `connection: close`; one pipelined past it 503, never the app.
    const max = opts.maxRequestsPerConnection
    if (max > 0 && conn.requests >= max) {
      if (conn.requests > max) return void refuse(res, 503)
      res.shouldKeepAlive = false
    }
    const httpVersion = req.httpVersion === "1.0" ? "1.0" : "1.1"
    const streamId = conn.requests
    const scope = makeHttpScope(
      {
        httpVersion,
        method: req.method ?? "GET",
        scheme: conn.scheme,
        authority: target.authority,
        target: target.target,
        rawHeaders: req.rawHeaders,
        streamId
      },
      conn,
      defaults,
      (headers) => h1Extensions(httpVersion, conn.id, streamId, headers)
    )
    const contentLength = parseContentLength(req.headers["content-length"])
    const noBody = req.headers["transfer-encoding"] === undefined && contentLength <= 0
    const exchange = new H1Exchange(scope, supervisor.host, req, res, contentLength, noBody)
    if (!noBody) framed.set(req.socket, exchange)
    supervisor.admit(exchange)
  })

  // A CONNECT (authority-form, RFC 9110 §9.3.6): the runner makes no
  // tunnels (spec.md §4.1, §8.7). node:http has let go of the connection:
  // after the responses still due on it, 501, and the connection closes.
  server.on("connect", (req: http.IncomingMessage, socket: net.Socket) => {
    clearDeadline(socket)
    opts.runnerLog.error(`CONNECT ${JSON.stringify(req.url)} over HTTP/1.1: 501`, whereSocket(socket))
    // Whatever the client sends from now on (its tunnel, more requests) is
    // read and dropped, so the close after the 501 is a FIN, not a reset.
    socket.on("error", () => {})
    socket.resume()
    afterResponses(socket, () => {
      if (!socket.writable) return void socket.destroy()
      endRaw(socket, rawErrorResponse(501), lingerOf(opts))
    })
  })

  // A request node:http cannot parse: 400 (431 for an oversized head, 408
  // for a slow one), then the connection closes.
  server.on("clientError", (err: NodeJS.ErrnoException, socket: net.Socket) => {
    const code = err.code ?? ""
    if (code === "HPE_INVALID_EOF_STATE" && socket.writable && endShortBody(socket)) return
    if (code === "ECONNRESET" || code === "HPE_INVALID_EOF_STATE" || !socket.writable) return void socket.destroy()
    // A response still in progress on this connection (pipelining): an error
    // response now would be spliced into it. Let it finish, then close.
    if (closeAfterResponse(socket)) {
      opts.runnerLog.error(`malformed pipelined HTTP/1.1 request (${code || err.message}): closing after the response in progress`, whereSocket(socket))
      return
    }
    const status = code === "HPE_HEADER_OVERFLOW" ? 431 : code === "ERR_HTTP_REQUEST_TIMEOUT" ? 408 : 400
    const line = `malformed HTTP/1.1 request from ${peerName(connectionOf(socket)?.client)} (${code || err.message}): ${status}`
    supervisor.clientErrors.malformed("HTTP/1.1", code || "unknown", line, whereSocket(socket), status === 408)
    socket.end(rawErrorResponse(status))
  })

  /**
   * The client closed its sending side (FIN) in the middle of a request body
   * (node:http reports HPE_INVALID_EOF_STATE). It can still read (RFC 9112
   * §8), so the request's body ends here, short: the exchange's
   * Content-Length check, or for a chunked body its incomplete framing,
   * makes it malformed (rule HTTP-7: the app sees http.disconnect, the
   * client gets 400, one log line) — at once when the app is not reading
   * (`endShortBody` of the exchange). The connection closes after that
   * response, the last on it (after any pipelined before it). False when
   * no body is being read (a head cut short: the connection is just
   * closed).
   */
  const endShortBody = (socket: net.Socket): boolean => {
    const exchange = framed.get(socket)
    if (exchange === undefined) return false
    framed.delete(socket)
    if (!exchange.endShortBody()) return false
    // node:http stopped listening for socket errors when it reported this one.
    socket.on("error", () => {})
    exchange.closeConnectionAfter(socket)
    return true
  }
  return server
}

/**
 * How often node:http checks its header timeout, in ms: a twentieth of the
 * timeout (10 ms to 30 s), so that a slow head is answered within 5 % of
 * `headerTimeout` (and the timer's own delay) of its first byte (RUN-31).
 */
export const headerCheckInterval = (headerTimeout: number): number =>
  headerTimeout <= 0 ? 30_000 : Math.max(10, Math.min(30_000, Math.floor(headerTimeout / 20)))

/**
 * What a connection's first-request deadline (head-deadline.ts, RUN-30,
 * RUN-31) does when it expires: a connection still in its TLS handshake or
 * protocol detection is closed without a word; an HTTP/1.1 connection whose
 * first head is incomplete gets 408, one log line, and is closed (destroyed
 * 1 s later if the client does not close first).
 */
export const firstHeadExpired = (opts: ResolvedOptions, supervisor: Supervisor) => (socket: net.Socket): void => {
  const conn = connectionOf(socket)
  if (conn?.protocol !== "h1" || !socket.writable) return void socket.destroy()
  socket.end(rawErrorResponse(408))
  setTimeout(() => socket.destroy(), 1000).unref()
  // A client that stalls: a debug line, summed up in a flood (RUN-36, RUN-38).
  const line = `request head from ${peerName(conn.client)} not complete ${opts.headerTimeout} ms after the connection was accepted: 408`
  supervisor.clientErrors.malformed("HTTP/1.1", "ERR_HTTP_REQUEST_TIMEOUT", line, whereSocket(socket), true)
}

/** A complete error response through node:http (`connection: close`): the request never reaches the app. */
const refuse = (res: http.ServerResponse, status: number): void => {
  const body = `${http.STATUS_CODES[status] ?? "Error"}\n`
  res.shouldKeepAlive = false
  res.writeHead(status, { "content-type": "text/plain", "content-length": Buffer.byteLength(body) })
  res.end(body)
}

/**
 * Calls `then` once every response node:http still has to write on
 * `socket` (pipelined requests before a CONNECT) is finished, at once when
 * there is none. (node:http keeps the response it is writing as
 * `socket._httpMessage` and hands the socket to the next one on `finish`,
 * before this listener runs.)
 */
const afterResponses = (socket: net.Socket, then: () => void): void => {
  const inProgress = (socket as net.Socket & { _httpMessage?: http.ServerResponse | null })._httpMessage
  if (inProgress == null) return then()
  inProgress.once("finish", () => afterResponses(socket, then))
  inProgress.once("close", () => {
    if (!inProgress.writableFinished) socket.destroy()
  })
}
