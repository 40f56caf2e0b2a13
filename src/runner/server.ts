/**
 * The Node runner: listens, decides each connection's protocol, hands
 * streams to the supervisor, and shuts down gracefully (spec.md §8).
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import type { Context, Scope } from "effect"
import * as http2 from "node:http2"
import * as net from "node:net"
import * as tls from "node:tls"
import type { App } from "../protocol/app.ts"
import { closeAfterResponse, connectionOf, connectionTagger } from "./connection.ts"
import { classify } from "./detect.ts"
import { ServeError } from "./errors.ts"
import { firstHeadExpired, makeH1Server } from "./h1-server.ts"
import { Http1Connection, type Http1Host } from "./http1/connection.ts"
import { responseDate } from "./http-date.ts"
import { armDeadline, clearDeadline, moveDeadline } from "./head-deadline.ts"
import { makeH2Server, sweepIdle } from "./h2-server.ts"
import { type Lifespan, noLifespan, startLifespan } from "./lifespan.ts"
import { type ForwardedTrust, forwardedTrust } from "./forwarded.ts"
import { bindTarget, describe as describeTarget, type ListenTarget, releaseTarget, targetUrl } from "./listen-target.ts"
import { runnerLog } from "./log.ts"
import { peerName } from "./client-errors.ts"
import { defaults, type ResolvedOptions, type RunnerOptions } from "./options.ts"
import { Supervisor } from "./supervisor.ts"
import { checkTls, clientCertificateOf, registerReload, reloadListeners, serverOptions, type TlsMaterial, type TlsOptions } from "./tls.ts"
import { checkOptionRanges, optionRanges } from "./option-ranges.ts"

/**
 * A running server (spec.md §8), as `start` gives it.
 *
 * - `url`: the base URL it serves, e.g. `http://127.0.0.1:8000` (the first
 *   target's; `unix:/run/egi.sock` for a Unix socket).
 * - `urls`: every target's, in `binds` order.
 * - `address`: the bound IP address (`"127.0.0.1"`, `"::"` …).
 * - `port`: the bound TCP port.
 * - `protocols`: what the listener speaks, e.g. `"h2c, http/1.1"`.
 * - `shutdown`: graceful shutdown (spec.md §8.4, rule RUN-7): stop accepting,
 *   GOAWAY on every HTTP/2 connection, `connection: close` on HTTP/1.1, wait
 *   up to `drainTimeout` ms for in-flight streams, reset what remains, run
 *   lifespan shutdown. Idempotent; never fails.
 * - `inflight`: the number of streams whose app is still running.
 * - `reloadTls(material)`: replaces the certificate, key, passphrase and
 *   client CAs of a TLS server without a restart (spec.md §8.1 "TLS", rule
 *   TLS-4): new connections get the new material, established ones keep
 *   theirs. Material that does not load fails with `ServeError` `Tls` and
 *   the current certificate stays in force; a server without TLS fails so
 *   too. The CLI calls it on SIGHUP.
 *
 * @since 0.1.0
 * @category models
 */
export interface Server {
  readonly url: string
  readonly urls: ReadonlyArray<string>
  readonly address: string
  readonly port: number
  readonly protocols: string
  readonly shutdown: Effect.Effect<void>
  readonly inflight: () => number
  readonly reloadTls: (material: TlsMaterial) => Effect.Effect<void, ServeError>
}

/**
 * What a listener with these options speaks, as `Server.protocols` and the
 * `listening on` line say it (spec.md §8.1): `"h2, http/1.1"` with TLS
 * (ALPN), `"h2c"` with `h2cOnly`, else `"h2c, http/1.1"`.
 */
export const protocolsOf = (opts: Pick<RunnerOptions, "tls" | "h2cOnly">): string =>
  opts.tls !== undefined ? "h2, http/1.1" : opts.h2cOnly ? "h2c" : "h2c, http/1.1"

/** How long, at the drain, a connection accepted just before it may take to show its first bytes, in ms. */
const classifyGrace = 250

/** Completes once no socket of `sockets` is still being classified, or after `ms`. */
const untilClassified = (sockets: ReadonlySet<net.Socket>, ms: number): Effect.Effect<void> => {
  const pending = () => [...sockets].some((socket) => connectionOf(socket)?.protocol === "pending")
  const poll: Effect.Effect<void> = Effect.suspend(() => (pending() ? Effect.andThen(Effect.sleep(10), poll) : Effect.void))
  return Effect.asVoid(Effect.timeoutOption(poll, ms))
}

/** How long connections may take to close by themselves after the drain, in ms. */
const closeGrace = 1000

/**
 * Starts serving `app` (spec.md §8) with `options` over `defaults`: runs
 * lifespan startup (§6), then listens; no connection is accepted before
 * the app's startup reply (rule LIFE-1). The server lives as long as the
 * enclosing Scope; closing the Scope runs `shutdown` (§8.4). Fails with
 * `ServeError`: `Options` (a value out of range), `Listen` (the address
 * cannot be bound), `Tls` (the certificate or key cannot be loaded),
 * `StartupFailed` (`lifespan.startup.failed`).
 *
 * ```ts
 * Effect.scoped(Effect.gen(function*() {
 *   const server = yield* start(app, { port: 0 })
 *   // server.url, server.port …
 * }))
 * ```
 *
 * An app that requires services (`App<E, R>`) makes `start` require them:
 * every app call — each stream, WebSocket and the lifespan call — runs with
 * the context `start` runs in (its services, tracer, logger, references),
 * so `start(app).pipe(Effect.provide(layer))` builds the Layer once for the
 * server and closes it after the shutdown.
 *
 * @since 0.1.0
 * @category constructors
 */
export const start = <E, R>(
  app: App<E, R>,
  options: Partial<RunnerOptions> = {}
): Effect.Effect<Server, ServeError, Scope.Scope | R> =>
  Effect.acquireRelease(acquire(app, options, false), (server) => server.shutdown)

/** Starts the server; `announce`: log `listening on <url> (<protocols>)` once it listens (spec.md §8.5). */
const acquire = <E, R>(app: App<E, R>, options: Partial<RunnerOptions>, announce: boolean): Effect.Effect<Server, ServeError, R> =>
  Effect.gen(function*() {
    const context = yield* Effect.context<R>()
    const settings: RunnerOptions = { ...defaults, ...options }
    // The runner's lines go where the server's context says (spec.md §8.5).
    const opts: ResolvedOptions = { ...settings, runnerLog: runnerLog(settings.log, context as Context.Context<unknown>) }
    yield* checkOptions(opts)
    const lifespan: Lifespan = opts.lifespan === "off" ? noLifespan : yield* startLifespan(app, opts.runnerLog, opts.lifespan)
    // A server that fails to come up still runs the app's lifespan shutdown.
    const server = yield* listen(app as App<unknown, unknown>, opts, lifespan, context as Context.Context<unknown>).pipe(
      Effect.onError(() => lifespan.shutdown(opts.drainTimeout))
    )
    if (announce) {
      opts.runnerLog.info(`listening on ${server.urls.join(", ")} (${server.protocols})`)
      announceListening()
    }
    return server
  })

/**
 * Emits `egi:listening` on `process` once a server announced it listens:
 * the launcher (bin/egi.mjs) then lets V8's new space grow again, which it
 * held at its initial size while the server started.
 */
export const announceListening = (): void => void (process as NodeJS.EventEmitter).emit("egi:listening")

/** Fails with `ServeError` (`Options`) for values node would reject later, on the first connection. */
const checkOptions = (opts: RunnerOptions): Effect.Effect<void, ServeError> =>
  Effect.suspend(() => {
    // Every number, in the one range that optionsConfig and the CLI take too (RUN-39).
    const badNumber = checkOptionRanges(opts)
    if (badNumber !== undefined) return Effect.fail(new ServeError({ reason: "Options", detail: badNumber }))
    for (const target of opts.binds) {
      const bad = target.kind === "tcp"
        ? !(Number.isInteger(target.port) && target.port >= optionRanges.port.min && target.port <= optionRanges.port.max)
        : target.kind === "unix"
        ? target.path === "" || (target.mode !== undefined && !(Number.isInteger(target.mode) && target.mode >= 0 && target.mode <= 0o777))
        : !(Number.isInteger(target.fd) && target.fd >= 0)
      if (bad) return Effect.fail(new ServeError({ reason: "Options", detail: `binds: ${describeTarget(target)} is out of range` }))
    }
    const trust = forwardedTrust(opts.forwardedAllowIps)
    if (typeof trust === "string") return Effect.fail(new ServeError({ reason: "Options", detail: `forwardedAllowIps: ${trust}` }))
    const badTls = opts.tls === undefined ? undefined : checkTls(opts.tls)
    if (badTls !== undefined) return Effect.fail(new ServeError({ reason: "Options", detail: badTls }))
    if (opts.lifespan !== "auto" && opts.lifespan !== "on" && opts.lifespan !== "off") {
      return Effect.fail(new ServeError({ reason: "Options", detail: `lifespan must be "auto", "on" or "off", got ${JSON.stringify(opts.lifespan)}` }))
    }
    if (opts.http1Codec !== "egi" && opts.http1Codec !== "node") {
      return Effect.fail(new ServeError({ reason: "Options", detail: `http1Codec must be "egi" or "node", got ${JSON.stringify(opts.http1Codec)}` }))
    }
    return Effect.void
  })

const listen = (app: App<unknown, unknown>, opts: ResolvedOptions, lifespan: Lifespan, context: Context.Context<unknown>): Effect.Effect<Server, ServeError> =>
  Effect.gen(function*() {
    const logger = opts.runnerLog

    let draining = false
    let drained = false
    const sockets = new Set<net.Socket>()
    const sessions = new Set<http2.ServerHttp2Session>()
    const supervisor = new Supervisor(app, opts, context)
    const scopeDefaults = {
      rootPath: opts.rootPath,
      state: lifespan.supported ? () => ({ ...lifespan.state }) : () => ({}),
      draining: () => draining,
      forwarded: opts.proxyHeaders ? forwardedTrust(opts.forwardedAllowIps) as ForwardedTrust : undefined
    }
    const h2server = makeH2Server(opts, supervisor, scopeDefaults, sessions)
    const h1server = makeH1Server(opts, supervisor, scopeDefaults)
    const stopSweep = sweepIdle(opts, sessions, supervisor)
    const stopStallSweep = supervisor.sweepStalled(opts.idleTimeout, opts.minRequestRate, opts.minRequestRateWindow)

    // ---------------------------------------------------------------------
    // the listener (spec.md §8.1)
    // ---------------------------------------------------------------------

    const tag = connectionTagger()
    const accept = (socket: net.Socket, scheme: "http" | "https"): boolean => {
      // A connection that still arrives during the drain (queued before the
      // listener closed, or handed over by a cluster primary) is served and
      // closed after its request: HTTP/2 gets GOAWAY at once, HTTP/1.1
      // `connection: close` (spec.md §8.4). Only after the drain is it dropped.
      if (drained) {
        socket.destroy()
        return false
      }
      // Past maxConnections: refused in its protocol, never served (RUN-23).
      if (supervisor.admission.full(sockets.size)) {
        const alpn = (socket as tls.TLSSocket).alpnProtocol
        supervisor.admission.refuseConnection(socket, scheme === "https" ? (alpn === "h2" ? "h2" : "h1") : opts.h2cOnly ? "h2" : "detect")
        return false
      }
      tag(socket, scheme)
      sockets.add(socket)
      supervisor.metrics.connection(1)
      socket.once("close", () => {
        sockets.delete(socket)
        supervisor.metrics.connection(-1)
      })
      return true
    }
    // Accept to first request head: one total deadline, the header timeout (RUN-30, RUN-31).
    const expired = firstHeadExpired(opts, supervisor)
    const toH2 = (socket: net.Socket): void => {
      clearDeadline(socket)
      connectionOf(socket)!.protocol = "h2"
      h2server.emit("connection", socket)
    }
    // HTTP/1.1 connections start on the runner's own codec, which serves the
    // requests without a body and hands the connection to node:http for the
    // first other one (http1/connection.ts).
    const h1own = new Set<Http1Connection>()
    const toNodeHttp = (socket: net.Socket, bytes: Uint8Array): void => {
      socket.pause()
      if (bytes.length > 0) socket.unshift(bytes)
      h1server.emit("connection", socket)
      socket.resume()
    }
    const h1host: Http1Host = {
      opts,
      supervisor,
      defaults: scopeDefaults,
      date: responseDate,
      headExpired: expired,
      handOff: toNodeHttp,
      forget: (connection) => void h1own.delete(connection)
    }
    const toH1 = (socket: net.Socket): void => {
      connectionOf(socket)!.protocol = "h1"
      // A FIN must not end the socket's own side by itself, as node's own
      // http.Server has it: node:http decides. After a complete request it
      // closes the connection (the peer went away, HTTP-15); in the middle of
      // a Content-Length body the client still gets its 400 (RFC 9112 §8,
      // HTTP-7; h1-server.ts).
      socket.allowHalfOpen = true
      if (opts.http1Codec === "node") return toNodeHttp(socket, new Uint8Array(0))
      h1own.add(new Http1Connection(socket, h1host))
      // Bytes read while classifying sit in the socket's buffer: flow them to the reader.
      socket.resume()
    }

    const protocols = protocolsOf(opts)
    const scheme = opts.tls === undefined ? "http" : "https"
    // One listener per target, all alike (spec.md §8.1).
    const makeListener = (): net.Server => {
      if (opts.tls !== undefined) {
        const clientAuth = opts.tls.clientAuth ?? "none"
        const secure = tls.createServer(serverOptions(opts.tls))
        // The handshake counts against the header timeout from the TCP accept (RUN-30).
        const timedOut = new WeakSet<net.Socket>()
        const handshakeExpired = (raw: net.Socket): void => {
          timedOut.add(raw)
          raw.destroy()
        }
        secure.on("connection", (raw: net.Socket) => armDeadline(raw, opts.headerTimeout, handshakeExpired))
        secure.on("secureConnection", (socket: tls.TLSSocket) => {
          moveDeadline((socket as tls.TLSSocket & { _parent: net.Socket })._parent, socket, expired)
          // Client certificates (spec.md §8.1 "TLS", TLS-2): refused before any request is read.
          const peer = clientCertificateOf(socket, clientAuth)
          if (peer !== undefined && "refused" in peer) {
            logger.error(`TLS client refused: ${peer.refused}`)
            return void socket.destroy()
          }
          if (!accept(socket, "https")) return
          if (peer !== undefined) connectionOf(socket)!.clientCertificate = peer
          ;(socket.alpnProtocol === "h2" ? toH2 : toH1)(socket)
        })
        secure.on("tlsClientError", (err, socket: tls.TLSSocket) => {
          const peer = peerName([socket.remoteAddress ?? "-", socket.remotePort ?? 0])
          // A handshake past the header timeout is a client that stalled: a debug line, rate-limited (RUN-30, RUN-36).
          if (timedOut.has((socket as tls.TLSSocket & { _parent: net.Socket })._parent)) {
            const line = `TLS handshake from ${peer} not complete ${opts.headerTimeout} ms after the connection was accepted: closed`
            return supervisor.clientErrors.malformed("TLS", "handshake timeout", line, undefined, true)
          }
          supervisor.clientErrors.connection("TLS", err, peer)
        })
        return secure
      }
      if (opts.h2cOnly) {
        return net.createServer({ noDelay: true }, (socket) => {
          if (accept(socket, "http")) toH2(socket)
        })
      }
      return net.createServer({ noDelay: true, pauseOnConnect: true }, (socket) => {
        if (!accept(socket, "http")) return
        armDeadline(socket, opts.headerTimeout, expired)
        classify(socket, 0, (protocol) => (protocol === "h2c" ? toH2 : toH1)(socket))
      })
    }
    const targets: ReadonlyArray<ListenTarget> = opts.binds.length > 0 ? opts.binds : [{ kind: "tcp", host: opts.host, port: opts.port }]
    const listeners: Array<net.Server> = []
    const closeListeners = (): void => {
      for (const [i, listener] of listeners.entries()) listener.close(() => releaseTarget(targets[i]!))
    }
    for (const target of targets) {
      let listener: net.Server
      try {
        listener = makeListener()
      } catch (cause) {
        closeListeners()
        return yield* Effect.fail(new ServeError({ reason: "Tls", detail: String(cause), cause }))
      }
      listeners.push(listener)
      yield* bindTarget(listener, target, opts.backlog).pipe(Effect.onError(() => Effect.sync(closeListeners)))
      listener.on("error", (err) => logger.error(`listener error: ${err.message}`))
    }
    // node:http checks header and request timeouts from its 'listening' hook;
    // this server never listens itself, so start the checks here.
    h1server.emit("listening")

    const urls = targets.map((target, i) => targetUrl(target, listeners[i]!, scheme))
    const first = listeners[0]!.address()
    const address = typeof first === "object" && first !== null ? first.address : targets[0]!.kind === "tcp" ? opts.host : ""
    const port = typeof first === "object" && first !== null ? first.port : 0
    const url = urls[0]!.replace(/^fd:\/\/\d+ \((.*)\)$/, "$1")

    // ---------------------------------------------------------------------
    // graceful shutdown (spec.md §8.4)
    // ---------------------------------------------------------------------

    const drain = Effect.gen(function*() {
      draining = true
      logger.info(`shutting down: ${supervisor.inflight()} stream(s) in flight, drain timeout ${opts.drainTimeout} ms`)
      closeListeners()
      for (const session of sessions) if (!session.closed) session.close()
      h1server.closeIdleConnections()
      for (const connection of h1own) if (!connection.closeIfIdle()) connection.closeAfterResponse()
      // HTTP/1.1 responses in flight: the connection closes once each ends.
      for (const socket of sockets) if (connectionOf(socket)?.protocol === "h1") closeAfterResponse(socket)
      // Connections still being classified were accepted just before the
      // listener closed: their first request may be on its way. They get a
      // moment to show it (then it is served, as on a connection of the drain);
      // those still silent after it have nothing in flight and are closed.
      yield* untilClassified(sockets, Math.min(classifyGrace, opts.drainTimeout))
      for (const socket of sockets) if (connectionOf(socket)?.protocol === "pending") socket.destroy()
      supervisor.goingAway()
      const done = yield* supervisor.whenIdle().pipe(Effect.timeoutOption(opts.drainTimeout))
      if (done._tag === "None") {
        logger.error(`drain timeout: resetting ${supervisor.inflight()} stream(s)`)
        supervisor.interruptAll()
      }
      // From here on a connection that still arrives is dropped before any request of it is read.
      drained = true
      // The last responses may still sit in node's queues: let every
      // connection close by itself (HTTP/2 after its GOAWAY, HTTP/1.1 after
      // a FIN) for a moment before forcing it.
      const closing = [...sockets].map((socket) =>
        socket.destroyed ? Promise.resolve() : new Promise<void>((resolve) => socket.once("close", () => resolve()))
      )
      for (const socket of sockets) if (connectionOf(socket)?.protocol === "h1") socket.end()
      yield* Effect.promise(() => Promise.all(closing)).pipe(Effect.timeoutOption(closeGrace))
      for (const session of sessions) session.destroy()
      for (const socket of sockets) socket.destroy()
      stopSweep()
      stopStallSweep()
      supervisor.admission.close()
      supervisor.clientErrors.close()
      h1server.close()
      yield* lifespan.shutdown(opts.drainTimeout)
      logger.info("shutdown complete")
      logger.flush()
    })
    // One drain, in its own fiber: callers that are interrupted do not stop it.
    let drainFiber: Fiber.Fiber<void> | undefined
    const shutdown = Effect.suspend(() => Fiber.join((drainFiber ??= Effect.runFork(drain))))

    // Server.reloadTls (spec.md §8.1 "TLS", TLS-4); registered for the CLI's SIGHUP while the server runs.
    let tlsNow: TlsOptions | undefined = opts.tls
    const reloadTls = (material: TlsMaterial): Effect.Effect<void, ServeError> =>
      Effect.suspend(() => {
        if (tlsNow === undefined || drained) return Effect.fail(new ServeError({ reason: "Tls", detail: drained ? "the server has shut down" : "the server does not serve TLS" }))
        const next: TlsOptions = { ...tlsNow, ...material }
        return Effect.tap(reloadListeners(listeners as Array<tls.Server>, next), () => Effect.sync(() => tlsNow = next))
      })
    if (opts.tls !== undefined) {
      const unregister = registerReload(reloadTls)
      for (const listener of listeners) listener.once("close", unregister)
    }

    return { url, urls, address, port, protocols, shutdown, inflight: () => supervisor.inflight(), reloadTls }
  })

/**
 * Serves `app` until interrupted: starts the server (as `start`), logs
 * `listening on <url> (<protocols>)`, and runs the graceful shutdown
 * (spec.md §8.4, rule RUN-7) when the fiber is interrupted — which is what
 * `NodeRuntime.runMain` from `@effect/platform-node` does on SIGINT and
 * SIGTERM. The shutdown runs uninterruptibly, so a second signal does not
 * cut it short (RUN-12). Fails with `ServeError` as `start` does.
 *
 * ```ts
 * import { NodeRuntime } from "@effect/platform-node"
 * NodeRuntime.runMain(serve(app, { port: 8000 }))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const serve = <E, R>(app: App<E, R>, options: Partial<RunnerOptions> = {}): Effect.Effect<never, ServeError, R> =>
  Effect.scoped(Effect.andThen(startLogged(app, options), Effect.never))

/** `start`, then the `listening on <url> (<protocols>)` line (spec.md §8.5). */
const startLogged = <E, R>(app: App<E, R>, options: Partial<RunnerOptions>): Effect.Effect<Server, ServeError, Scope.Scope | R> =>
  Effect.acquireRelease(acquire(app, options, true), (server) => server.shutdown)

/**
 * Serving as a Layer: the server runs for the Layer's lifetime — started
 * (and `listening on …` logged) when the Layer is built, shut down
 * gracefully (spec.md §8.4) when its scope closes. What the app requires
 * (`R`) is required by the Layer, so a program composes EGI as Effect users
 * compose servers:
 *
 * ```ts
 * import { NodeRuntime } from "@effect/platform-node"
 * import * as Egi from "egi"
 * Egi.layer(app, { port: 8000 }).pipe(Layer.provide(AppLive), Layer.launch, NodeRuntime.runMain)
 * ```
 *
 * SIGTERM interrupts `Layer.launch`: the server drains, then the Layers it
 * was given close (their finalizers after the drain). Fails with
 * `ServeError` as `start` does.
 *
 * @since 0.4.0
 * @category layers
 */
export const layer = <E, R>(app: App<E, R>, options: Partial<RunnerOptions> = {}): Layer.Layer<never, ServeError, R> =>
  Layer.effectDiscard(startLogged(app, options))
