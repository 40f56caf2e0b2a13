/**
 * The HTTP/2 side of the runner: a node:http2 server that never listens
 * itself (the listener hands it sockets), turning each stream into an `http`
 * scope and an exchange (spec.md §4.1, RFC 9113 §8.3.1).
 */
import { STATUS_CODES } from "node:http"
import * as http2 from "node:http2"
import { performance } from "node:perf_hooks"
import type { Headers } from "../protocol/headers.ts"
import { type ConnectionInfo, connectionOf, tagAlso, whereConnection } from "./connection.ts"
import { ErrorCode } from "../protocol/fields.ts"
import { h2Extensions } from "./extensions.ts"
import { checkHeaderList } from "./header-list.ts"
import { h2ServerOptions } from "./h2-limits.ts"
import { closeHeard, H2Exchange, pushAllowed, type Pusher } from "./h2-exchange.ts"
import type { ResolvedOptions } from "./options.ts"
import { makeHttpScope, parseContentLength, type ScopeDefaults } from "./http-scope.ts"
import type { Supervisor } from "./supervisor.ts"
import { peerName } from "./client-errors.ts"

const ignore = (): void => {}
const END_STREAM = http2.constants.NGHTTP2_FLAG_END_STREAM

/** The request fields that arrived never indexed: node:http2 lists them under `http2.sensitiveHeaders` (spec.md §7.8). */
const sensitiveOf = (headers: http2.IncomingHttpHeaders): ReadonlyArray<string> | undefined =>
  (headers as Record<symbol, ReadonlyArray<string> | undefined>)[http2.sensitiveHeaders]

/**
 * `scope.authority`: `:authority`, else the `host` field (RFC 9113 §8.3.1:
 * a request without `:authority` may carry its authority in `host`, which
 * stays in `headers` too), else null.
 */
const authorityOf = (headers: http2.IncomingHttpHeaders): string | null => {
  const authority = headers[":authority"] ?? headers.host
  return typeof authority === "string" ? authority : null
}

/**
 * Per session: its open streams (of both ends), and since when it has had
 * none (RUN-33; `performance.now()`, ms: `Date.now()` is a call into V8's
 * runtime, ~200 instructions on a stream's close).
 */
interface StreamCount {
  open: number
  quietSince: number
  /** The client's streams so far (RUN-34). */
  started: number
  /** Requests refused for their header list (RUN-26): past `h2MaxRejectedStreams`, the connection goes. */
  refused: number
}
/** A session's StreamCount, kept on the session: a property read where a WeakMap lookup costs ~80 instructions a stream. */
const kSessionCount = Symbol("egi.sessionCount")
type CountedSession = http2.Http2Session & { [kSessionCount]?: StreamCount }
const countOf = (session: http2.Http2Session | undefined): StreamCount | undefined =>
  session === undefined ? undefined : (session as CountedSession)[kSessionCount]

const kCount = Symbol("egi.streamCount")
type Counted = http2.ServerHttp2Stream & { [kCount]?: StreamCount | undefined }

/**
 * A stream closed (`this`: the stream): its session counts one open stream
 * less, and its exchange hears of it (`closeHeard`). The runner's one `close`
 * listener on a stream, whatever needs to know: each listener added to a
 * node:http2 stream costs ~1,100 instructions (node's `newListener` event and
 * its handler, megamorphic loads), and one removed about as much. One
 * function for all streams: a held stream keeps no closure for it.
 */
function streamClosed(this: Counted): void {
  const count = this[kCount]
  if (count !== undefined) {
    this[kCount] = undefined
    // Quiet only once no stream is open: the idle sweep reads it only then.
    if (--count.open === 0) count.quietSince = performance.now()
  }
  closeHeard(this)
}

/** Counts `stream` on its session's `count` until it closes, and listens for its close (`streamClosed`). */
const countStream = (stream: Counted, count: StreamCount | undefined): void => {
  stream.on("close", streamClosed)
  if (count === undefined) return
  count.open += 1
  stream[kCount] = count
}

/**
 * RFC 9113 §6.5.3: until the client acknowledges the server's SETTINGS,
 * node:http2 holds none of the limits they announce (RUN-26). A client whose
 * ACK has not come within the header timeout of the session's start gets
 * GOAWAY SETTINGS_TIMEOUT and its connection closes; one debug line, as a
 * client's stall (RUN-36).
 */
const settingsDeadline = (
  session: http2.ServerHttp2Session,
  opts: ResolvedOptions,
  supervisor: Supervisor,
  info: ConnectionInfo | undefined
): void => {
  if (opts.headerTimeout <= 0) return
  let acked = false
  session.once("localSettings", () => {
    acked = true
    clearTimeout(timer)
  })
  const timer = setTimeout(() => {
    if (acked || session.destroyed) return
    const line = `HTTP/2 client ${peerName(info?.client)} did not acknowledge the SETTINGS within ${opts.headerTimeout} ms: GOAWAY SETTINGS_TIMEOUT`
    supervisor.clientErrors.malformed("HTTP/2", "SETTINGS_TIMEOUT", line, whereConnection(info), true)
    session.goaway(ErrorCode.SETTINGS_TIMEOUT)
    session.destroy()
  }, opts.headerTimeout)
  timer.unref()
  session.once("close", () => clearTimeout(timer))
}

/**
 * Answers `status` on a stream that has no response yet, with its reason
 * phrase as a plain-text body (a refused extended CONNECT: 400, 500, 501,
 * 503); nothing when the stream is gone or answered.
 */
export const answerStatus = (stream: http2.ServerHttp2Stream, status: number): void => {
  if (stream.destroyed || stream.headersSent) return
  stream.respond({ ":status": status, "content-type": "text/plain" })
  stream.end(`${STATUS_CODES[status] ?? "Error"}\n`)
}

/** The stream is an extended CONNECT (RFC 8441 §4): it carries `:protocol`. */
const isExtendedConnect = (headers: http2.IncomingHttpHeaders): boolean =>
  headers[":method"] === "CONNECT" && headers[":protocol"] !== undefined

/** Builds the HTTP/2 server; open sessions are kept in `sessions`. */
export const makeH2Server = (
  opts: ResolvedOptions,
  supervisor: Supervisor,
  defaults: ScopeDefaults,
  sessions: Set<http2.ServerHttp2Session>
): http2.Http2Server => {
  // SETTINGS and per-session limits (spec.md §8.3, RUN-27, RUN-28).
  const server = http2.createServer(h2ServerOptions(opts))

  server.on("session", (session: http2.ServerHttp2Session) => {
    // Read once through the session's socket proxy; streams read it from the session.
    const info = connectionOf(session.socket)
    if (info !== undefined) tagAlso(session, info)
    sessions.add(session)
    ;(session as CountedSession)[kSessionCount] = { open: 0, quietSince: performance.now(), started: 0, refused: 0 }
    session.on("close", () => sessions.delete(session))
    settingsDeadline(session, opts, supervisor, info)
    // The peer's GOAWAY code tells its streams why they ended (spec.md §4.4).
    session.on("goaway", (code: number) => {
      if (info !== undefined) info.peerGoawayCode = code
    })
    session.on("error", (err) => supervisor.clientErrors.connection("HTTP/2", err, peerName(info?.client), whereConnection(info)))
    if (defaults.draining()) session.close()
  })

  /**
   * Runs the app on a stream the server promised (RFC 9113 §8.4): a GET of
   * `path` with the promised request fields, no body, correlated to its
   * parent through `http.connection.pushedBy` (spec.md §7.1).
   */
  const admitPushed: Pusher = (parent, stream, path, fields) => {
    stream.on("error", ignore)
    const session = stream.session as http2.ServerHttp2Session | undefined
    countStream(stream, countOf(session))
    const conn: ConnectionInfo | undefined = connectionOf(session)
    if (conn === undefined || session === undefined) return stream.close(ErrorCode.INTERNAL_ERROR)
    const raw: Array<string> = []
    for (const [name, value] of fields) raw.push(name, value)
    const streamId = stream.id ?? 0
    const scope = makeHttpScope(
      {
        httpVersion: "2",
        method: "GET",
        scheme: parent.scope.scheme,
        authority: parent.scope.authority,
        target: path,
        rawHeaders: raw,
        streamId
      },
      conn,
      defaults,
      // A pushed stream cannot push (RFC 9113 §8.4).
      (headers: Headers) => h2Extensions(stream, streamId, conn.id, headers, false, parent.scope.streamId)
    )
    const pushed = new H2Exchange(scope, supervisor.host, stream, session, conn, -1, true, admitPushed)
    pushed.promisedBy = parent
    supervisor.admit(pushed)
  }

  server.on("stream", (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, flags: number, raw: Array<string>) => {
    stream.on("error", ignore)
    const session = stream.session as http2.ServerHttp2Session | undefined
    const count = countOf(session)
    countStream(stream, count)
    // RUN-34: GOAWAY after the stream that reaches the limit; those in flight complete.
    if (opts.maxRequestsPerConnection > 0 && count !== undefined && ++count.started >= opts.maxRequestsPerConnection) session?.close()
    const conn = connectionOf(session)
    if (conn === undefined || session === undefined) return stream.close(ErrorCode.INTERNAL_ERROR)
    const streamId = stream.id ?? 0
    // The header-list limit holds whatever the SETTINGS state (RUN-26): node:http2 enforces it only after the ACK.
    const tooLarge = checkHeaderList(raw, opts.maxHeaderListSize)
    if (tooLarge === undefined && isExtendedConnect(headers)) {
      return supervisor.withWebSockets((ws) => ws.h2.admitExtendedConnect(stream, headers, raw, conn, opts, supervisor, defaults), {
        refuse: (status) => answerStatus(stream, status),
        drop: () => stream.close(ErrorCode.INTERNAL_ERROR),
        where: { connectionId: conn.id, streamId }
      })
    }
    const scope = makeHttpScope(
      {
        httpVersion: "2",
        method: headers[":method"] ?? "GET",
        scheme: headers[":scheme"] === "https" ? "https" : "http",
        authority: authorityOf(headers),
        target: headers[":path"] ?? "",
        rawHeaders: raw,
        streamId
      },
      conn,
      defaults,
      (fields: Headers) => h2Extensions(stream, streamId, conn.id, fields, pushAllowed(stream, session), null, sensitiveOf(headers))
    )
    const contentLength = parseContentLength(headers["content-length"])
    const exchange = new H2Exchange(scope, supervisor.host, stream, session, conn, contentLength, (flags & END_STREAM) !== 0, admitPushed)
    // 431 (then RST_STREAM NO_ERROR for a body still to come), a log line and an access-log line; the app is not called.
    if (tooLarge !== undefined) {
      supervisor.host.onRemoteError(exchange, tooLarge)
      // The runner answers these itself, so node's count of refused streams never sees them: a client that keeps
      // sending header lists over the limit (HPACK makes them cheap to send) loses its connection past the same bound (RUN-26).
      if (count !== undefined && ++count.refused > opts.h2MaxRejectedStreams) {
        supervisor.clientErrors.malformed("HTTP/2", "HeaderListTooLarge", `HTTP/2 client ${peerName(conn.client)} sent more than ${opts.h2MaxRejectedStreams} header lists over ${opts.maxHeaderListSize} bytes: GOAWAY ENHANCE_YOUR_CALM`, { connectionId: conn.id })
        if (!session.destroyed) {
          session.goaway(ErrorCode.ENHANCE_YOUR_CALM)
          session.destroy()
        }
      }
      return
    }
    supervisor.admit(exchange)
  })
  return server
}

/**
 * Idle HTTP/2 connections get GOAWAY: every `idleTimeout/4` ms, a session
 * with no stream whose app is running and whose socket moved no byte for a
 * whole `idleTimeout` is closed. Cheaper than node:http2's session timer,
 * which is re-armed on every frame. A session without any open stream is
 * idle since its last stream closed (or it opened) whatever bytes move:
 * PINGs, SETTINGS or a header block trickled a byte at a time do not keep
 * it (RUN-33). Returns a function that stops the sweep.
 */
export const sweepIdle = (
  opts: ResolvedOptions,
  sessions: Set<http2.ServerHttp2Session>,
  supervisor: Supervisor
): (() => void) => {
  if (opts.idleTimeout <= 0) return ignore
  const period = Math.max(1, Math.floor(opts.idleTimeout / 4))
  const seen = new WeakMap<http2.ServerHttp2Session, { bytes: number; since: number }>()
  const timer = setInterval(() => {
    const now = performance.now()
    const busy = supervisor.busyConnections()
    for (const session of sessions) {
      if (session.closed || session.destroyed) continue
      const info = connectionOf(session)
      const count = countOf(session)
      if (count !== undefined && count.open === 0) {
        if (now - count.quietSince >= opts.idleTimeout) {
          opts.runnerLog.info(`no request for ${opts.idleTimeout} ms: GOAWAY`, whereConnection(info))
          session.close()
        }
        continue
      }
      const socket = session.socket
      const bytes = socket.bytesRead + socket.bytesWritten
      const last = seen.get(session)
      if (last === undefined || last.bytes !== bytes || (info !== undefined && busy.has(info.id))) {
        seen.set(session, { bytes, since: now })
      } else if (now - last.since >= opts.idleTimeout) {
        opts.runnerLog.info(`idle for ${opts.idleTimeout} ms: GOAWAY`, whereConnection(info))
        session.close()
      }
    }
  }, period)
  timer.unref()
  return () => clearInterval(timer)
}
