/**
 * Runner options and their defaults (spec.md §8 "The Node runner").
 *
 * @since 0.1.0
 */
import type { ListenTarget } from "./listen-target.ts"
import type { LifespanMode } from "./lifespan.ts"
import type { LogMode, RunnerLog } from "./log.ts"
import type { TlsOptions } from "./tls.ts"

/**
 * Options of the Node runner (spec.md §8.1–§8.4, §8.8; the limits and
 * their defaults are the table of §8.3). Sizes are in
 * bytes, times in milliseconds; `start` and `serve` take a `Partial` and
 * fill the rest from `defaults`, and fail with `ServeError` (`Options`)
 * when a value is out of range (the ranges are `optionRanges`, the same
 * for the CLI and `optionsConfig`, rule RUN-39). The CLI flags and the
 * `EGI_*` variables (of the CLI and of `optionsConfig` alike) set the same
 * options (`--max-body-size` → `maxBodySize`), times in seconds there.
 *
 * @since 0.1.0
 * @category models
 */
export interface RunnerOptions {
  /** Interface to bind. Default `"127.0.0.1"`. */
  readonly host: string
  /** TCP port, 0–65535; 0 picks a free one. Default `8000`. */
  readonly port: number
  /**
   * Where to listen instead of `host`:`port` (spec.md §8.1): TCP addresses,
   * Unix domain sockets, inherited listening descriptors — all served alike
   * by one server. Default `[]`: `host`:`port` alone.
   */
  readonly binds: ReadonlyArray<ListenTarget>
  /** Pending connections each listener queues before the kernel refuses more (listen(2)'s backlog), 0–2^31−1. Default 511. */
  readonly backlog: number
  /**
   * Cleartext HTTP/2 only, with prior knowledge (no HTTP/1.1 detection).
   * Ignored with `tls`, where ALPN decides. Default false: the listener tells
   * h2c from HTTP/1.1 by the connection preface (RFC 9113 §3.4).
   */
  readonly h2cOnly: boolean
  /**
   * PEM certificate chain and key; when set the listener serves TLS with ALPN
   * h2, http/1.1. Also the key's `passphrase`, client certificates (`ca`,
   * `clientAuth`), `ciphers` and `minVersion` (spec.md §8.1 "TLS"; the
   * certificate is replaced at run time by `Server.reloadTls`).
   */
  readonly tls: TlsOptions | undefined
  /** SETTINGS_MAX_CONCURRENT_STREAMS advertised on HTTP/2 (RFC 9113 §6.5.2), 0–2^32-1. Default 128. */
  readonly maxConcurrentStreams: number
  /**
   * Bytes: SETTINGS_MAX_HEADER_LIST_SIZE on HTTP/2 (RFC 9113 §6.5.2: name +
   * value + 32 per field), held before the client's SETTINGS ACK too (431,
   * rule RUN-26), and the header size limit on HTTP/1.1 (431). Default 65536.
   */
  readonly maxHeaderListSize: number
  /** Largest request body accepted, bytes; larger gets 413 (rule RUN-8). Default 1 GiB. */
  readonly maxBodySize: number
  /**
   * ms to receive an HTTP/1.1 request head (408 after it), and to tell a
   * new cleartext connection's protocol from its first bytes (closed after
   * it, rule RUN-9). Default 30000 (spec.md §8.3).
   * A total, not an inactivity timer: a connection's TLS handshake,
   * protocol detection and first head count from its accept (RUN-30,
   * RUN-31); a later HTTP/1.1 head from its first byte.
   */
  readonly headerTimeout: number
  /**
   * Idle connection lifetime: HTTP/2 GOAWAY, HTTP/1.1 keep-alive close; also
   * how long a request body may stall while the app waits for it (then 408).
   * In ms; 0 turns both off. Default 60000 (spec.md §8.3).
   */
  readonly idleTimeout: number
  /** ms in-flight streams may take on shutdown before they are reset (spec.md §8.4, rule RUN-7). Default 10000. */
  readonly drainTimeout: number
  /** Response bytes a stream may queue before `send` waits (rule HTTP-10), 0–2^31−1 (`--write-buffer-size`). Default 262144 (256 KiB). */
  readonly writeBufferSize: number
  /** Write an access-log line per request (method, path, status, bytes, ms, `conn=`, `stream=`; spec.md §8.5). Default true. */
  readonly accessLog: boolean
  /**
   * Where the runner's lines go (spec.md §8.5): `"auto"` (the default) through
   * Effect's Logger when the server's context has loggers of the user's, else
   * EGI's text lines on stdout (access) and stderr; `"text"`, `"effect"`
   * force one; `false` writes nothing. See `LogMode`.
   */
  readonly log: LogMode
  /** `scope.rootPath` (spec.md §4.1): the mount point the app is served under, e.g. `"/api"`. Default `""`. */
  readonly rootPath: string
  /** Largest WebSocket message, bytes, 0–2^31−1 (0: no limit); a larger one closes the WebSocket with 1009 (rule WS-11). Default 16 MiB. */
  readonly wsMaxMessageSize: number
  /**
   * Accept permessage-deflate (RFC 7692) on WebSockets when the client
   * offers it (rule WS-19). Default false: each socket that negotiates it
   * holds a zlib inflate and deflate context, about 240 KiB more per socket
   * (measured, spec.md §8.8).
   */
  readonly wsPerMessageDeflate: boolean
  /**
   * Bytes of received WebSocket messages a socket may queue while its app
   * does not `receive`; past it (or past 16 messages) the socket is no
   * longer read until the app has taken half of them (rule WS-20). Nothing
   * is dropped: the client is pushed back through TCP or the HTTP/2 stream
   * window. Default 1 MiB.
   */
  readonly wsMaxQueuedBytes: number
  /** ms between the server's pings on an open WebSocket; 0 = none (rule WS-13). Default 30000. */
  readonly wsPingInterval: number
  /**
   * ms the peer gets to answer a control frame: a pong to the server's ping
   * (WS-13), and the peer's close frame after the server's (the close
   * timeout, WS-16); past it the connection is dropped and the app gets
   * 1006. Default 20000.
   */
  readonly wsPingTimeout: number
  /**
   * One server span per stream and WebSocket (spec.md §8.10), on the tracer
   * of the context the server runs in. `"auto"` (the default): only when
   * that context carries a tracer of the user's (a Layer provided one, an
   * OpenTelemetry exporter say) — Effect's own default tracer records
   * nothing anyone reads, and spans cost several µs per request; `true`:
   * always; `false`: never (nothing per request).
   */
  readonly tracing: boolean | "auto"
  /**
   * Behind a proxy (spec.md §8.12): take the scope's `client`, `scheme` and
   * `authority` from `Forwarded` (RFC 7239) or `X-Forwarded-For`/`-Proto`/
   * `-Host`, when the connection comes from an address of
   * `forwardedAllowIps`. Default false: the fields reach the app untouched
   * and change nothing.
   */
  readonly proxyHeaders: boolean
  /**
   * The proxies trusted with `proxyHeaders`: IPv4/IPv6 addresses and CIDR
   * blocks (`10.0.0.0/8`), or `"*"` for every peer. Default
   * `["127.0.0.1", "::1"]`.
   */
  readonly forwardedAllowIps: ReadonlyArray<string>
  /**
   * Whether the server runs lifespan (spec.md §6, rule RUN-20): `"auto"`
   * (the default) calls the app with a lifespan scope and serves without
   * lifespan when the app does not support it; `"on"`: an app that does
   * not support it fails the start (`ServeError` `StartupFailed`), as
   * `lifespan.startup.failed` does; `"off"`: the app is never called with
   * a lifespan scope (http scopes get an empty `state`).
   */
  readonly lifespan: LifespanMode
  /**
   * Admission control (spec.md §8.3, rule RUN-22): at most this many apps in
   * flight — streams of both protocols and WebSockets whose app is running;
   * a request or WebSocket handshake past it gets 503 with `retry-after: 1`
   * and its app is not called. Default 0: no limit.
   */
  readonly limitConcurrency: number
  /**
   * Admission control (spec.md §8.3, rule RUN-23): at most this many open
   * connections per server (per worker process); a connection past it is
   * refused in its protocol (HTTP/1.1 503 and close, HTTP/2 GOAWAY
   * REFUSED_STREAM). Default 0: no limit.
   */
  readonly maxConnections: number
  // HTTP/2 session limits and SETTINGS (spec.md §8.3, rules RUN-27, RUN-28; ranges in h2-limits.ts).
  /** Rapid reset (CVE-2023-44487): RST_STREAM frames a client may send in a burst before GOAWAY (with `h2StreamResetRate`). Default 1000. */
  readonly h2StreamResetBurst: number
  /** Rapid reset: RST_STREAM frames per second that refill the burst. Default 33. */
  readonly h2StreamResetRate: number
  /** MB (10^6 bytes) of memory one HTTP/2 session may hold in node:http2; past it new streams are refused (RST_STREAM ENHANCE_YOUR_CALM). Default 10. */
  readonly h2MaxSessionMemory: number
  /** Fields (pseudo-header fields included) one HTTP/2 header block may carry; past it RST_STREAM ENHANCE_YOUR_CALM. 4–2^32−1. Default 128. */
  readonly h2MaxHeaderListPairs: number
  /** Invalid frames an HTTP/2 session tolerates before it is closed. Default 1000. */
  readonly h2MaxInvalidFrames: number
  /** Streams refused on creation (ENHANCE_YOUR_CALM) an HTTP/2 session tolerates in a row before it is closed. Default 100. */
  readonly h2MaxRejectedStreams: number
  /** Bytes: SETTINGS_INITIAL_WINDOW_SIZE, each stream's request-body window (RFC 9113 §6.9.2), 0–2^31−1. Default 65535. */
  readonly h2InitialWindowSize: number
  /** Bytes: SETTINGS_MAX_FRAME_SIZE, the largest frame payload accepted (RFC 9113 §4.2), 16384–16777215. Default 16384. */
  readonly h2MaxFrameSize: number
  /** Bytes: SETTINGS_HEADER_TABLE_SIZE, the HPACK dynamic table the client may fill (RFC 7541 §4.2), 0–2^32−1. Default 4096. */
  readonly h2HeaderTableSize: number
  /**
   * Slow request bodies (spec.md §8.3, rule RUN-32): while the app waits
   * for a request body and has not started its response, the body must
   * bring at least this many bytes per second over every
   * `minRequestRateWindow` of waiting; a slower one ends the exchange
   * (408, or RST_STREAM CANCEL / a closed connection once the response
   * started; the app gets `http.disconnect` `timeout`). Default 240 (as
   * Kestrel's MinRequestBodyDataRate); 0 turns it off.
   */
  readonly minRequestRate: number
  /** ms of waiting over which `minRequestRate` is measured (Kestrel's grace period). Default 5000. */
  readonly minRequestRateWindow: number
  /**
   * Requests one connection may carry (spec.md §8.3, rule RUN-34): HTTP/1.1
   * answers the last with `connection: close` (node:http's
   * `maxRequestsPerSocket`; a request pipelined past it gets 503); HTTP/2
   * sends GOAWAY after the stream that reaches it, the streams in flight
   * completing. Default 0: no limit.
   */
  readonly maxRequestsPerConnection: number
  /**
   * What reads and writes HTTP/1.1 (spec.md §8.7, rule RUN-40): `"egi"`
   * (default), the runner's own codec for requests without a body, which
   * hands a connection to node:http at its first other request (a body,
   * an upgrade, `Expect`, HTTP/1.0, a malformed head); `"node"`, node:http
   * for every request.
   */
  readonly http1Codec: "egi" | "node"
  /**
   * ms an app may take to complete its response, from the request's
   * admission (spec.md §8.3, rule RUN-35); past it the app is interrupted
   * and the client gets 503 (HTTP/1.1 then closes), or RST_STREAM CANCEL /
   * a closed connection when the response had started; `end=timeout` in
   * the access log. Default 0: none. WebSockets are not bounded by it.
   */
  readonly responseTimeout: number
}

/**
 * The options a running server works with: `RunnerOptions` filled in, and the
 * `runnerLog` made from `log` in the server's context (internal to the runner).
 */
export interface ResolvedOptions extends RunnerOptions {
  readonly runnerLog: RunnerLog
}

/** Largest HTTP/2 SETTINGS value (RFC 9113 §6.5.1: 32 bits). @since 0.1.0 @category constants */
export const maxSetting = 2 ** 32 - 1

/** Largest delay a Node timer takes, in ms (2^31 − 1). @since 0.1.0 @category constants */
export const maxTimerMs = 2 ** 31 - 1

/**
 * The defaults every option falls back to (spec.md §8.3):
 * 127.0.0.1:8000, h2c and HTTP/1.1 on one port, 128 concurrent streams,
 * 64 KiB of header list, 1 GiB of body, 30 s header timeout, 60 s idle
 * timeout, 10 s drain, 256 KiB write buffer, access log on, 16 MiB
 * WebSocket messages without permessage-deflate, at most 1 MiB of them
 * queued per socket, a ping every 30 s answered within 20 s.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaults: RunnerOptions = {
  host: "127.0.0.1",
  port: 8000,
  binds: [],
  backlog: 511,
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
  log: "auto",
  rootPath: "",
  wsMaxMessageSize: 16 * 1024 * 1024,
  wsPerMessageDeflate: false,
  wsMaxQueuedBytes: 1024 * 1024,
  wsPingInterval: 30_000,
  wsPingTimeout: 20_000,
  tracing: "auto",
  proxyHeaders: false,
  forwardedAllowIps: ["127.0.0.1", "::1"],
  lifespan: "auto",
  limitConcurrency: 0,
  maxConnections: 0,
  // node:http2's own defaults: today's behaviour (spec.md §8.3).
  h2StreamResetBurst: 1000,
  h2StreamResetRate: 33,
  h2MaxSessionMemory: 10,
  h2MaxHeaderListPairs: 128,
  h2MaxInvalidFrames: 1000,
  h2MaxRejectedStreams: 100,
  h2InitialWindowSize: 65535,
  h2MaxFrameSize: 16384,
  h2HeaderTableSize: 4096,
  minRequestRate: 240,
  minRequestRateWindow: 5000,
  maxRequestsPerConnection: 0,
  http1Codec: "egi",
  responseTimeout: 0
}
