/**
 * The runner's options from Effect's `Config` (spec.md §8, the options of
 * §8.3): `optionsConfig` reads them from `EGI_*` keys, `layerConfig` serves
 * an app as a Layer with them.
 *
 * @since 0.4.0
 */
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as SchemaGetter from "effect/SchemaGetter"
import * as SchemaIssue from "effect/SchemaIssue"
import * as SchemaTransformation from "effect/SchemaTransformation"
import { readFile } from "node:fs/promises"
import type { App } from "../protocol/app.ts"
import type { ServeError } from "./errors.ts"
import type { RunnerOptions } from "./options.ts"
import { isTime, type NumericOption, optionRanges, secondsAsMs, secondsRange } from "./option-ranges.ts"
import { type ListenTarget, parseBind } from "./listen-target.ts"
import { layer } from "./server.ts"

// ---------------------------------------------------------------------------
// the values: each read from its text, checked, never rounded
// ---------------------------------------------------------------------------

/** An integer from `minimum` to `maximum`: `"8000.5"`, `"abc"` and `"70000"` (for a port) are errors, not rounded or clamped. */
const intBetween = (minimum: number, maximum: number) => Schema.Int.check(Schema.isBetween({ minimum, maximum }))

/**
 * A time option under `key`, in seconds with at most 3 decimals, as the
 * CLI's variable of the same name takes it (spec.md §8.5, RUN-39), read as
 * its ms: `EGI_DRAIN_TIMEOUT=0.5` is `drainTimeout: 500` here as for `egi serve`.
 */
const seconds = (option: NumericOption, key: string): Config.Config<number> => {
  const range = optionRanges[option]
  const check = Schema.makeFilter((text: string) => secondsAsMs(text, range) !== undefined || `Expected ${secondsRange(range)}, got ${JSON.stringify(text)}`)
  return Config.schema(Schema.String.check(check), key).pipe(Config.map((text) => secondsAsMs(text, range)!))
}

/** A numeric option under `key`, in its one range (option-ranges.ts, RUN-39): an integer, or seconds for a time. */
const ranged = (option: NumericOption, key: string): Config.Config<number> =>
  isTime(option) ? seconds(option, key) : Config.schema(intBetween(optionRanges[option].min, optionRanges[option].max), key)

/** The words `Config.Boolean` takes, and `auto`: what `tracing` is (spec.md §8.10). */
const tracingWords = ["auto", "true", "yes", "on", "1", "y", "false", "no", "off", "0", "n"] as const
const trueWords: ReadonlySet<string> = new Set(["true", "yes", "on", "1", "y"])

/**
 * A PEM file named by its path, read when the Config is parsed. An
 * unreadable file is a `ConfigError` at the key that names it
 * (`cannot read the file: ENOENT: …`).
 */
const pemFile = Schema.String.pipe(
  Schema.decodeTo(
    Schema.instanceOf(Buffer),
    new SchemaTransformation.Transformation<Buffer, string>(
      SchemaGetter.transformEffect((path: string) =>
        Effect.tryPromise({
          try: () => readFile(path),
          catch: (cause) => new SchemaIssue.InvalidValue({ message: `cannot read the file: ${(cause as Error).message}` }, path)
        })
      ),
      SchemaGetter.forbidden(() => "a PEM file's contents are not encoded back to its path")
    )
  )
)

/** A comma-separated list, trimmed, empty entries dropped (also the CLI's lists). */
export const splitList = (list: string): Array<string> => list.split(",").map((s) => s.trim()).filter((s) => s !== "")

/** Comma-separated `--bind` spellings (`parseBind`): the first that is none fails with its message. */
const bindList = Schema.String.check(Schema.makeFilter((list: string) => {
  for (const text of splitList(list)) {
    const target = parseBind(text)
    if (typeof target === "string") return target
  }
  return true
}))

/** A Config that fails at `name` with `message` (a present key whose value is refused as a whole). */
const refuse = (name: string, message: string): Config.Config<never> =>
  Config.schema(Schema.String.check(Schema.makeFilter(() => message)), name) as Config.Config<never>

/**
 * `tls` from `TLS_CERT` and `TLS_KEY`, two file paths: both (the files
 * read), or neither (`None`); one without the other fails at the one given.
 */
const tlsConfig: Config.Config<Option.Option<NonNullable<RunnerOptions["tls"]>>> = Config.all({
  cert: Config.option(Config.schema(pemFile, "TLS_CERT")),
  key: Config.option(Config.schema(pemFile, "TLS_KEY"))
}).pipe(Config.flatMap(({ cert, key }) => {
  if (Option.isSome(cert) && Option.isSome(key)) return Config.succeed(Option.some({ cert: cert.value, key: key.value }))
  if (Option.isSome(cert)) return refuse("TLS_CERT", "TLS_KEY is missing: TLS_CERT and TLS_KEY go together")
  if (Option.isSome(key)) return refuse("TLS_KEY", "TLS_CERT is missing: TLS_CERT and TLS_KEY go together")
  return Config.succeed(Option.none())
}))

/** The options that are plain data, each under its CONSTANT_CASE key, each optional. */
const fields = {
  host: Config.String("HOST"),
  port: ranged("port", "PORT"),
  h2cOnly: Config.Boolean("H2C_ONLY"),
  maxConcurrentStreams: ranged("maxConcurrentStreams", "MAX_CONCURRENT_STREAMS"),
  maxHeaderListSize: ranged("maxHeaderListSize", "MAX_HEADER_LIST_SIZE"),
  maxBodySize: ranged("maxBodySize", "MAX_BODY_SIZE"),
  headerTimeout: ranged("headerTimeout", "HEADER_TIMEOUT"),
  idleTimeout: ranged("idleTimeout", "IDLE_TIMEOUT"),
  drainTimeout: ranged("drainTimeout", "DRAIN_TIMEOUT"),
  writeBufferSize: ranged("writeBufferSize", "WRITE_BUFFER_SIZE"),
  accessLog: Config.Boolean("ACCESS_LOG"),
  rootPath: Config.String("ROOT_PATH"),
  wsMaxMessageSize: ranged("wsMaxMessageSize", "WS_MAX_MESSAGE_SIZE"),
  wsPerMessageDeflate: Config.Boolean("WS_PER_MESSAGE_DEFLATE"),
  wsMaxQueuedBytes: ranged("wsMaxQueuedBytes", "WS_MAX_QUEUED_BYTES"),
  wsPingInterval: ranged("wsPingInterval", "WS_PING_INTERVAL"),
  wsPingTimeout: ranged("wsPingTimeout", "WS_PING_TIMEOUT"),
  tracing: Config.Literals(tracingWords, "TRACING").pipe(
    Config.map((word): RunnerOptions["tracing"] => word === "auto" ? "auto" : trueWords.has(word))
  ),
  backlog: ranged("backlog", "BACKLOG"),
  binds: Config.schema(bindList, "BINDS").pipe(
    Config.map((list) => splitList(list).map((text) => parseBind(text) as ListenTarget))
  ),
  proxyHeaders: Config.Boolean("PROXY_HEADERS"),
  forwardedAllowIps: Config.String("FORWARDED_ALLOW_IPS").pipe(
    Config.map((list): ReadonlyArray<string> => splitList(list))
  ),
  lifespan: Config.Literals(["auto", "on", "off"], "LIFESPAN"),
  http1Codec: Config.Literals(["egi", "node"], "HTTP1_CODEC"),
  limitConcurrency: ranged("limitConcurrency", "LIMIT_CONCURRENCY"),
  maxConnections: ranged("maxConnections", "MAX_CONNECTIONS"),
  // HTTP/2 session limits and SETTINGS (spec.md §8.3, RUN-27, RUN-28), in their ranges.
  h2StreamResetBurst: ranged("h2StreamResetBurst", "H2_STREAM_RESET_BURST"),
  h2StreamResetRate: ranged("h2StreamResetRate", "H2_STREAM_RESET_RATE"),
  h2MaxSessionMemory: ranged("h2MaxSessionMemory", "H2_MAX_SESSION_MEMORY"),
  h2MaxHeaderListPairs: ranged("h2MaxHeaderListPairs", "H2_MAX_HEADER_LIST_PAIRS"),
  h2MaxInvalidFrames: ranged("h2MaxInvalidFrames", "H2_MAX_INVALID_FRAMES"),
  h2MaxRejectedStreams: ranged("h2MaxRejectedStreams", "H2_MAX_REJECTED_STREAMS"),
  h2InitialWindowSize: ranged("h2InitialWindowSize", "H2_INITIAL_WINDOW_SIZE"),
  h2MaxFrameSize: ranged("h2MaxFrameSize", "H2_MAX_FRAME_SIZE"),
  h2HeaderTableSize: ranged("h2HeaderTableSize", "H2_HEADER_TABLE_SIZE"),
  minRequestRate: ranged("minRequestRate", "MIN_REQUEST_RATE"),
  minRequestRateWindow: ranged("minRequestRateWindow", "MIN_REQUEST_RATE_WINDOW"),
  maxRequestsPerConnection: ranged("maxRequestsPerConnection", "MAX_REQUESTS_PER_CONNECTION"),
  responseTimeout: ranged("responseTimeout", "RESPONSE_TIMEOUT")
} satisfies { readonly [K in keyof RunnerOptions]?: Config.Config<RunnerOptions[K]> }

// ---------------------------------------------------------------------------
// the public API
// ---------------------------------------------------------------------------

/**
 * The runner's options (spec.md §8, the table of §8.3) from Effect's
 * `Config`, as the `Partial<RunnerOptions>` that `start`, `serve` and
 * `layer` take: each option is read from the key `EGI_` + its name in
 * CONSTANT_CASE, and an absent key leaves the option out, so its default
 * applies (`defaults`). With Effect's default ConfigProvider (the
 * environment, `ConfigProvider.fromEnv()`) the keys are environment
 * variables; an empty one counts as unset.
 *
 * | variable | option | value |
 * |---|---|---|
 * | `EGI_HOST` | `host` | interface to bind |
 * | `EGI_PORT` | `port` | integer 0–65535 (0: any free port) |
 * | `EGI_H2C_ONLY` | `h2cOnly` | boolean |
 * | `EGI_TLS_CERT`, `EGI_TLS_KEY` | `tls` | paths of the PEM certificate chain and key, both or neither; the files are read when the Config is parsed |
 * | `EGI_MAX_CONCURRENT_STREAMS` | `maxConcurrentStreams` | integer 0–2^32−1 |
 * | `EGI_MAX_HEADER_LIST_SIZE` | `maxHeaderListSize` | bytes, integer 0–2^32−1 |
 * | `EGI_MAX_BODY_SIZE` | `maxBodySize` | bytes, integer ≥ 0 |
 * | `EGI_HEADER_TIMEOUT`, `EGI_IDLE_TIMEOUT`, `EGI_DRAIN_TIMEOUT` | `headerTimeout`, `idleTimeout`, `drainTimeout` | seconds, 0–2147483.647 |
 * | `EGI_WRITE_BUFFER_SIZE` | `writeBufferSize` | bytes, integer 0–2^31−1 |
 * | `EGI_ACCESS_LOG` | `accessLog` | boolean |
 * | `EGI_ROOT_PATH` | `rootPath` | string |
 * | `EGI_WS_MAX_MESSAGE_SIZE` | `wsMaxMessageSize` | bytes, integer 0–2^31−1 (0: no limit) |
 * | `EGI_WS_PER_MESSAGE_DEFLATE` | `wsPerMessageDeflate` | boolean |
 * | `EGI_WS_MAX_QUEUED_BYTES` | `wsMaxQueuedBytes` | bytes, integer ≥ 0 |
 * | `EGI_WS_PING_INTERVAL`, `EGI_WS_PING_TIMEOUT` | `wsPingInterval`, `wsPingTimeout` | seconds, 0–2147483.647 |
 * | `EGI_TRACING` | `tracing` | `auto` or a boolean |
 * | `EGI_BINDS` | `binds` | comma-separated `host:port`, `unix:PATH`, `fd://N` |
 * | `EGI_BACKLOG` | `backlog` | integer 0–2^31−1 |
 * | `EGI_LIFESPAN` | `lifespan` | `auto`, `on` or `off` |
 * | `EGI_HTTP1_CODEC` | `http1Codec` | `egi` or `node` |
 * | `EGI_PROXY_HEADERS` | `proxyHeaders` | boolean |
 * | `EGI_FORWARDED_ALLOW_IPS` | `forwardedAllowIps` | comma-separated addresses and CIDR blocks, or `*` |
 * | `EGI_LIMIT_CONCURRENCY`, `EGI_MAX_CONNECTIONS` | `limitConcurrency`, `maxConnections` | integer ≥ 0 (0: no limit) |
 * | `EGI_H2_STREAM_RESET_BURST`, `EGI_H2_STREAM_RESET_RATE` | `h2StreamResetBurst`, `h2StreamResetRate` | RST_STREAM frames, per second for the rate; integer 1–2^32−1 |
 * | `EGI_H2_MAX_SESSION_MEMORY` | `h2MaxSessionMemory` | MB, integer 1–2^20 |
 * | `EGI_H2_MAX_HEADER_LIST_PAIRS` | `h2MaxHeaderListPairs` | fields, integer 4–2^32−1 |
 * | `EGI_H2_MAX_INVALID_FRAMES`, `EGI_H2_MAX_REJECTED_STREAMS` | `h2MaxInvalidFrames`, `h2MaxRejectedStreams` | integer 0–2^32−1 |
 * | `EGI_H2_INITIAL_WINDOW_SIZE` | `h2InitialWindowSize` | bytes, integer 0–2^31−1 |
 * | `EGI_H2_MAX_FRAME_SIZE` | `h2MaxFrameSize` | bytes, integer 16384–16777215 |
 * | `EGI_H2_HEADER_TABLE_SIZE` | `h2HeaderTableSize` | bytes, integer 0–2^32−1 |
 * | `EGI_MIN_REQUEST_RATE` | `minRequestRate` | bytes per second, integer ≥ 0 (0: off) |
 * | `EGI_MIN_REQUEST_RATE_WINDOW` | `minRequestRateWindow` | seconds, 0–2147483.647 |
 * | `EGI_MAX_REQUESTS_PER_CONNECTION` | `maxRequestsPerConnection` | integer ≥ 0 (0: no limit) |
 * | `EGI_RESPONSE_TIMEOUT` | `responseTimeout` | seconds, 0–2147483.647 (0: none) |
 *
 * Booleans are the words `Config.Boolean` takes (`true`/`false`, `yes`/`no`,
 * `on`/`off`, `1`/`0`, `y`/`n`). Sizes and counts are integers (bytes,
 * streams, …); times are seconds with at most 3 decimals, as the CLI's
 * variables of the same names take them (`EGI_DRAIN_TIMEOUT=0.5` is
 * `drainTimeout: 500`, in ms as the options are), so one environment means
 * the same to `egi serve` and to `layerConfig`. Each is held to the range of
 * `optionRanges`, as `start` and the CLI hold it; a value that is not one,
 * or is out of range (`8000.5`, `abc`, `70000` for the port, `0.0005` or
 * `1e3` for a time), fails with `Config.ConfigError` at its path, e.g.
 * `Expected an integer at ["EGI"]["PORT"]` — never rounded or clamped. So do an unreadable TLS file
 * (`cannot read the file: ENOENT: …` at `["EGI"]["TLS_CERT"]`) and one TLS
 * key without the other. Where the log goes (`log`) is not read: it is a
 * choice of the program, not of the deployment.
 *
 * The keys are the path `["EGI", "<NAME>"]` (`Config.nested("EGI")` around
 * `Config.Int("PORT")` and the like), which Effect's env ConfigProvider
 * joins with `_` into `EGI_PORT`. A provider that transforms paths applies
 * as usual: `ConfigProvider.nested("MYAPP")` on it reads `MYAPP_EGI_PORT`;
 * `ConfigProvider.fromUnknown({ EGI: { PORT: 8000 } })` reads a parsed
 * JSON or YAML file. `ConfigProvider.constantCase` is not needed, and
 * would break one key: it spells `H2C_ONLY` as `H2_C_ONLY`.
 *
 * ```ts
 * import { ConfigProvider, Effect } from "effect"
 * const provider = ConfigProvider.fromEnv({ env: { EGI_PORT: "8080", EGI_IDLE_TIMEOUT: "5" } })
 * Effect.runPromise(optionsConfig.parse(provider)) // { port: 8080, idleTimeout: 5000 }
 * ```
 *
 * A Config is an Effect too: `yield* optionsConfig` in `Effect.gen` reads
 * the ConfigProvider of the context.
 *
 * @since 0.4.0
 * @category config
 */
export const optionsConfig: Config.Config<Partial<RunnerOptions>> = Config.all({
  options: Config.all(Object.fromEntries(
    Object.entries(fields).map(([name, config]) => [name, Config.option(config as Config.Config<unknown>)])
  )),
  tls: tlsConfig
}).pipe(
  Config.map(({ options, tls }): Partial<RunnerOptions> => {
    const out: Record<string, unknown> = {}
    for (const [name, value] of Object.entries(options)) if (Option.isSome(value)) out[name] = value.value
    if (Option.isSome(tls)) out["tls"] = tls.value
    return out as Partial<RunnerOptions>
  }),
  Config.nested("EGI")
)

/**
 * Serving as a Layer with the options from Effect's `Config` (spec.md §8):
 * `layer(app, options)` with the options `config` reads when the Layer is
 * built — by default `optionsConfig`, the `EGI_*` environment variables,
 * the defaults for those unset. `config` is a `Config` of the options or,
 * as Effect's own `layerConfig`s take, a record of one `Config` per option
 * (`{ port: Config.Port("PORT") }`). The ConfigProvider is the one of the
 * context the Layer is built in (the environment unless a
 * `ConfigProvider.layer` is provided).
 *
 * ```ts
 * import { NodeRuntime } from "@effect/platform-node"
 * import * as Egi from "egi"
 * // EGI_PORT=8080 EGI_MAX_BODY_SIZE=1048576 node main.ts
 * Egi.layerConfig(app).pipe(Layer.provide(AppLive), Layer.launch, NodeRuntime.runMain)
 * ```
 *
 * Fails with `Config.ConfigError` when a value is malformed or out of range
 * (no server is started then), and with `ServeError` as `start` does.
 * The server runs, and shuts down, as with `layer`.
 *
 * @since 0.4.0
 * @category layers
 */
export const layerConfig = <E, R>(
  app: App<E, R>,
  config: Config.Wrap<Partial<RunnerOptions>> = optionsConfig
): Layer.Layer<never, ServeError | Config.ConfigError, R> =>
  Layer.unwrap(Effect.map(Config.unwrap(config), (options) => layer(app, options)))
