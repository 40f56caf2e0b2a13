/**
 * Runner options and their defaults (spec.md §8 "The Node runner").
 *
 * @since 0.1.0
 */

/**
 * Options of the Node runner. Sizes are in bytes, times in milliseconds.
 *
 * @since 0.1.0
 * @category models
 */
export interface RunnerOptions {
  /** Interface to bind. Default `"127.0.0.1"`. */
  readonly host: string
  /** TCP port; 0 picks a free one. Default `8000`. */
  readonly port: number
  /**
   * Cleartext HTTP/2 only, with prior knowledge (no HTTP/1.1 detection).
   * Ignored with `tls`, where ALPN decides. Default false: the listener tells
   * h2c from HTTP/1.1 by the connection preface (RFC 9113 §3.4).
   */
  readonly h2cOnly: boolean
  /** PEM certificate chain and key; when set the listener serves TLS with ALPN h2, http/1.1. */
  readonly tls: { readonly cert: string | Buffer; readonly key: string | Buffer } | undefined
  /** SETTINGS_MAX_CONCURRENT_STREAMS advertised on HTTP/2. Default 128. */
  readonly maxConcurrentStreams: number
  /** SETTINGS_MAX_HEADER_LIST_SIZE on HTTP/2 and the header size limit on HTTP/1.1 (431). Default 65536. */
  readonly maxHeaderListSize: number
  /** Largest request body accepted; larger gets 413 (rule RUN-8). Default 1 GiB. */
  readonly maxBodySize: number
  /** HTTP/1.1: time to receive a request head (408 after it). Default 30000. */
  readonly headerTimeout: number
  /**
   * Idle connection lifetime: HTTP/2 GOAWAY, HTTP/1.1 keep-alive close; also
   * how long a request body may stall while the app waits for it (then 408).
   * 0 turns both off. Default 60000 (spec.md §8.3).
   */
  readonly idleTimeout: number
  /** On shutdown, how long in-flight streams may take before they are reset. Default 10000. */
  readonly drainTimeout: number
  /** Response bytes a stream may queue before `send` waits (rule HTTP-10). Default 262144. */
  readonly writeBufferSize: number
  /** Write an access-log line per request. Default true. */
  readonly accessLog: boolean
  /** Where log lines go. Default: process.stdout (access) and process.stderr (errors). */
  readonly logger: Logger
  /** `scope.rootPath`. Default `""`. */
  readonly rootPath: string
  /** Largest WebSocket message, bytes; a larger one closes the WebSocket with 1009 (rule WS-11). Default 16 MiB. */
  readonly wsMaxMessageSize: number
  /** Offer permessage-deflate (RFC 7692) on WebSockets. Default true. */
  readonly wsPerMessageDeflate: boolean
  /** ms between the server's pings on an open WebSocket; 0 = none (rule WS-13). Default 30000. */
  readonly wsPingInterval: number
  /**
   * ms the peer gets to answer a control frame: a pong to the server's ping
   * (WS-13), and the peer's close frame after the server's (the close
   * timeout, WS-16); past it the connection is dropped and the app gets
   * 1006. Default 20000.
   */
  readonly wsPingTimeout: number
}

/**
 * Where the runner's lines go. `access` gets one line per request, `info` and
 * `error` the rest. Each is called with one line without its newline.
 *
 * @since 0.1.0
 * @category models
 */
export interface Logger {
  readonly access: (line: string) => void
  readonly info: (line: string) => void
  readonly error: (line: string) => void
}

/**
 * The defaults every option falls back to.
 *
 * @since 0.1.0
 * @category constants
 */
/** Largest HTTP/2 SETTINGS value (RFC 9113 §6.5.1: 32 bits). @since 0.1.0 @category constants */
export const maxSetting = 2 ** 32 - 1

/** Largest delay a Node timer takes, in ms (2^31 − 1). @since 0.1.0 @category constants */
export const maxTimerMs = 2 ** 31 - 1

export const defaults: Omit<RunnerOptions, "logger"> = {
  host: "127.0.0.1",
  port: 8000,
  h2cOnly: false,
  tls: undefined,
  maxConcurrentStreams: 128,
  maxHeaderListSize: 65536,
  maxBodySize: 1024 * 1024 * 1024,
  headerTimeout: 30_000,
  idleTimeout: 60_000,
  drainTimeout: 10_000,
  writeBufferSize: 256 * 1024,
  accessLog: true,
  rootPath: "",
  wsMaxMessageSize: 16 * 1024 * 1024,
  wsPerMessageDeflate: true,
  wsPingInterval: 30_000,
  wsPingTimeout: 20_000
}
