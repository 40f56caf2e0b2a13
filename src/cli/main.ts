/**
 * `egi` — the command line: `egi serve <module>[:export] [options]`, on
 * effect's own CLI module (`effect/cli`): the flags, their `EGI_*`
 * variables and `--help` come from one table (flags.ts); `--help`,
 * `--version` and `--completions <shell>` are effect/cli's built-ins,
 * presented in EGI's words.
 *
 * Exit codes: 0 after help, the version or a graceful shutdown, 1 when the
 * server fails (bind, TLS, lifespan startup), 2 for usage errors and
 * modules that cannot be loaded — each failure as one `egi: …` line.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Cause from "effect/Cause"
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FileSystem from "effect/FileSystem"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import * as Path from "effect/Path"
import * as References from "effect/References"
import * as Result from "effect/Result"
import * as Stdio from "effect/Stdio"
import * as Terminal from "effect/Terminal"
import type { LogLevel } from "effect"
import { Argument, CliConfig, type CliError, CliOutput, Command, GlobalFlag } from "effect/cli"
import type * as HttpServerResponse from "effect/http/HttpServerResponse"
import { ChildProcessSpawner } from "effect/process"
import { readFileSync, statSync } from "node:fs"
import { dirname, resolve } from "node:path"
import { pathToFileURL } from "node:url"
import type { App } from "../protocol/app.ts"
import { type RunnerLog, runnerLog } from "../runner/log.ts"
import { defaults, type RunnerOptions } from "../runner/options.ts"
import type { ServeError } from "../runner/errors.ts"
import { announceListening, protocolsOf, serve } from "../runner/server.ts"
import type { FetchHandler } from "../adapters/fetch/index.ts"
import { describeCliError, envFileOf, envName, helpText, serveFlags, USAGE } from "./flags.ts"
import { describeShape, type Interface, kindOf, shapeOf } from "./interface.ts"
import { runPrimary, type WorkerPlan, workerApp } from "./workers.ts"
import { readTls, reloadOnSighup, type TlsFiles, tlsFilesOf } from "./tls-files.ts"
import { RELOAD_CHILD, type ReloadPlan, runReloader } from "./reload.ts"
import cluster from "node:cluster"
import type { ListenTarget } from "../runner/listen-target.ts"

/** An Effect HttpApp, as `fromHttpApp` takes it. */
type HttpApp = Effect.Effect<HttpServerResponse.HttpServerResponse, unknown, unknown>

class UsageError extends Error {}

/** The TLS flags' files, when serving TLS: read again on SIGHUP in one process (spec.md §8.1 "TLS"). */
let tlsFiles: TlsFiles | undefined

/** `--log-format`: EGI's text lines, or one of Effect's console loggers. */
type LogFormat = "text" | "json" | "logfmt"

/** The Effect loggers of each `--log-format` (none: EGI's text lines, Effect's default logger for the app). */
const formatLoggers: Record<LogFormat, ReadonlyArray<Logger.Logger<unknown, void>> | undefined> = {
  text: undefined,
  json: [Logger.consoleJson],
  logfmt: [Logger.consoleLogFmt]
}

/** `--log-level`: Effect's `References.MinimumLogLevel` for the server's context (RUN-25). */
const logLevels = { trace: "Trace", debug: "Debug", info: "Info", warn: "Warn", error: "Error", none: "None" } as const satisfies Record<string, LogLevel.LogLevel>

/** This process is `--reload`'s check (RUN-24): a module that fails to load says where. */
let reloadCheck = false

/** Splits `path/to/mod.ts:name` into module and export (a trailing identifier after the last colon). */
const splitTarget = (target: string): { readonly module: string; readonly exportName: string | undefined } => {
  const m = /^(.*):([A-Za-z_$][\w$]*)$/.exec(target)
  return m === null ? { module: target, exportName: undefined } : { module: m[1]!, exportName: m[2]! }
}

/**
 * What to serve: an app (an EGI app, or a fetch handler or `HttpApp` through
 * its adapter, spec.md §12), or a Layer of HttpRouter routes served through
 * `EgiHttpServer`; with the module's `layer` export when it has one (what
 * the app requires, spec.md §8.9), and how the export was read.
 */
interface Loaded {
  readonly served:
    | { readonly kind: "app"; readonly app: App<unknown, unknown> }
    | { readonly kind: "routes"; readonly serveRoutes: (options: Partial<RunnerOptions>, logger: RunnerLog) => Effect.Effect<never, unknown, unknown> }
  readonly layer: Layer.Layer<unknown, unknown> | undefined
  /** `interface: fetch handler (auto)` …, for the start-up lines. */
  readonly picked: string
}

/** The module's `layer` export: a Layer, or undefined when there is none; anything else is a usage error. */
const layerOf = (mod: Record<string, unknown>, module: string): Layer.Layer<unknown, unknown> | undefined => {
  const layer = mod["layer"]
  if (layer === undefined) return undefined
  if (!Layer.isLayer(layer)) throw new UsageError(`export "layer" of ${module} is ${kindOf(layer)}, not a Layer (the services the app requires)`)
  return layer as Layer.Layer<unknown, unknown>
}

/**
 * Loads the app `target` names. With `syncWorkers`, the export is a classic
 * app (spec.md §10.1), served through a pool of that many worker threads;
 * otherwise `wanted` (`--interface`) says how to read it (`shapeOf`). The
 * adapters are imported only when an export needs one.
 */
const loadApp = async (target: string, how: { readonly syncWorkers: number | undefined; readonly wanted: Interface; readonly factory: boolean; readonly appDir: string }): Promise<Loaded> => {
  const { syncWorkers, wanted, factory, appDir } = how
  const { module, exportName } = splitTarget(target)
  const url = pathToFileURL(resolve(appDir, module)).href
  let mod: Record<string, unknown>
  try {
    mod = await import(url)
  } catch (cause) {
    const code = (cause as { code?: string }).code
    const why = code === "ERR_MODULE_NOT_FOUND" ? "module not found" : String((cause as Error).message ?? cause).split("\n")[0]
    // --reload's check: where the error is (a syntax error's file, line and code frame), before the one line.
    if (reloadCheck && code !== "ERR_MODULE_NOT_FOUND") {
      const head = String((cause as Error)?.stack ?? "").split("\n    at ")[0]!.trim()
      if (head !== "") process.stderr.write(head + "\n")
    }
    throw new UsageError(`cannot load ${module}: ${why}`)
  }
  const names = exportName === undefined ? ["default", "app"] : [exportName]
  if (syncWorkers !== undefined) {
    const name = names.find((n) => typeof mod[n] === "function") ?? names.find((n) => mod[n] !== undefined)
    if (name === undefined) throw new UsageError(`${module} has no app export ${names.map((n) => JSON.stringify(n)).join(" or ")} (a function)`)
    const candidate = mod[name]
    if (typeof candidate !== "function") throw new UsageError(`export ${JSON.stringify(name)} of ${module} is ${kindOf(candidate)}, not a classic app (a function)`)
    // The shim, like the adapters, is imported only when an app needs it (an app that imports the `egi` barrel loads it anyway).
    const { fromClassic } = await import("../shim/shim.ts")
    const app = fromClassic({ module: url, export: name }, { workers: syncWorkers })
    return { served: { kind: "app", app }, layer: undefined, picked: "a classic app (--sync-workers)" }
  }
  if (factory) {
    // --factory: the export is a function that makes the app, called once, awaited (spec.md §8.5).
    const name = names.find((n) => mod[n] !== undefined)
    if (name === undefined) throw new UsageError(`${module} has no app factory export ${names.map((n) => JSON.stringify(n)).join(" or ")}`)
    const make = mod[name]
    if (typeof make !== "function") throw new UsageError(`export ${JSON.stringify(name)} of ${module} is ${kindOf(make)}, not an app factory (a function; --factory)`)
    let made: unknown
    try {
      made = await (make as () => unknown)()
    } catch (cause) {
      throw new UsageError(`app factory ${JSON.stringify(name)} of ${module} failed: ${String((cause as Error)?.message ?? cause).split("\n")[0]}`)
    }
    return serveAs(made, `what app factory ${JSON.stringify(name)} of ${module} returned`, module, mod, wanted)
  }
  // The first export that can be served as asked; else the first that exists, to say what it is.
  const name = names.find((n) => mod[n] !== undefined && !("refused" in shapeOf(mod[n], wanted))) ?? names.find((n) => mod[n] !== undefined)
  if (name === undefined) throw new UsageError(`${module} has no app export ${names.map((n) => JSON.stringify(n)).join(" or ")}`)
  return serveAs(mod[name], `export ${JSON.stringify(name)} of ${module}`, module, mod, wanted)
}

/** How to serve `candidate` (an export, or what a factory made: `subject` names it) under `--interface wanted`. */
const serveAs = async (
  candidate: unknown,
  subject: string,
  module: string,
  mod: Record<string, unknown>,
  wanted: Interface
): Promise<Loaded> => {
  const shape = shapeOf(candidate, wanted)
  if ("refused" in shape) throw new UsageError(`${subject} ${shape.refused}`)
  const picked = `${describeShape[shape.kind]} (--interface ${wanted})`
  const layer = layerOf(mod, module)
  switch (shape.kind) {
    case "egi":
      return { served: { kind: "app", app: candidate as App<unknown, unknown> }, layer, picked }
    case "fetch": {
      const { fromFetch } = await import("../adapters/fetch/index.ts")
      return { served: { kind: "app", app: fromFetch(candidate as FetchHandler) }, layer, picked }
    }
    case "http-app": {
      const { EgiHttpServer, fromHttpApp } = await import("../adapters/effect/index.ts")
      const app = fromHttpApp(candidate as HttpApp) as App<unknown, unknown>
      // File responses need the HTTP services; the module's layer may add its own.
      const services = layer === undefined ? EgiHttpServer.layerHttpServices : Layer.merge(EgiHttpServer.layerHttpServices, layer)
      return { served: { kind: "app", app }, layer: services as Layer.Layer<unknown, unknown>, picked }
    }
    case "router-layer": {
      const { EgiHttpServer } = await import("../adapters/effect/index.ts")
      const HttpRouter = await import("effect/http/HttpRouter")
      const HttpServer = await import("effect/http/HttpServer")
      const NetAddress = await import("effect/net/NetAddress")
      const routes = candidate as Layer.Layer<never, unknown, never>
      // HttpRouter.serve(routes) on EGI's HttpServer; the runner's access log replaces HttpMiddleware.logger.
      const serveRoutes = (options: Partial<RunnerOptions>, logger: RunnerLog) =>
        Effect.scoped(Effect.gen(function*() {
          const served = HttpRouter.serve(routes, { disableLogger: true, disableListenLog: true })
          const context = yield* Layer.build(Layer.provideMerge(served, EgiHttpServer.layer(options)))
          const address = Context.get(context, HttpServer.HttpServer).address
          if (NetAddress.isInetAddress(address)) {
            const url = NetAddress.formatUrl(address, options.tls === undefined ? "http" : "https")
            if (Result.isSuccess(url)) logger.info(`listening on ${url.success} (${protocolsOf({ tls: options.tls, h2cOnly: options.h2cOnly ?? false })})`)
            announceListening()
          }
          return yield* Effect.never
        }))
      return { served: { kind: "routes", serveRoutes }, layer, picked }
    }
  }
}

const version = (): string => {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }
  return pkg.version
}

/** What `egi serve` was given, parsed and checked by effect/cli. */
type ServeInput = Command.Command.Config.Infer<typeof serveConfig>

const serveConfig = {
  target: Argument.String("module").pipe(
    Argument.withDescription("<module>[:export]: the app's module and, optionally, the export to serve"),
    Argument.withFallbackConfig(Config.String(envName("app")))
  ),
  ...serveFlags
}

/** `egi` with one subcommand, `serve`; the handler keeps what it was given, served after the parse (`run`). */
const command = (onServe: (input: ServeInput) => void) =>
  Command.make("egi").pipe(
    Command.withDescription("serve EGI apps over HTTP/2 and HTTP/1.1"),
    Command.withSubcommands([
      Command.make("serve", serveConfig, (input) => Effect.sync(() => onServe(input))).pipe(
        Command.withDescription("serve an app: " + USAGE)
      )
    ])
  )

/**
 * How effect/cli's output looks in EGI's words: help is EGI's text (from
 * the flags' table) on stdout, the version the bare version, and an
 * invocation it refuses one `egi: …` line on stderr (and "Try 'egi --help'."
 * when the line is not about a value). `egi` alone is a usage error.
 */
const presenter: CliOutput.Presenter = {
  present: (event) =>
    Effect.sync(() => {
      switch (event._tag) {
        case "Help":
          if (event.reason === "Implicit") process.stderr.write(`egi: usage: ${USAGE}\nTry 'egi --help'.\n`)
          else process.stdout.write(helpText() + "\n")
          return
        case "Version":
          process.stdout.write(event.version + "\n")
          return
        case "InvalidInvocation": {
          const { hint, line } = describeCliError(event.errors[0] as CliError.CliError)
          process.stderr.write(`egi: ${line}\n${hint ? "Try 'egi --help'.\n" : ""}`)
          return
        }
      }
    })
}

/**
 * What effect/cli's runner requires (`Command.Environment`) and the CLI
 * never uses — no prompts, no files, no subprocesses — as inert services
 * (NodeServices would load the Node terminal, filesystem and child-process
 * modules at every start for nothing); the built-ins: --help, --version,
 * --completions (no --wizard, no --log-level: the server's log is
 * --log-format's).
 */
const cliEnvironment = Layer.mergeAll(
  FileSystem.layerNoop({}),
  Path.layer,
  Stdio.layerTest({}),
  Layer.succeed(Terminal.Terminal, Terminal.make({
    columns: Effect.succeed(80),
    rows: Effect.succeed(24),
    size: Effect.die("egi: no terminal"),
    readInput: Effect.die("egi: no terminal"),
    readLine: Effect.die("egi: no terminal"),
    display: () => Effect.void
  })),
  Layer.succeed(ChildProcessSpawner.ChildProcessSpawner, ChildProcessSpawner.make(() => Effect.die("egi: no subprocesses"))),
  CliConfig.layer({ builtIns: [GlobalFlag.Help, GlobalFlag.Version, GlobalFlag.Completions] }),
  CliOutput.layerPresenter(presenter)
)

/** Parses the command line: an exit code (help, version, usage errors), or what to serve. */
const main = async (argv: ReadonlyArray<string>): Promise<number | Serving> => {
  // --env-file first: its variables are read with the others (RUN-17); variables already set win.
  const envFile = envFileOf(argv)
  if (envFile !== undefined) {
    try {
      process.loadEnvFile(envFile)
    } catch (cause) {
      process.stderr.write(`egi: --env-file: cannot read ${envFile}: ${(cause as Error).message}\n`)
      return 2
    }
  }
  let input: ServeInput | undefined
  const exit = await Effect.runPromiseExit(
    Command.runWith(command((given) => input = given), { version: version() })(argv).pipe(Effect.provide(cliEnvironment))
  )
  if (Exit.isFailure(exit)) {
    // effect/cli's refusals were presented (one egi: line); anything else is the CLI's own failure.
    const error = Cause.squash(exit.cause)
    if (typeof error === "object" && error !== null && "_tag" in error && error._tag === "ShowHelp") return 2
    throw error
  }
  // --help, --version, --completions
  if (input === undefined) return 0
  const given = input

  let options: Partial<RunnerOptions>
  let loaded: Loaded
  let workers: number | undefined
  let reload: ReloadPlan | undefined
  const reloadRole = process.env[RELOAD_CHILD] === "serve" || process.env[RELOAD_CHILD] === "check" ? process.env[RELOAD_CHILD] : undefined
  delete process.env[RELOAD_CHILD]
  reloadCheck = reloadRole === "check"
  if (reloadRole === "serve" && process.channel) {
    // The reloader's channel closes when it exits, however it dies: drain and exit as on SIGTERM.
    process.once("disconnect", () => process.kill(process.pid, "SIGTERM"))
    process.channel.unref()
  }
  const level = logLevels[Option.getOrElse(given.logLevel, () => "info" as const)]
  const format: LogFormat = Option.getOrElse(given.logFormat, () => "text" as const)
  try {
    const value = <A>(option: Option.Option<A>, fallback: A): A => Option.getOrElse(option, () => fallback)
    // The TLS flags (spec.md §8.1 "TLS"): the files are read now, and again on SIGHUP.
    const files = tlsFilesOf(given)
    if (files !== undefined && "usage" in files) throw new UsageError(files.usage)
    let tls: RunnerOptions["tls"] = undefined
    if (files !== undefined) {
      try {
        tls = readTls(files)
      } catch (cause) {
        throw new UsageError(`cannot read TLS material: ${(cause as Error).message}`)
      }
      tlsFiles = files
    }
    if (tls !== undefined && given.h2c) throw new UsageError("--h2c is for cleartext; with TLS, ALPN decides")
    options = {
      host: value(given.host, defaults.host),
      port: value(given.port, defaults.port),
      h2cOnly: given.h2c,
      tls,
      drainTimeout: value(given.drainTimeout, defaults.drainTimeout),
      maxConcurrentStreams: value(given.maxConcurrentStreams, defaults.maxConcurrentStreams),
      maxHeaderListSize: value(given.maxHeaderListSize, defaults.maxHeaderListSize),
      maxBodySize: value(given.maxBodySize, defaults.maxBodySize),
      headerTimeout: value(given.headerTimeout, defaults.headerTimeout),
      idleTimeout: value(given.idleTimeout, defaults.idleTimeout),
      rootPath: value(given.rootPath, ""),
      accessLog: given.accessLog,
      tracing: given.tracing,
      wsMaxMessageSize: value(given.wsMaxMessageSize, defaults.wsMaxMessageSize),
      wsPingInterval: value(given.wsPingInterval, defaults.wsPingInterval),
      wsPingTimeout: value(given.wsPingTimeout, defaults.wsPingTimeout),
      wsPerMessageDeflate: given.wsDeflate,
      wsMaxQueuedBytes: value(given.wsMaxQueuedBytes, defaults.wsMaxQueuedBytes),
      lifespan: value(given.lifespan, "auto"),
      http1Codec: value(given.http1Codec, defaults.http1Codec),
      proxyHeaders: given.proxyHeaders,
      forwardedAllowIps: value(given.forwardedAllowIps, defaults.forwardedAllowIps),
      binds: bindsOf(given),
      backlog: value(given.backlog, defaults.backlog),
      limitConcurrency: value(given.limitConcurrency, defaults.limitConcurrency),
      maxConnections: value(given.maxConnections, defaults.maxConnections),
      // HTTP/2 session limits and SETTINGS (spec.md §8.3, RUN-27, RUN-28), the write buffer.
      h2StreamResetBurst: value(given.h2StreamResetBurst, defaults.h2StreamResetBurst),
      h2StreamResetRate: value(given.h2StreamResetRate, defaults.h2StreamResetRate),
      h2MaxSessionMemory: value(given.h2MaxSessionMemory, defaults.h2MaxSessionMemory),
      h2MaxHeaderListPairs: value(given.h2MaxHeaderListPairs, defaults.h2MaxHeaderListPairs),
      h2MaxInvalidFrames: value(given.h2MaxInvalidFrames, defaults.h2MaxInvalidFrames),
      h2MaxRejectedStreams: value(given.h2MaxRejectedStreams, defaults.h2MaxRejectedStreams),
      h2InitialWindowSize: value(given.h2InitialWindowSize, defaults.h2InitialWindowSize),
      h2MaxFrameSize: value(given.h2MaxFrameSize, defaults.h2MaxFrameSize),
      h2HeaderTableSize: value(given.h2HeaderTableSize, defaults.h2HeaderTableSize),
      writeBufferSize: value(given.writeBufferSize, defaults.writeBufferSize),
      minRequestRate: value(given.minRequestRate, defaults.minRequestRate),
      minRequestRateWindow: value(given.minRequestRateWindow, defaults.minRequestRateWindow),
      maxRequestsPerConnection: value(given.maxRequestsPerConnection, defaults.maxRequestsPerConnection),
      responseTimeout: value(given.responseTimeout, defaults.responseTimeout)
    }
    workers = Option.getOrUndefined(given.workers)
    if (workers === undefined && (Option.isSome(given.maxRequests) || Option.isSome(given.maxWorkerMemory))) {
      throw new UsageError("--max-requests and --max-worker-memory recycle worker processes: they need --workers")
    }
    if (workers !== undefined && options.binds!.some((t) => t.kind === "fd")) {
      throw new UsageError("--fd and fd:// binds serve in one process: they take no --workers")
    }
    const syncWorkers = Option.getOrUndefined(given.syncWorkers)
    const wanted = value(given.interface, "auto")
    if (syncWorkers !== undefined && wanted !== "auto") throw new UsageError("--sync-workers serves a classic app: it takes no --interface")
    if (syncWorkers !== undefined && given.factory) throw new UsageError("--sync-workers serves a classic app by its export's name: it takes no --factory")
    const appDir = value(given.appDir, ".")
    if (!isDirectory(appDir)) throw new UsageError(`--app-dir: ${appDir} is not a directory`)
    // --reload (RUN-24): this process watches and restarts a child that serves (EGI_RELOAD_CHILD=serve) after one that only loads the app (=check) succeeded.
    if (given.reload && reloadRole === undefined) {
      if (workers !== undefined) throw new UsageError("--reload restarts one server process: it takes no --workers")
      if (options.binds!.some((t) => t.kind === "fd")) throw new UsageError("--fd and fd:// binds are inherited by one process: they take no --reload")
      const dirs = [...new Set(Option.getOrElse(given.reloadDir, () => [dirname(resolve(appDir, splitTarget(given.target).module))]).map((d) => resolve(d)))]
      const missing = dirs.find((d) => !isDirectory(d))
      if (missing !== undefined) throw new UsageError(`--reload-dir: ${missing} is not a directory`)
      reload = { dirs, drainTimeout: options.drainTimeout ?? defaults.drainTimeout }
    }
    // A --workers primary loads no app: each worker does (a module's side effects stay in the workers).
    loaded = workers !== undefined && cluster.isPrimary
      ? { served: { kind: "app", app: () => Effect.void }, layer: undefined, picked: `${workers} worker process(es) of ${given.target}` }
      : reload !== undefined
      ? { served: { kind: "app", app: () => Effect.void }, layer: undefined, picked: `${given.target} from a child process, restarted on changes (--reload)` }
      : await loadApp(given.target, { syncWorkers, wanted, factory: given.factory, appDir })
    // --reload's check: the app loads (the module, its imports, the export); nothing is served.
    if (reloadRole === "check") return 0
  } catch (cause) {
    if (cause instanceof UsageError) {
      process.stderr.write(`egi: ${cause.message}\n`)
      return 2
    }
    throw cause
  }

  const plan: WorkerPlan | undefined = workers === undefined ? undefined : {
    workers,
    maxRequests: Option.getOrUndefined(given.maxRequests),
    maxRequestsJitter: Option.getOrElse(given.maxRequestsJitter, () => 0),
    maxWorkerMemory: Option.getOrUndefined(Option.map(given.maxWorkerMemory, (mib) => mib * 2 ** 20)),
    drainTimeout: options.drainTimeout ?? defaults.drainTimeout
  }
  return { ...loaded, options, format, plan, level, reload }
}

/**
 * The listen targets: `--bind`'s (or `--host`/`--port` when there is none
 * and a `--uds` or `--fd` is added), then `--uds`, then `--fd`; `--uds-mode`
 * applies to every Unix socket. Empty: `--host`/`--port` alone.
 */
const bindsOf = (given: ServeInput): ReadonlyArray<ListenTarget> => {
  const extra: Array<ListenTarget> = []
  const uds = Option.getOrUndefined(given.uds)
  const fd = Option.getOrUndefined(given.fd)
  if (uds !== undefined) extra.push({ kind: "unix", path: uds })
  if (fd !== undefined) extra.push({ kind: "fd", fd })
  const bound = Option.getOrUndefined(given.bind)
  if (bound === undefined && extra.length === 0) return []
  const tcp: ReadonlyArray<ListenTarget> = bound ?? [{ kind: "tcp", host: Option.getOrElse(given.host, () => defaults.host), port: Option.getOrElse(given.port, () => defaults.port) }]
  const mode = Option.getOrUndefined(given.udsMode)
  return [...tcp, ...extra].map((t) => (t.kind === "unix" && mode !== undefined ? { ...t, mode } : t))
}

const isDirectory = (path: string): boolean => {
  try {
    return statSync(path).isDirectory()
  } catch {
    return false
  }
}

/** What `main` decided to serve, with the logger to flush at exit. */
interface Serving extends Loaded {
  readonly options: Partial<RunnerOptions>
  readonly format: LogFormat
  /** `--workers`: this process is their primary (spec.md §8.13); undefined: it serves itself. */
  readonly plan: WorkerPlan | undefined
  /** `--log-level`: the context's `References.MinimumLogLevel` (RUN-25). */
  readonly level: LogLevel.LogLevel
  /** `--reload`: this process is the reloader (RUN-24); undefined: it serves itself. */
  readonly reload: ReloadPlan | undefined
}

/**
 * Serves through `NodeRuntime.runMain`, Effect's entry point for a Node
 * process: SIGINT and SIGTERM interrupt the server's fiber, which runs the
 * graceful shutdown (spec.md §8.4). The exit code stays EGI's: 0 after a
 * signal-driven shutdown, 1 when the server fails (with one `egi:` line).
 * The signals are also logged; one during the drain changes nothing (RUN-12).
 * The module's `layer` is built once before the server starts and closed
 * after its shutdown (its finalizers run after the drain).
 */
const run = ({ served, layer, picked, options, format, plan, level, reload }: Serving): void => {
  const loggers = formatLoggers[format]
  // The CLI's own lines (the signals) look like the server's.
  const logger: RunnerLog = loggers === undefined
    ? runnerLog("text", Context.make(References.MinimumLogLevel, level) as Context.Context<unknown>)
    : runnerLog("effect", Context.make(Logger.CurrentLoggers, new Set(loggers)).pipe(Context.add(References.MinimumLogLevel, level)) as Context.Context<unknown>)
  if (reload !== undefined) return runReloader(reload, logger)
  // --workers: the primary supervises, each worker (this same command) serves.
  if (plan !== undefined && cluster.isPrimary) return runPrimary(plan, logger)
  if (served.kind === "app") served = { kind: "app", app: workerApp(served.app) }
  // One process serving TLS: SIGHUP loads the files anew without a restart (TLS-4); a --workers worker ignores it (RUN-21).
  if (tlsFiles !== undefined && !cluster.isWorker) reloadOnSighup(tlsFiles, logger)
  let signalled = false
  const onSignal = (signal: NodeJS.Signals): void => {
    logger.info(signalled ? `${signal} received again: already shutting down` : `${signal} received`)
    signalled = true
  }
  process.on("SIGINT", onSignal)
  process.on("SIGTERM", onSignal)
  logger.info(`serving ${picked}`)
  const server = served.kind === "app" ? serve(served.app, options) : served.serveRoutes(options, logger)
  // A module without `layer` serves an app that requires nothing (R = never).
  const withLayer: Effect.Effect<never, unknown> = layer === undefined
    ? server as Effect.Effect<never, ServeError | unknown>
    : Effect.provide(server, layer)
  // --log-format: the server's lines and the app's Effect.log go through these loggers (spec.md §8.5).
  const formatted = loggers === undefined ? withLayer : Effect.provide(withLayer, Logger.layer(loggers))
  // --log-level: the minimum level of the server's lines and the app's Effect.log (RUN-25).
  const program = Effect.provide(formatted, Layer.succeed(References.MinimumLogLevel, level))
  NodeRuntime.runMain(program, {
    disableErrorReporting: true,
    teardown: (exit, onExit) => {
      logger.flush()
      if (Exit.isSuccess(exit) || Cause.hasInterruptsOnly(exit.cause)) return onExit(0)
      const error = Cause.squash(exit.cause)
      process.stderr.write(`egi: ${error instanceof Error ? error.message : "server failed"}\n`)
      onExit(1)
    }
  })
}

main(process.argv.slice(2)).then(
  (outcome) => {
    if (typeof outcome !== "number") return run(outcome)
    process.exitCode = outcome
    // Lingering timers must not hold a process that has nothing to serve open.
    setImmediate(() => process.exit(outcome))
  },
  (cause) => {
    process.stderr.write(`egi: internal error: ${(cause as Error)?.stack ?? String(cause)}\n`)
    process.exit(1)
  }
)
