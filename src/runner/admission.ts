/**
 * Admission control (spec.md §8.3, rules RUN-22 and RUN-23): past
 * `limitConcurrency` in-flight apps a new request (or WebSocket handshake)
 * gets 503 with `retry-after` and its app is not called; past
 * `maxConnections` open connections a new connection is refused in its own
 * protocol — HTTP/1.1 gets a 503 with `retry-after` and `connection: close`,
 * HTTP/2 the server's SETTINGS and a GOAWAY with last-stream-id 0 and
 * REFUSED_STREAM (no stream of it was processed: the client may retry each
 * one). Every rejection is counted (`egi.requests.rejected`, by reason) and
 * summed up in at most one log line a second.
 */
import * as http2 from "node:http2"
import type * as net from "node:net"
import { classify } from "./detect.ts"
import { LogBurst } from "./log-burst.ts"
import type { RejectReason, RunnerMetrics } from "./metrics.ts"
import type { ResolvedOptions } from "./options.ts"
import { rawHead } from "./raw-response.ts"

/** The `retry-after` of every 503 the runner's admission control sends, in seconds. */
export const RETRY_AFTER = "1"

/**
 * How long a refused connection may stay open (ms): to show its first bytes
 * (a cleartext one, whose protocol decides the refusal), then to read the
 * refusal and close. It is destroyed after it.
 */
const REFUSE_WITHIN = 1000

/** At least this many refused connections may be answered at once; past that (and past maxConnections) they are closed without a word. */
const MIN_REFUSING = 16

const REFUSED_STREAM = http2.constants.NGHTTP2_REFUSED_STREAM
const ignore = (): void => {}
const BODY = "Service Unavailable\n"
const RESPONSE_503 = rawHead(503, [["content-type", "text/plain"], ["retry-after", RETRY_AFTER]], Buffer.byteLength(BODY)) + BODY

/** One per server: the limits' checks, the refusals of connections, the counter and the summary line. */
export class Admission {
  private readonly opts: ResolvedOptions
  private readonly metrics: RunnerMetrics
  /** Rejections: the first of a run logged at once, the rest summed up once a second (RUN-38). */
  private readonly burst: LogBurst<RejectReason>
  /** Refused connections still open (each for at most REFUSE_WITHIN). */
  private readonly refusing = new Set<net.Socket>()
  /** The node:http2 server refused HTTP/2 connections are handed to, made on the first. */
  private refuser: http2.Http2Server | undefined = undefined

  constructor(opts: ResolvedOptions, metrics: RunnerMetrics) {
    this.opts = opts
    this.metrics = metrics
    this.burst = new LogBurst((counts) => this.summarize(counts.get("concurrency") ?? 0, counts.get("connections") ?? 0))
  }

  /** A new stream or WebSocket must be refused: `inflight` apps run, and `limitConcurrency` is on and reached (RUN-22). */
  overloaded(inflight: number): boolean {
    return this.opts.limitConcurrency > 0 && inflight >= this.opts.limitConcurrency
  }

  /** A new connection must be refused: `open` connections are open, and `maxConnections` is on and reached (RUN-23). */
  full(open: number): boolean {
    return this.opts.maxConnections > 0 && open >= this.opts.maxConnections
  }

  /**
   * Counts a rejection (`egi.requests.rejected`) and logs it: the first one
   * at once, those that follow summed up a second later, and so on — at most
   * one line a second however many there are.
   */
  rejected(reason: RejectReason): void {
    this.metrics.rejected(reason)
    if (this.burst.note(reason)) this.summarize(reason === "concurrency" ? 1 : 0, reason === "connections" ? 1 : 0)
  }

  /** One line for `concurrency` and `connections` rejections. */
  private summarize(concurrency: number, connections: number): void {
    const parts: Array<string> = []
    if (concurrency > 0) parts.push(`${concurrency} request(s) got 503 (limitConcurrency ${this.opts.limitConcurrency} apps in flight)`)
    if (connections > 0) parts.push(`${connections} connection(s) refused (maxConnections ${this.opts.maxConnections} open)`)
    this.opts.runnerLog.error(`overloaded: ${parts.join(", ")}; further rejections are summed up once a second`)
  }

  /**
   * Refuses a connection accepted past `maxConnections` (RUN-23), in the
   * protocol it speaks: `h1` and `h2` when known (TLS with ALPN, `h2cOnly`),
   * `detect` for a cleartext connection whose first bytes tell.
   */
  refuseConnection(socket: net.Socket, protocol: "h1" | "h2" | "detect"): void {
    this.rejected("connections")
    if (this.refusing.size >= Math.max(MIN_REFUSING, this.opts.maxConnections)) return void socket.destroy()
    this.refusing.add(socket)
    socket.on("error", ignore)
    const deadline = setTimeout(() => socket.destroy(), REFUSE_WITHIN)
    deadline.unref()
    socket.once("close", () => {
      clearTimeout(deadline)
      this.refusing.delete(socket)
    })
    if (protocol === "detect") classify(socket, REFUSE_WITHIN, (p) => (p === "h2c" ? this.goaway(socket) : this.busy(socket)))
    else if (protocol === "h2") this.goaway(socket)
    else this.busy(socket)
  }

  /**
   * HTTP/1.1: 503 with `retry-after` and `connection: close`, then the
   * server's FIN; what the client still sends is read and dropped, so that
   * the close is no reset that could destroy the response unread.
   */
  private busy(socket: net.Socket): void {
    socket.on("data", ignore)
    socket.end(RESPONSE_503)
    socket.resume()
  }

  /**
   * HTTP/2: the server's SETTINGS (no concurrent stream allowed), then
   * GOAWAY with last-stream-id 0 and REFUSED_STREAM: no stream of this
   * connection was processed, so the client may retry every one (RFC 9113
   * §6.8, §8.7). A stream that arrived with the preface gets RST_STREAM
   * REFUSED_STREAM.
   */
  private goaway(socket: net.Socket): void {
    if (this.refuser === undefined) {
      const refuser = http2.createServer({ settings: { maxConcurrentStreams: 0 } })
      refuser.on("session", (session: http2.ServerHttp2Session) => {
        session.on("error", ignore)
        if (session.destroyed) return
        session.goaway(REFUSED_STREAM, 0, Buffer.from("max connections"))
        session.close()
      })
      refuser.on("stream", (stream: http2.ServerHttp2Stream) => {
        stream.on("error", ignore)
        stream.close(REFUSED_STREAM)
      })
      this.refuser = refuser
    }
    this.refuser.emit("connection", socket)
  }

  /** The drain: refused connections still open are closed, and what is pending is logged. */
  close(): void {
    for (const socket of this.refusing) socket.destroy()
    this.burst.close()
  }
}
