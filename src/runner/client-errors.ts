/**
 * The runner's lines about what clients' connections do wrong (spec.md
 * §8.5, rules RUN-36, RUN-37, RUN-38): an HTTP/2 session's `error`, a TLS
 * handshake that fails, a malformed HTTP/1.1 request or WebSocket
 * handshake. Ordinary client behaviour — a reset, a close, a timeout — is a
 * debug line; a protocol error an error line that names its cause (node's
 * error code and, for HTTP/2, nghttp2's) and the peer, once per connection.
 * Each level is rate-limited (`LogBurst`): a flood of bad connections
 * costs the log one line, then one summary a second.
 */
import { LogBurst } from "./log-burst.ts"
import type { LogWhere, RunnerLog } from "./log.ts"

/** What went wrong where: `HTTP/2`, `TLS`, `HTTP/1.1`, `WebSocket handshake`. */
export type ClientErrorSource = "HTTP/2" | "TLS" | "HTTP/1.1" | "WebSocket handshake"

/** Error codes of a client that merely went away or stalled (a reset, a close, a timeout): not the server's trouble. */
const ORDINARY = new Set(["ECONNRESET", "EPIPE", "ETIMEDOUT", "ECONNABORTED", "ERR_STREAM_PREMATURE_CLOSE", "ERR_HTTP_REQUEST_TIMEOUT"])

/**
 * nghttp2's library error names by number (nghttp2.h's `nghttp2_error`, a
 * stable ABI), those a peer can cause: node's `ERR_HTTP2_ERROR` carries the
 * number as `errno`, and `http2.constants` lists almost none of them.
 */
const nghttp2Names: ReadonlyMap<number, string> = new Map([
  [-505, "NGHTTP2_ERR_PROTO"],
  [-522, "NGHTTP2_ERR_FRAME_SIZE_ERROR"],
  [-523, "NGHTTP2_ERR_HEADER_COMP"],
  [-524, "NGHTTP2_ERR_FLOW_CONTROL"],
  [-531, "NGHTTP2_ERR_HTTP_HEADER"],
  [-532, "NGHTTP2_ERR_HTTP_MESSAGING"],
  [-536, "NGHTTP2_ERR_SETTINGS_EXPECTED"],
  [-537, "NGHTTP2_ERR_TOO_MANY_SETTINGS"],
  [-902, "NGHTTP2_ERR_CALLBACK_FAILURE"],
  [-903, "NGHTTP2_ERR_BAD_CLIENT_MAGIC"],
  [-904, "NGHTTP2_ERR_FLOODED"]
])

/** What the HTTP/2 connection error that nghttp2 reported amounts to, where its name alone does not say (RFC 9113 §7 codes of the GOAWAY it sent). */
const nghttp2Meaning: Readonly<Record<string, string>> = {
  NGHTTP2_ERR_FLOODED: "flood, GOAWAY ENHANCE_YOUR_CALM",
  NGHTTP2_ERR_BAD_CLIENT_MAGIC: "no HTTP/2 connection preface",
  NGHTTP2_ERR_HEADER_COMP: "GOAWAY COMPRESSION_ERROR",
  NGHTTP2_ERR_FRAME_SIZE_ERROR: "GOAWAY FRAME_SIZE_ERROR",
  NGHTTP2_ERR_FLOW_CONTROL: "GOAWAY FLOW_CONTROL_ERROR",
  NGHTTP2_ERR_PROTO: "GOAWAY PROTOCOL_ERROR, FRAME_SIZE_ERROR, COMPRESSION_ERROR or FLOW_CONTROL_ERROR: node:http2 does not say which"
}

/**
 * The cause of a connection's error as the log names it: node's `err.code`
 * (`ECONNRESET`, `ERR_HTTP2_TOO_MANY_INVALID_FRAMES`, `ERR_SSL_…`), and for
 * node's `ERR_HTTP2_ERROR` also nghttp2's error name from `err.errno`
 * (`NGHTTP2_ERR_FLOODED` …). `unknown` when the error has no code.
 */
export const causeOf = (err: unknown): string => {
  const { code, errno } = (typeof err === "object" && err !== null ? err : {}) as { code?: unknown; errno?: unknown }
  const name = typeof code === "string" ? code : "unknown"
  const lib = typeof errno === "number" ? nghttp2Names.get(errno) : undefined
  return name === "ERR_HTTP2_ERROR" && lib !== undefined ? `${name} ${lib}` : name
}

/** `address:port` of a connection's peer, `-` when unknown (spec.md §8.5's `<client>`). */
export const peerName = (client: readonly [string, number] | null | undefined): string =>
  client === null || client === undefined ? "-" : client[0].includes(":") ? `[${client[0]}]:${client[1]}` : `${client[0]}:${client[1]}`

/** A summary line's counts: `3× HTTP/2 ERR_HTTP2_ERROR NGHTTP2_ERR_PROTO, 2× HTTP/1.1 HPE_INVALID_METHOD`. */
const tally = (counts: ReadonlyMap<string, number>): string => [...counts].map(([key, n]) => `${n}× ${key}`).join(", ")

/** One per server: the clients' errors, logged as RUN-36–RUN-38 say. */
export class ClientErrors {
  private readonly log: RunnerLog
  private readonly errors: LogBurst<string>
  private readonly ordinary: LogBurst<string>

  constructor(log: RunnerLog) {
    this.log = log
    this.errors = new LogBurst((counts) => log.error(`client errors: ${tally(counts)} more in the last second (summed up once a second)`))
    this.ordinary = new LogBurst((counts) => log.debug(`client ends: ${tally(counts)} more in the last second (summed up once a second)`))
  }

  /**
   * A connection's `error` event (an HTTP/2 session's, a TLS handshake's):
   * a reset, close or timeout is a debug line; anything else an error line
   * `<source> protocol error from <peer>: <cause> (<message>)` (RUN-37).
   */
  connection(source: ClientErrorSource, err: unknown, peer: string, where?: LogWhere): void {
    const cause = causeOf(err)
    const message = err instanceof Error ? err.message : String(err)
    if (ORDINARY.has(cause)) {
      if (this.ordinary.note(`${source} ${cause}`)) this.log.debug(`${source} client ${peer} went away: ${cause} (${message})`, where)
      return
    }
    if (!this.errors.note(`${source} ${cause}`)) return
    const lib = cause.split(" ")[1]
    const meaning = lib === undefined ? "" : nghttp2Meaning[lib]
    const what = source === "TLS" ? "TLS handshake failed" : `${source} protocol error`
    this.log.error(`${what} from ${peer}: ${cause} (${message}${meaning === undefined || meaning === "" ? "" : `; ${meaning}`})`, where)
  }

  /**
   * A malformed request or handshake the runner answered itself (400,
   * 431 …): `line` is its full log line (naming `cause` and the status),
   * rate-limited with the other protocol errors; `ordinary` (a request
   * head that timed out, 408) makes it a debug line.
   */
  malformed(source: ClientErrorSource, cause: string, line: string, where?: LogWhere, ordinary = false): void {
    if (ordinary) {
      if (this.ordinary.note(`${source} ${cause}`)) this.log.debug(line, where)
    } else if (this.errors.note(`${source} ${cause}`)) this.log.error(line, where)
  }

  /** Sums up what is pending (the drain). */
  close(): void {
    this.errors.close()
    this.ordinary.close()
  }
}
