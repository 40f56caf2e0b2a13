/**
 * The Node runner: listens, decides each connection's protocol, runs one app
 * fiber per stream, and shuts down gracefully (spec.md §8).
 *
 * @since 0.1.0
 */
import { Cause, Deferred, Effect, Exit, type Fiber, type Scope } from "effect"
import * as http from "node:http"
import * as http2 from "node:http2"
import * as net from "node:net"
import * as tls from "node:tls"
import type { App } from "../protocol/app.ts"
import type { RemoteProtocolError } from "../protocol/errors.ts"
import { fromRaw, type Headers } from "../protocol/headers.ts"
import { decodePath, EGI_VERSION, type Extensions, type HttpScope } from "../protocol/scope.ts"
import { classify } from "./detect.ts"
import { ServeError } from "./errors.ts"
import { ErrorCode, type Exchange, type ExchangeHost } from "./exchange.ts"
import { H1Exchange } from "./h1-exchange.ts"
import { H2Exchange } from "./h2-exchange.ts"
import { type Lifespan, startLifespan } from "./lifespan.ts"
import { consoleLogger } from "./log.ts"
import { defaults, type RunnerOptions } from "./options.ts"

/**
 * A running server (spec.md §8).
 *
 * - `url`: the base URL it serves, e.g. `http://127.0.0.1:8000`.
 * - `port`: the bound TCP port.
 * - `protocols`: what the listener speaks, e.g. `"h2c, http/1.1"`.
 * - `shutdown`: graceful shutdown (spec.md §8.4, rule RUN-7): stop accepting,
 *   GOAWAY on every HTTP/2 connection, `connection: close` on HTTP/1.1, wait
 *   up to `drainTimeout` ms for in-flight streams, reset what remains, run
 *   lifespan shutdown. Idempotent.
 * - `inflight`: the number of streams whose app is still running.
 *
 * @since 0.1.0
 * @category models
 */
export interface Server {
  readonly url: string
  readonly port: number
  readonly protocols: string
  readonly shutdown: Effect.Effect<void>
  readonly inflight: () => number
}

const kConnection = Symbol("egi.connection")

/** What the runner knows about one connection. */
interface ConnectionInfo {
  readonly id: number
  readonly client: readonly [string, number] | null
  readonly server: readonly [string, number] | null
  readonly scheme: "http" | "https"
  /** HTTP/1.x: the number of requests seen, the next stream ID minus one. */
  requests: number
  /** The protocol once classified. */
  protocol: "pending" | "h2" | "h1"
}

type Tagged = { [kConnection]?: ConnectionInfo }

const noExtensions: Extensions = Object.freeze({})
const egiInfo = Object.freeze({ version: EGI_VERSION })

const reqLine = (ex: Exchange): string => {
  const s = ex.scope
  const target = s.queryString === "" ? s.rawPath : `${s.rawPath}?${s.queryString}`
  return `${s.method} ${target} HTTP/${s.httpVersion}`
}

/**
 * Starts serving `app`. The server lives as long as the enclosing Scope;
 * closing the Scope runs `shutdown`. Fails with `ServeError` when the port
 * cannot be bound, the TLS material is bad, or lifespan startup fails.
 *
 * @since 0.1.0
 * @category constructors
 */
export const start = (
  app: App,
  options: Partial<RunnerOptions> = {}
): Effect.Effect<Server, ServeError, Scope.Scope> =>
  Effect.acquireRelease(acquire(app, options), (server) => server.shutdown)

const acquire = (app: App, options: Partial<RunnerOptions>): Effect.Effect<Server, ServeError> =>
  Effect.gen(function*() {
    const opts: RunnerOptions = { ...defaults, logger: consoleLogger(), ...options }
    const logger = opts.logger
    const lifespan: Lifespan = yield* startLifespan(app, logger)
    const hasState = lifespan.supported

    let nextConnectionId = 0
    let draining = false
    const fibers = new Set<Fiber.Fiber<void, unknown>>()
    const sockets = new Set<net.Socket>()
    const sessions = new Set<http2.ServerHttp2Session>()
    let drained: Deferred.Deferred<void> | undefined

    // ---------------------------------------------------------------------
    // per-stream supervision (spec.md §5)
    // ---------------------------------------------------------------------

    const host: ExchangeHost = {
      maxBodySize: opts.maxBodySize,
      writeBufferSize: opts.writeBufferSize,
      onRemoteError: (ex: Exchange, error: RemoteProtocolError) => {
        logger.error(
          `conn=${ex.scope.connectionId} stream=${ex.scope.streamId} ${reqLine(ex)}: ${error.reason}: ${error.detail}`
        )
        abortRequest(ex, error.status, error.code)
      }
    }

    /** Answers a request the runner rejects: a status if nothing was sent, else a reset. */
    const abortRequest = (ex: Exchange, status: number, code: number): void => {
      if (ex instanceof H2Exchange) {
        if (ex.respondError(status)) {
          // RFC 9113 §8.1: a complete response may be followed by RST_STREAM NO_ERROR
          // to stop the upload.
          const stream = ex.stream
          stream.once("finish", () => {
            if (!stream.destroyed) stream.close(ErrorCode.NO_ERROR)
          })
        } else ex.wireReset(code)
      } else if (!ex.respondError(status, [["connection", "close"]])) ex.wireReset(code)
    }

    const finish = (ex: Exchange, exit: Exit.Exit<void, unknown>): void => {
      if (Exit.isSuccess(exit)) {
        if (ex.response !== "done" && ex.endReason === undefined && !ex.wireGone()) {
          logger.error(
            `conn=${ex.scope.connectionId} stream=${ex.scope.streamId} ${reqLine(ex)}: RUN-4: app returned before completing the response`
          )
          if (!ex.respondError(500)) ex.wireReset(ErrorCode.INTERNAL_ERROR)
        }
      } else {
        const cause = exit.cause
        if (Cause.hasInterruptsOnly(cause)) {
          if (ex.response !== "done") ex.wireReset(ErrorCode.CANCEL)
        } else if (
          (ex.endReason !== undefined || ex.wireGone()) &&
          cause.reasons.every((r) => Cause.isFailReason(r) && (r.error as { _tag?: string })?._tag === "StreamClosedError")
        ) {
          // The peer went away and the app learnt it from send: nothing to report.
        } else {
          logger.error(`conn=${ex.scope.connectionId} stream=${ex.scope.streamId} ${reqLine(ex)}: app failed: ${Cause.pretty(cause)}`)
          if (!ex.respondError(500) && ex.response !== "done") ex.wireReset(ErrorCode.INTERNAL_ERROR)
        }
      }
      if (opts.accessLog) accessLog(ex)
      if (drained !== undefined && fibers.size === 0) Deferred.doneUnsafe(drained, Exit.void)
    }

    const accessLog = (ex: Exchange): void => {
      const s = ex.scope
      const ms = (performance.now() - ex.startedAt).toFixed(2)
      const client = s.client === null ? "-" : s.client[0]
      const status = ex.status === 0 ? "-" : String(ex.status)
      const end = ex.endReason === undefined ? "" : ` end=${ex.endReason}`
      logger.access(
        `${client} "${reqLine(ex)}" ${status} ${ex.bytesOut} ${ms}ms conn=${s.connectionId} stream=${s.streamId}${end}`
      )
    }

    const run = (ex: Exchange): void => {
      let effect: Effect.Effect<void, unknown>
      try {
        effect = app(ex.scope, ex.receive, ex.send)
      } catch (defect) {
        effect = Effect.die(defect)
      }
      const fiber = Effect.runFork(effect)
      const exit = fiber.pollUnsafe()
      // Most responses complete synchronously: no bookkeeping for those.
      if (exit !== undefined) return finish(ex, exit)
      fibers.add(fiber)
      fiber.addObserver((exit) => {
        fibers.delete(fiber)
        finish(ex, exit)
      })
      ex.watchPeer(() => fiber.interruptUnsafe())
    }

    const stateCopy = (): Record<string, unknown> => (hasState ? { ...lifespan.state } : {})

    // ---------------------------------------------------------------------
    // HTTP/2
    // ---------------------------------------------------------------------

    const h2server = http2.createServer({
      settings: {
        maxConcurrentStreams: opts.maxConcurrentStreams,
        maxHeaderListSize: opts.maxHeaderListSize
      },
      maxSessionRejectedStreams: 100
    })

    h2server.on("session", (session: http2.ServerHttp2Session) => {
      // Read once through the session's socket proxy; streams read it from the session.
      const info = connectionOf(session.socket)
      if (info !== undefined) (session as unknown as Tagged)[kConnection] = info
      sessions.add(session)
      session.on("close", () => sessions.delete(session))
      session.on("error", (err) => logger.error(`conn=${connectionOf(session)?.id ?? "?"} session error: ${err.message}`))
      if (draining) session.close()
    })

    h2server.on(
      "stream",
      (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, flags: number, rawHeaders: Array<string>) => {
        stream.on("error", ignore)
        const conn = connectionOf(stream.session)
        if (conn === undefined) {
          stream.close(ErrorCode.INTERNAL_ERROR)
          return
        }
        const path = headers[":path"] ?? ""
        const q = path.indexOf("?")
        const rawPath = q < 0 ? path : path.slice(0, q)
        const cl = headers["content-length"]
        const contentLength = cl === undefined ? -1 : Number(cl)
        const scope: HttpScope = {
          type: "http",
          egi: egiInfo,
          httpVersion: "2",
          method: headers[":method"] ?? "GET",
          scheme: headers[":scheme"] === "https" ? "https" : "http",
          authority: headers[":authority"] ?? null,
          path: decodePath(rawPath),
          rawPath,
          queryString: q < 0 ? "" : path.slice(q + 1),
          rootPath: opts.rootPath,
          headers: fromRaw(rawHeaders, true),
          client: conn.client,
          server: conn.server,
          connectionId: conn.id,
          streamId: stream.id ?? 0,
          extensions: noExtensions,
          state: stateCopy()
        }
        const ex = new H2Exchange(scope, host, stream, Number.isFinite(contentLength) ? contentLength : -1, (flags & 1) !== 0)
        if (contentLength > opts.maxBodySize) {
          ex.endReason = "too-large"
          logger.error(`conn=${conn.id} stream=${scope.streamId} ${reqLine(ex)}: BodyTooLarge: content-length ${contentLength}`)
          abortRequest(ex, 413, ErrorCode.CANCEL)
          if (opts.accessLog) accessLog(ex)
          return
        }
        run(ex)
      }
    )

    // Idle HTTP/2 connections get GOAWAY. A sweep every idleTimeout/2 closes
    // a session whose socket moved no byte since the last sweep: cheaper than
    // node:http2's session timer, which is re-armed on every frame.
    const idleSweep = opts.idleTimeout > 0
      ? setInterval(() => {
        for (const session of sessions) {
          if (session.closed || session.destroyed) continue
          const socket = session.socket
          const moved = socket.bytesRead + socket.bytesWritten
          const seen = idleBytes.get(session)
          idleBytes.set(session, moved)
          if (seen === moved) {
            logger.info(`conn=${connectionOf(session)?.id ?? "?"} idle for ${opts.idleTimeout} ms: GOAWAY`)
            session.close()
          }
        }
      }, Math.max(1, Math.floor(opts.idleTimeout / 2)))
      : undefined
    idleSweep?.unref()
    const idleBytes = new WeakMap<http2.ServerHttp2Session, number>()

    // ---------------------------------------------------------------------
    // HTTP/1.x
    // ---------------------------------------------------------------------

    const h1server = http.createServer({
      maxHeaderSize: opts.maxHeaderListSize,
      headersTimeout: opts.headerTimeout,
      requestTimeout: 0,
      keepAliveTimeout: opts.idleTimeout,
      noDelay: true
    })

    h1server.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => {
      const socket = req.socket as net.Socket & Tagged
      const conn = socket[kConnection]
      if (conn === undefined) {
        res.destroy()
        return
      }
      conn.requests += 1
      if (draining) res.shouldKeepAlive = false
      const url = req.url ?? "/"
      const q = url.indexOf("?")
      const rawPath = q < 0 ? url : url.slice(0, q)
      const cl = req.headers["content-length"]
      const contentLength = cl === undefined ? -1 : Number(cl)
      const chunked = req.headers["transfer-encoding"] !== undefined
      const version = req.httpVersion === "1.0" ? "1.0" : "1.1"
      const scope: HttpScope = {
        type: "http",
        egi: egiInfo,
        httpVersion: version,
        method: req.method ?? "GET",
        scheme: conn.scheme,
        authority: req.headers.host ?? null,
        path: decodePath(rawPath),
        rawPath,
        queryString: q < 0 ? "" : url.slice(q + 1),
        rootPath: opts.rootPath,
        headers: fromRaw(req.rawHeaders, false),
        client: conn.client,
        server: conn.server,
        connectionId: conn.id,
        streamId: conn.requests,
        extensions: noExtensions,
        state: stateCopy()
      }
      const noBody = !chunked && contentLength <= 0
      const ex = new H1Exchange(scope, host, req, res, Number.isFinite(contentLength) ? contentLength : -1, noBody)
      if (contentLength > opts.maxBodySize) {
        ex.endReason = "too-large"
        logger.error(`conn=${conn.id} stream=${scope.streamId} ${reqLine(ex)}: BodyTooLarge: content-length ${contentLength}`)
        abortRequest(ex, 413, ErrorCode.CANCEL)
        if (opts.accessLog) accessLog(ex)
        return
      }
      run(ex)
    })

    h1server.on("clientError", (err: NodeJS.ErrnoException & { rawPacket?: unknown }, socket: net.Socket) => {
      const conn = (socket as Tagged)[kConnection]
      const code = err.code ?? ""
      if (code === "ECONNRESET" || !socket.writable) {
        socket.destroy()
        return
      }
      const status = code === "HPE_HEADER_OVERFLOW" ? 431 : code === "ERR_HTTP_REQUEST_TIMEOUT" ? 408 : 400
      logger.error(`conn=${conn?.id ?? "?"} malformed HTTP/1.1 request (${code || err.message}): ${status}`)
      const reason = http.STATUS_CODES[status] ?? "Bad Request"
      socket.end(`HTTP/1.1 ${status} ${reason}\r\ncontent-type: text/plain\r\ncontent-length: ${reason.length + 1}\r\nconnection: close\r\n\r\n${reason}\n`)
    })

    // ---------------------------------------------------------------------
    // the listener
    // ---------------------------------------------------------------------

    const tagConnection = (socket: net.Socket, scheme: "http" | "https"): void => {
      const info: ConnectionInfo = {
        id: ++nextConnectionId,
        client: socket.remoteAddress === undefined ? null : [socket.remoteAddress, socket.remotePort ?? 0],
        server: socket.localAddress === undefined ? null : [socket.localAddress, socket.localPort ?? 0],
        scheme,
        requests: 0,
        protocol: "pending"
      }
      ;(socket as net.Socket & Tagged)[kConnection] = info
      sockets.add(socket)
      socket.once("close", () => sockets.delete(socket))
    }

    const toH2 = (socket: net.Socket): void => {
      ;(socket as Tagged)[kConnection]!.protocol = "h2"
      h2server.emit("connection", socket)
    }
    const toH1 = (socket: net.Socket): void => {
      ;(socket as Tagged)[kConnection]!.protocol = "h1"
      h1server.emit("connection", socket)
      // Bytes read while classifying sit in the socket's buffer: flow them to the parser.
      socket.resume()
    }

    let listener: net.Server
    let protocols: string
    if (opts.tls !== undefined) {
      let secure: tls.Server
      try {
        secure = tls.createServer({ cert: opts.tls.cert, key: opts.tls.key, ALPNProtocols: ["h2", "http/1.1"] })
      } catch (cause) {
        return yield* Effect.fail(new ServeError({ reason: "Tls", detail: String(cause), cause }))
      }
      secure.on("secureConnection", (socket: tls.TLSSocket) => {
        if (draining) return socket.destroy()
        tagConnection(socket, "https")
        if (socket.alpnProtocol === "h2") toH2(socket)
        else toH1(socket)
      })
      secure.on("tlsClientError", (err) => logger.error(`TLS handshake failed: ${err.message}`))
      listener = secure
      protocols = "h2, http/1.1"
    } else if (opts.h2cOnly) {
      listener = net.createServer({ noDelay: true }, (socket) => {
        if (draining) return socket.destroy()
        tagConnection(socket, "http")
        toH2(socket)
      })
      protocols = "h2c"
    } else {
      listener = net.createServer({ noDelay: true, pauseOnConnect: true }, (socket) => {
        if (draining) return socket.destroy()
        tagConnection(socket, "http")
        classify(socket, (protocol) => (protocol === "h2c" ? toH2(socket) : toH1(socket)))
      })
      protocols = "h2c, http/1.1"
    }
    listener.on("error", (err) => logger.error(`listener error: ${err.message}`))

    const port = yield* Effect.callback<number, ServeError>((resume) => {
      const onError = (err: Error) =>
        resume(Effect.fail(new ServeError({ reason: "Listen", detail: `${opts.host}:${opts.port}: ${err.message}`, cause: err })))
      listener.once("error", onError)
      listener.listen(opts.port, opts.host, () => {
        listener.off("error", onError)
        const address = listener.address()
        resume(Effect.succeed(typeof address === "object" && address !== null ? address.port : opts.port))
      })
    })
    // node:http checks header and request timeouts from its 'listening' hook;
    // this server never listens itself, so start the checks here.
    h1server.emit("listening")

    const hostForUrl = opts.host.includes(":") ? `[${opts.host}]` : opts.host
    const url = `${opts.tls === undefined ? "http" : "https"}://${hostForUrl}:${port}`

    let shutdownDone: Deferred.Deferred<void> | undefined
    const drain = Effect.gen(function*() {
        draining = true
        logger.info(`shutting down: ${fibers.size} stream(s) in flight, drain timeout ${opts.drainTimeout} ms`)
        listener.close()
        for (const session of sessions) if (!session.closed) session.close()
        h1server.closeIdleConnections()
        // Connections still being classified have no request in flight.
        for (const socket of sockets) if ((socket as Tagged)[kConnection]?.protocol === "pending") socket.destroy()
        if (fibers.size > 0) {
          drained = yield* Deferred.make<void>()
          const done = yield* Deferred.await(drained).pipe(Effect.timeoutOption(opts.drainTimeout))
          if (done._tag === "None") {
            logger.error(`drain timeout: resetting ${fibers.size} stream(s)`)
            for (const fiber of fibers) fiber.interruptUnsafe()
          }
        }
        // The last responses may still sit in node's queues: let every
        // connection close by itself (HTTP/2 after its GOAWAY, HTTP/1.1 after
        // a FIN) for a moment before forcing it.
        const closing = [...sockets].map((socket) =>
          socket.destroyed ? Promise.resolve() : new Promise<void>((resolve) => socket.once("close", () => resolve()))
        )
        for (const socket of sockets) if ((socket as Tagged)[kConnection]?.protocol === "h1") socket.end()
        yield* Effect.promise(() => Promise.all(closing)).pipe(Effect.timeoutOption(closeGrace))
        for (const session of sessions) session.destroy()
        for (const socket of sockets) socket.destroy()
        if (idleSweep !== undefined) clearInterval(idleSweep)
        h1server.close()
        yield* lifespan.shutdown(opts.drainTimeout)
        logger.info("shutdown complete")
      })
    const shutdown = Effect.suspend(() => {
      if (shutdownDone !== undefined) return Deferred.await(shutdownDone)
      const done = Deferred.makeUnsafe<void>()
      shutdownDone = done
      return drain.pipe(Effect.ensuring(Deferred.succeed(done, undefined)))
    })

    return { url, port, protocols, shutdown, inflight: () => fibers.size }
  })

const ignore = (): void => {}

/** How long connections may take to close by themselves after the drain, in ms. */
const closeGrace = 1000

const connectionOf = (socket: unknown): ConnectionInfo | undefined => {
  if (socket === undefined || socket === null) return undefined
  return (socket as Tagged)[kConnection]
}

/**
 * Serves `app` until SIGINT or SIGTERM, then shuts down gracefully and
 * returns (spec.md §8.4). Logs one `listening on URL (protocols)` line to
 * stderr. Fails with `ServeError` as `start` does.
 *
 * @since 0.1.0
 * @category constructors
 */
export const serve = (app: App, options: Partial<RunnerOptions> = {}): Effect.Effect<void, ServeError> =>
  Effect.scoped(
    Effect.gen(function*() {
      const logger = options.logger ?? consoleLogger()
      const server = yield* start(app, { ...options, logger })
      logger.info(`listening on ${server.url} (${server.protocols})`)
      yield* Effect.callback<void>((resume) => {
        const onSignal = (signal: string) => {
          logger.info(`${signal} received`)
          process.off("SIGINT", onSignal)
          process.off("SIGTERM", onSignal)
          resume(Effect.void)
        }
        process.on("SIGINT", onSignal)
        process.on("SIGTERM", onSignal)
        return Effect.sync(() => {
          process.off("SIGINT", onSignal)
          process.off("SIGTERM", onSignal)
        })
      })
      yield* server.shutdown
    })
  )
