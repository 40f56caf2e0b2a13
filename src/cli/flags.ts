/**
 * The options of `egi serve` (spec.md §8.5): one table, from which come the
 * effect/cli flags (`Flag`), their environment variables (`EGI_*`, read
 * through Effect's `Config` when the flag is absent: rule RUN-17), the
 * `--help` text, and the one-line messages a refused value gets.
 *
 * Each flag's variable is `EGI_` + its long name in CONSTANT_CASE
 * (`--drain-timeout` → `EGI_DRAIN_TIMEOUT`), and takes what the flag takes,
 * in the flag's units (times in seconds, sizes in bytes); booleans take
 * `true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off`, `y`/`n`. Values are
 * checked, never rounded or clamped: `--port 8000.5` is refused.
 */
import * as Config from "effect/Config"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { CliError, Flag } from "effect/cli"
import { availableParallelism } from "node:os"
import { type ListenTarget, parseBind } from "../runner/listen-target.ts"
import { defaults } from "../runner/options.ts"
import { isTime, type NumericOption, type OptionRange, optionRanges, secondsAsMs, secondsRange } from "../runner/option-ranges.ts"
import { splitList } from "../runner/config.ts"

/** A value refused: the sentence after `egi: `. */
interface Refused {
  readonly refused: string
}

type Parse<A> = (text: string, source: string) => A | Refused

/** One option of `egi serve`. */
interface Spec<A> {
  /** The long flag name, without `--`. */
  readonly name: string
  /** `<n>`, `<s>` … (none for booleans). */
  readonly metavar?: string
  /** What `--help` says it does; the default and the variable are appended. */
  readonly help: string
  /** The default shown in `--help`, if any. */
  readonly shown?: string
  /** How `--help` spells a boolean flag (`--no-access-log` for one that is on by default). */
  readonly spelled?: string
  /** How a valued flag's text (and its variable's) is read: the value, or the refusal. */
  readonly parse?: Parse<unknown>
  readonly flag: Flag.Flag<A>
}

/** `EGI_` + the flag's name in CONSTANT_CASE. */
export const envName = (flag: string): string => `EGI_${flag.replace(/-/g, "_").toUpperCase()}`

const isRefused = (value: unknown): value is Refused => typeof value === "object" && value !== null && "refused" in value

/** The words a boolean variable takes (as `Config.Boolean`). */
const TRUE = new Set(["true", "1", "yes", "on", "y"])
const FALSE = new Set(["false", "0", "no", "off", "n"])

/** "a, b or c" */
const either = (words: ReadonlyArray<string>): string => words.length === 1 ? words[0]! : `${words.slice(0, -1).join(", ")} or ${words.at(-1)}`

/**
 * The variable of `name`, checked with `parse`; a refused value is a
 * `ConfigError` whose message is the one-line refusal (effect/cli reports it
 * as the flag's `InvalidValue`, with `value: "config"`).
 */
const fromEnv = <A>(name: string, parse: Parse<A>): Config.Config<A> =>
  Config.String(envName(name)).pipe(Config.mapEffect((text) => {
    const value = parse(text, envName(name))
    return isRefused(value)
      ? Effect.fail(new Config.ConfigError(new ConfigProvider.SourceError({ message: value.refused })))
      : Effect.succeed(value)
  }))

/** A flag that takes a value, read with `parse` from the command line or else from its variable; `None` when neither has it. */
const valued = <A>(name: string, metavar: string, parse: Parse<A>, help: string, shown?: string): Spec<Option.Option<A>> => ({
  name,
  metavar,
  help,
  ...(shown === undefined ? {} : { shown }),
  parse,
  flag: Flag.String(name).pipe(
    Flag.withDescription(help),
    Flag.withMetavar(metavar),
    Flag.mapEffect((text) => {
      const value = parse(text, `--${name}`)
      return isRefused(value)
        ? Effect.fail(new CliError.InvalidValue({ option: name, value: text, expected: value.refused, kind: "flag" }))
        : Effect.succeed(value)
    }),
    Flag.withFallbackConfig(fromEnv(name, parse)),
    Flag.optional
  )
})

/** A boolean flag, `--name` and `--no-name`, else its variable, else `fallback`. */
const boolean = <B>(name: string, help: string, fallback: B, spelled?: string): Spec<boolean | B> => ({
  name,
  help,
  ...(spelled === undefined ? {} : { spelled }),
  flag: Flag.Boolean(name).pipe(
    Flag.withDescription(help),
    Flag.withFallbackConfig(fromEnv(name, booleanOf)),
    Flag.withDefault(fallback)
  )
})

// ---------------------------------------------------------------------------
// the values
// ---------------------------------------------------------------------------

const booleanOf: Parse<boolean> = (text, source) => {
  const word = text.trim().toLowerCase()
  if (TRUE.has(word)) return true
  if (FALSE.has(word)) return false
  return { refused: `${source} takes true or false (1/0, yes/no, on/off), got ${JSON.stringify(text)}` }
}

/** An integer from `min` to `max`, digits only: `8000.5`, `1e3`, ` ` and `-1` are refused, never rounded. */
const integer = (min: number, max: number): Parse<number> => (text, source) => {
  const n = Number(text)
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < min || n > max) {
    return { refused: `${source} takes an integer from ${min} to ${max}, got ${JSON.stringify(text)}` }
  }
  return n
}

/** A time in seconds as its ms, in `range` (ms): `secondsAsMs`, shared with `optionsConfig` (RUN-39). */
const secondsIn = (range: OptionRange): Parse<number> => (text, source) =>
  secondsAsMs(text, range) ?? { refused: `${source} takes ${secondsRange(range)}, got ${JSON.stringify(text)}` }

/** One of `words`. */
const oneOf = <const W extends string>(words: ReadonlyArray<W>): Parse<W> => (text, source) =>
  (words as ReadonlyArray<string>).includes(text) ? text as W : { refused: `${source} takes ${either(words)}, got ${JSON.stringify(text)}` }

/** Any string (a path, a host); empty is refused (an empty variable counts as unset). */
const text: Parse<string> = (value, source) => value === "" ? { refused: `${source} takes a non-empty value` } : value

/** Any string, empty included (`--root-path ""`). */
const anyText: Parse<string> = (value) => value

/** `--tracing`: `auto` or a boolean. */
const tracingOf: Parse<boolean | "auto"> = (value, source) => {
  if (value.trim().toLowerCase() === "auto") return "auto"
  const b = booleanOf(value, source)
  return isRefused(b) ? { refused: `${source} takes auto, true or false, got ${JSON.stringify(value)}` } : b
}

/** A non-empty comma-separated list; `what` says what it lists in the refusal (`takes <what>, got …`). */
const listOf = (what: string): Parse<ReadonlyArray<string>> => (value, source) => {
  const items = splitList(value)
  return items.length === 0 ? { refused: `${source} takes ${what}, got ${JSON.stringify(value)}` } : items
}

/** `--forwarded-allow-ips`: a comma-separated list. */
const list = listOf("a comma-separated list of addresses")

/** `--reload-dir`: a directory, or a comma-separated list of them. */
const directories = listOf("a directory, or a comma-separated list of them")

const inSeconds = (ms: number): string => `${ms / 1000}`

/** `--bind`: comma-separated `host:port`, `unix:PATH`, `fd://N` (parseBind). */
const binds: Parse<ReadonlyArray<ListenTarget>> = (value, source) => {
  const targets: Array<ListenTarget> = []
  for (const item of splitList(value)) {
    const target = parseBind(item)
    if (typeof target === "string") return { refused: `${source} takes comma-separated host:port, unix:PATH, fd://N: ${target}` }
    targets.push(target)
  }
  return targets.length === 0 ? { refused: `${source} takes host:port, unix:PATH or fd://N, comma-separated` } : targets
}

/** `--uds-mode`: an octal file mode, `660` or `0o660`. */
const octalMode: Parse<number> = (value, source) => {
  const m = /^(?:0o?)?([0-7]{3})$/.exec(value.trim())
  return m === null ? { refused: `${source} takes an octal file mode such as 660, got ${JSON.stringify(value)}` } : parseInt(m[1]!, 8)
}

/** `--workers`: a count, 0 for one per core. */
const workerCount: Parse<number> = (value, source) => {
  const n = integer(0, 1024)(value, source)
  return typeof n === "number" && n === 0 ? availableParallelism() : n
}

/**
 * The flag of a numeric runner option, in that option's one range
 * (option-ranges.ts, RUN-39): an integer, or seconds for a time (`ms`), with
 * the option's default in `--help` unless `shown` says otherwise.
 */
const ranged = (option: NumericOption, name: string, metavar: string, help: string, shown?: string): Spec<Option.Option<number>> => {
  const range = optionRanges[option]
  const time = isTime(option)
  const parse = time ? secondsIn(range) : integer(range.min, range.max)
  return valued(name, metavar, parse, help, shown ?? (time ? inSeconds(defaults[option]) : String(defaults[option])))
}

/** An HTTP/2 limit's flag (h2-limits.ts): `ranged`, its range in `--help`. */
const h2Limit = (option: NumericOption, name: string, metavar: string, help: string): Spec<Option.Option<number>> =>
  ranged(option, name, metavar, `${help}; ${optionRanges[option].min} to ${optionRanges[option].max}`)

// ---------------------------------------------------------------------------
// the table
// ---------------------------------------------------------------------------

/** The options of `egi serve`, in `--help` order. */
export const serveOptions = {
  host: valued("host", "<addr>", text, "interface to bind", defaults.host),
  port: ranged("port", "port", "<n>", "TCP port, 0 for any free one"),
  bind: valued("bind", "<list>", binds, "listen on these instead of --host/--port: comma-separated host:port, [v6]:port, unix:PATH, fd://N (an inherited socket)"),
  uds: valued("uds", "<path>", text, "also listen on this Unix domain socket (removed at exit)"),
  udsMode: valued("uds-mode", "<mode>", octalMode, "file mode of --uds (and unix: binds), octal"),
  fd: valued("fd", "<n>", integer(0, 65535), "also listen on this inherited listening socket (systemd socket activation: 3)"),
  backlog: ranged("backlog", "backlog", "<n>", "pending connections each listener queues"),
  h2c: boolean("h2c", "cleartext HTTP/2 only, prior knowledge (no HTTP/1.1 detection)", false),
  tlsCert: valued("tls-cert", "<file>", text, "PEM certificate chain: serve TLS, h2 and http/1.1 by ALPN"),
  tlsKey: valued("tls-key", "<file>", text, "PEM private key (with --tls-cert)"),
  tlsKeyPassword: valued("tls-key-password", "<pw>", text, "passphrase of an encrypted --tls-key; prefer the variable or --tls-key-password-file (a command line is visible to other users)"),
  tlsKeyPasswordFile: valued("tls-key-password-file", "<file>", text, "read the passphrase of --tls-key from this file's first line (again on SIGHUP)"),
  tlsCa: valued("tls-ca", "<file>", text, "PEM CA certificate(s) that client certificates are verified against (turns on --tls-client-auth request)"),
  tlsClientAuth: valued("tls-client-auth", "<none|request|require>", oneOf(["none", "request", "require"] as const), "ask clients for a certificate (verified against --tls-ca): request serves those without one, require refuses them; the app sees a verified one as tls.client_certificate (spec.md §7.11)", "none, request with --tls-ca"),
  tlsCiphers: valued("tls-ciphers", "<list>", text, "OpenSSL cipher list (TLS 1.2 ciphers, TLS 1.3 suites)", "Node's"),
  tlsMinVersion: valued("tls-min-version", "<TLSv1.2|TLSv1.3>", oneOf(["TLSv1.2", "TLSv1.3"] as const), "lowest TLS version accepted", "TLSv1.2"),
  drainTimeout: ranged("drainTimeout", "drain-timeout", "<s>", "on SIGINT/SIGTERM, seconds in-flight streams may take"),
  maxConcurrentStreams: ranged("maxConcurrentStreams", "max-concurrent-streams", "<n>", "HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS"),
  maxHeaderListSize: ranged("maxHeaderListSize", "max-header-list-size", "<bytes>", "request header list limit (HTTP/2: name + value + 32 per field, RFC 9113 §6.5.2), 431 beyond it (HTTP/2 after the SETTINGS ACK: RST_STREAM ENHANCE_YOUR_CALM)"),
  maxBodySize: ranged("maxBodySize", "max-body-size", "<bytes>", "request body limit, 413 beyond it"),
  headerTimeout: ranged("headerTimeout", "header-timeout", "<s>", "HTTP/1.1 time allowed for a request head, 408 after; also bounds the TLS handshake and protocol detection, from the accept"),
  idleTimeout: ranged("idleTimeout", "idle-timeout", "<s>", "close idle connections after this"),
  rootPath: valued("root-path", "<path>", anyText, "scope.rootPath", `""`),
  http1Codec: valued("http1-codec", "<egi|node>", oneOf(["egi", "node"] as const), "what serves HTTP/1.1: egi, the runner's own codec for requests without a body, node:http for the rest of a connection from its first other request; node: node:http for every request", "egi"),
  lifespan: valued("lifespan", "<auto|on|off>", oneOf(["auto", "on", "off"] as const), "lifespan: on makes an app without lifespan support a startup failure (exit 1); off never calls it", "auto"),
  interface: valued("interface", "<auto|egi|fetch|effect>", oneOf(["auto", "egi", "fetch", "effect"] as const), "what the export is: an EGI app, a fetch handler ((request) => Response, or an object with fetch, such as a Hono app), an Effect HttpApp or a Layer of HttpRouter routes (HttpRouter, HttpApi); auto tells them by shape and says which it picked", "auto"),
  factory: boolean("factory", "the export is a function that returns the app (sync or async), called once at start", false),
  appDir: valued("app-dir", "<dir>", text, "resolve <module> from this directory", "the current one"),
  envFile: valued("env-file", "<file>", text, "load environment variables from this file (process.loadEnvFile) before any option is read; variables already set win"),
  syncWorkers: valued("sync-workers", "<n>", integer(1, 1024), "the export is a classic (blocking) app: run it in n worker threads"),
  workers: valued("workers", "<n>", workerCount, "run n worker processes (0: one per core) under a primary that respawns them; SIGHUP replaces them one at a time (spec.md §8.13)", "1, no primary"),
  maxRequests: valued("max-requests", "<n>", integer(1, Number.MAX_SAFE_INTEGER), "with --workers: replace a worker after this many requests"),
  maxRequestsJitter: valued("max-requests-jitter", "<n>", integer(0, Number.MAX_SAFE_INTEGER), "with --max-requests: up to this many more, drawn per worker", "0"),
  maxWorkerMemory: valued("max-worker-memory", "<MiB>", integer(1, 2 ** 20), "with --workers: replace a worker whose RSS passes this many MiB"),
  wsMaxMessageSize: ranged("wsMaxMessageSize", "ws-max-message-size", "<bytes>", "largest WebSocket message, 1009 beyond it; 0 for no limit"),
  wsPingInterval: ranged("wsPingInterval", "ws-ping-interval", "<s>", "seconds between pings on open WebSockets, 0 for none"),
  wsPingTimeout: ranged("wsPingTimeout", "ws-ping-timeout", "<s>", "seconds a pong, or the client's close frame, may take before the connection is dropped"),
  wsDeflate: boolean("ws-deflate", "accept permessage-deflate (RFC 7692) on WebSockets whose client offers it; off by default: costs about 240 KiB of memory per such socket (zlib contexts; measured)", false),
  wsMaxQueuedBytes: ranged("wsMaxQueuedBytes", "ws-max-queued-bytes", "<bytes>", "received WebSocket message bytes queued per socket while the app does not receive; past it the socket is not read (backpressure, nothing dropped)"),
  accessLog: boolean("access-log", "do not print a line per request", true, "--no-access-log"),
  logFormat: valued("log-format", "<text|json|logfmt>", oneOf(["text", "json", "logfmt"] as const), "how log lines look: EGI's text lines, or Effect's Logger.consoleJson / consoleLogFmt for the server's lines and the app's Effect.log alike", "text"),
  logLevel: valued("log-level", "<trace|debug|info|warn|error|none>", oneOf(["trace", "debug", "info", "warn", "error", "none"] as const), "the least severe line logged: Effect's References.MinimumLogLevel for the server's lines (access and info lines are info) and the app's Effect.log alike (RUN-25)", "info"),
  reload: boolean("reload", "development: serve from a child process and restart it when a .ts, .js, .mjs or .json file under --reload-dir changes; a module that fails to load keeps the old server up (RUN-24; not with --workers)", false),
  reloadDir: {
    name: "reload-dir",
    metavar: "<dir>",
    help: "with --reload: watch this directory (repeatable or comma-separated)",
    shown: "the app module's directory",
    flag: Flag.String("reload-dir").pipe(
      Flag.withDescription("with --reload: watch this directory (repeatable or comma-separated; default: the app module's directory)"),
      Flag.withMetavar("<dir>"),
      Flag.mapEffect((value) => {
        const given = directories(value, "--reload-dir")
        return isRefused(given)
          ? Effect.fail(new CliError.InvalidValue({ option: "reload-dir", value, expected: given.refused, kind: "flag" }))
          : Effect.succeed(given)
      }),
      Flag.atLeast(1),
      Flag.map((given) => given.flat()),
      Flag.withFallbackConfig(fromEnv("reload-dir", directories)),
      Flag.optional
    )
  } satisfies Spec<Option.Option<ReadonlyArray<string>>>,
  tracing: {
    name: "tracing",
    help: "no server span per stream (spec.md §8.10; by default, auto, spans are made when the app's layer provides a tracer; --tracing: always)",
    spelled: "--no-tracing",
    flag: Flag.Boolean("tracing").pipe(
      Flag.withDescription("server spans per stream: --no-tracing for none, --tracing for always (default: auto, when the app's layer provides a tracer)"),
      Flag.withFallbackConfig(fromEnv("tracing", tracingOf)),
      Flag.withDefault<boolean | "auto">("auto")
    )
  } satisfies Spec<boolean | "auto">,
  proxyHeaders: boolean("proxy-headers", "take client, scheme and authority from Forwarded / X-Forwarded-* sent by a trusted proxy (spec.md §8.12)", false),
  forwardedAllowIps: valued("forwarded-allow-ips", "<list>", list, "the proxies trusted with --proxy-headers: comma-separated addresses and CIDR blocks, or *", defaults.forwardedAllowIps.join(",")),
  limitConcurrency: ranged("limitConcurrency", "limit-concurrency", "<n>", "at most n apps in flight (requests of both protocols and WebSockets); past it 503 with retry-after, not a queue (RUN-22; per worker); 0 for no limit", "0"),
  maxConnections: ranged("maxConnections", "max-connections", "<n>", "at most n open connections; past it a new one is refused: HTTP/1.1 503 and close, HTTP/2 GOAWAY (RUN-23; per worker); 0 for no limit", "0"),
  // HTTP/2 session limits and SETTINGS (spec.md §8.3, RUN-27, RUN-28), and the per-stream write buffer.
  h2StreamResetBurst: h2Limit("h2StreamResetBurst", "h2-stream-reset-burst", "<n>", "rapid reset (CVE-2023-44487): RST_STREAM frames a client may send in a burst; past it GOAWAY"),
  h2StreamResetRate: h2Limit("h2StreamResetRate", "h2-stream-reset-rate", "<n/s>", "rapid reset: RST_STREAM frames per second that refill the burst"),
  h2MaxSessionMemory: h2Limit("h2MaxSessionMemory", "h2-max-session-memory", "<MB>", "memory one HTTP/2 connection may hold in node:http2, in MB (10^6 bytes); past it new streams get RST_STREAM ENHANCE_YOUR_CALM"),
  h2MaxHeaderListPairs: h2Limit("h2MaxHeaderListPairs", "h2-max-header-list-pairs", "<n>", "fields one HTTP/2 header block may carry, pseudo-header fields included; past it RST_STREAM ENHANCE_YOUR_CALM"),
  h2MaxInvalidFrames: h2Limit("h2MaxInvalidFrames", "h2-max-invalid-frames", "<n>", "invalid frames an HTTP/2 connection may send before it is closed"),
  h2MaxRejectedStreams: h2Limit("h2MaxRejectedStreams", "h2-max-rejected-streams", "<n>", "streams refused in a row (RST_STREAM ENHANCE_YOUR_CALM) before an HTTP/2 connection is closed"),
  h2InitialWindowSize: h2Limit("h2InitialWindowSize", "h2-initial-window-size", "<bytes>", "HTTP/2 SETTINGS_INITIAL_WINDOW_SIZE: request body bytes a stream may send ahead of the app"),
  h2MaxFrameSize: h2Limit("h2MaxFrameSize", "h2-max-frame-size", "<bytes>", "HTTP/2 SETTINGS_MAX_FRAME_SIZE: largest frame payload accepted"),
  h2HeaderTableSize: h2Limit("h2HeaderTableSize", "h2-header-table-size", "<bytes>", "HTTP/2 SETTINGS_HEADER_TABLE_SIZE: the HPACK dynamic table a client may fill"),
  writeBufferSize: ranged("writeBufferSize", "write-buffer-size", "<bytes>", "response bytes a stream may queue before the app's send waits (HTTP-10)"),
  minRequestRate: ranged("minRequestRate", "min-request-rate", "<bytes/s>", "least request body rate, in bytes per second over --min-request-rate-window, while the app waits for the body before responding; slower gets 408 or a reset (RUN-32); 0 for none"),
  minRequestRateWindow: ranged("minRequestRateWindow", "min-request-rate-window", "<s>", "seconds of waiting over which --min-request-rate is measured"),
  maxRequestsPerConnection: ranged("maxRequestsPerConnection", "max-requests-per-connection", "<n>", "requests one connection may carry: HTTP/1.1 closes after the last, HTTP/2 sends GOAWAY (RUN-34); 0 for no limit", "0"),
  responseTimeout: ranged("responseTimeout", "response-timeout", "<s>", "seconds an app may take to complete a response; past it the app is interrupted, the client gets 503 or a reset (RUN-35); 0 for none", "0")
} as const

type Options = typeof serveOptions

/** The flags of `egi serve`, for `Command.make`. */
export const serveFlags = Object.fromEntries(
  Object.entries(serveOptions).map(([key, spec]) => [key, spec.flag])
) as { readonly [K in keyof Options]: Options[K]["flag"] }

const byName: ReadonlyMap<string, Spec<unknown>> = new Map(
  Object.values(serveOptions).map((spec) => [spec.name, spec as Spec<unknown>])
)

/** The variable `--env-file` names, found before effect/cli reads anything (its value is needed first). */
export const envFileOf = (argv: ReadonlyArray<string>): string | undefined => {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === "--") break
    if (arg === "--env-file") return argv[i + 1]
    if (arg.startsWith("--env-file=")) return arg.slice("--env-file=".length)
  }
  const fromEnv = process.env[envName("env-file")]
  return fromEnv === "" ? undefined : fromEnv
}

// ---------------------------------------------------------------------------
// help and errors
// ---------------------------------------------------------------------------

export const USAGE = "egi serve <module>[:export] [options]"

/** `egi --help` (and `egi serve --help`): made from the table. */
export const helpText = (): string => {
  const rows = Object.values(serveOptions).map((spec: Spec<unknown>) => {
    const left = spec.spelled ?? (spec.metavar === undefined ? `--${spec.name}` : `--${spec.name} ${spec.metavar}`)
    const shown = spec.shown === undefined ? "" : `default ${spec.shown}; `
    return { left, right: `${spec.help} (${shown}${envName(spec.name)})` }
  })
  rows.push({ left: "-h, --help", right: "show this help" }, { left: "-v, --version", right: "print the version" }, {
    left: "--completions <shell>",
    right: "print a completion script for bash, zsh, fish or powershell (e.g. egi --completions bash >> ~/.bashrc)"
  })
  const width = 34
  const indent = " ".repeat(width + 3)
  const lines = rows.map(({ left, right }) => {
    const wrapped = wrap(right, 100 - indent.length).join(`\n${indent}`)
    return left.length + 2 >= width ? `  ${left}\n${indent}${wrapped}` : `  ${left.padEnd(width)} ${wrapped}`
  })
  return `egi — serve EGI apps over HTTP/2 and HTTP/1.1

Usage:
  ${USAGE}
  egi --help | --version | --completions <shell>

<module> is a path to a .ts or .js module (or ${envName("app")}); <export> names
the app export (default: "default", then "app").

Options:
${lines.join("\n")}

Every option can also be set by the environment variable in parentheses:
EGI_ and the flag's name in CONSTANT_CASE, taking what the flag takes, in
its units (seconds, bytes); booleans take true/false, 1/0, yes/no, on/off
(EGI_ACCESS_LOG=false is --no-access-log). A flag on the command line wins
over its variable, a variable over --env-file, and that over the default.

On start it prints "listening on <url> (<protocols>)"; each request gets an
access-log line on stdout; SIGINT/SIGTERM drain and exit 0. Exit codes: 0
after help, the version or a graceful shutdown; 1 when the server fails; 2
for a usage error (one "egi: …" line).`
}

/** `text` in lines of at most `width` characters, broken at spaces. */
const wrap = (text: string, width: number): Array<string> => {
  const lines: Array<string> = []
  let line = ""
  for (const word of text.split(" ")) {
    if (line !== "" && line.length + 1 + word.length > width) {
      lines.push(line)
      line = word
    } else {
      line = line === "" ? word : `${line} ${word}`
    }
  }
  return [...lines, line]
}

/** The one line (after `egi: `) an effect/cli error becomes; `hint`: whether "Try 'egi --help'." follows. */
export const describeCliError = (error: CliError.CliError): { readonly line: string; readonly hint: boolean } => {
  switch (error._tag) {
    case "InvalidValue": {
      const spec = byName.get(error.option)
      // From the variable: the refusal is the ConfigError's message (a SourceError's).
      if (error.value === "config") return { line: error.expected.replace(/^SourceError: /, ""), hint: false }
      if (error.value === "") return { line: `--${error.option} needs a value`, hint: true }
      if (/^\d+ occurrences$/.test(error.value)) return { line: `--${error.option} is given ${error.value.split(" ")[0]} times; once at most`, hint: false }
      // Refused by the table's parse: the sentence is complete.
      if (error.expected.startsWith(`--${error.option} `)) return { line: error.expected, hint: false }
      if (spec !== undefined && spec.metavar === undefined) {
        return { line: `--${error.option} takes no value, got ${JSON.stringify(error.value)}`, hint: false }
      }
      return { line: `--${error.option}: ${JSON.stringify(error.value)}: ${error.expected}`, hint: false }
    }
    case "UnrecognizedOption": {
      const suggestions = error.suggestions.length > 0 ? ` (did you mean ${either(error.suggestions.map((s) => s.trim()))}?)` : ""
      return { line: `unknown option '${error.option}'${suggestions}`, hint: true }
    }
    case "MissingArgument":
      return { line: `usage: ${USAGE}`, hint: true }
    case "UnexpectedArgument":
      return { line: `unexpected argument${error.arguments.length > 1 ? "s" : ""} ${error.arguments.map((a) => JSON.stringify(a)).join(" ")}; usage: ${USAGE}`, hint: true }
    case "UnknownSubcommand":
      return { line: `unknown command ${JSON.stringify(error.subcommand)}; usage: ${USAGE}`, hint: true }
    default:
      return { line: error.message.split("\n")[0]!, hint: true }
  }
}
