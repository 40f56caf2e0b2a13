/**
 * `egi` — the command line: `egi serve <module>[:export] [options]`.
 *
 * Exit codes: 0 after a graceful shutdown, 1 when the server fails (bind,
 * TLS, lifespan startup), 2 for usage errors and modules that cannot be
 * loaded.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Cause, Context, Effect, Exit, Layer, Logger, Result } from "effect"
import type * as HttpServerResponse from "effect/http/HttpServerResponse"
import { readFileSync } from "node:fs"
import { resolve } from "node:path"
import { parseArgs } from "node:util"
import { pathToFileURL } from "node:url"
import type { App } from "../protocol/app.ts"
import { type RunnerLog, runnerLog } from "../runner/log.ts"
import { defaults, maxSetting, maxTimerMs, type RunnerOptions } from "../runner/options.ts"
import type { ServeError } from "../runner/errors.ts"
import { protocolsOf, serve } from "../runner/server.ts"
import { fromClassic } from "../shim/shim.ts"
import type { FetchHandler } from "../adapters/fetch/index.ts"
import { describeShape, type Interface, interfaceOf, kindOf, shapeOf } from "./interface.ts"

/** An Effect HttpApp, as `fromHttpApp` takes it. */
type HttpApp = Effect.Effect<HttpServerResponse.HttpServerResponse, unknown, unknown>

const HELP = `egi — serve EGI apps over HTTP/2 and HTTP/1.1

Usage:
  egi serve <module>[:export] [options]
  egi --help | --version

<module> is a path to a .ts or .js module; <export> names the app export
(default: "default", then "app").

Options:
  --host <addr>                  interface to bind (default ${defaults.host})
  --port <n>                     TCP port, 0 for any free one (default ${defaults.port})
  --h2c                          cleartext HTTP/2 only, prior knowledge (no HTTP/1.1 detection)
  --tls-cert <file>              PEM certificate chain: serve TLS, h2 and http/1.1 by ALPN
  --tls-key <file>               PEM private key (with --tls-cert)
  --drain-timeout <s>            on SIGINT/SIGTERM, seconds in-flight streams may take (default ${defaults.drainTimeout / 1000})
  --max-concurrent-streams <n>   HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS (default ${defaults.maxConcurrentStreams})
  --max-header-list-size <bytes> request header limit, 431 beyond it on HTTP/1.1 (default ${defaults.maxHeaderListSize})
  --max-body-size <bytes>        request body limit, 413 beyond it (default ${defaults.maxBodySize})
  --header-timeout <s>           HTTP/1.1 time allowed for a request head, 408 after (default ${defaults.headerTimeout / 1000})
  --idle-timeout <s>             close idle connections after this (default ${defaults.idleTimeout / 1000})
  --root-path <path>             scope.rootPath (default "")
  --sync-workers <n>             the export is a classic (blocking) app: run it in n worker threads
  --ws-max-message-size <bytes>  largest WebSocket message, 1009 beyond it (default ${defaults.wsMaxMessageSize})
  --ws-ping-interval <s>         seconds between pings on open WebSockets, 0 for none (default ${defaults.wsPingInterval / 1000})
  --ws-ping-timeout <s>          seconds a pong, or the client's close frame, may take before the connection is dropped (default ${defaults.wsPingTimeout / 1000})
  --no-ws-deflate                do not offer permessage-deflate on WebSockets
  --no-access-log                do not print a line per request
  --interface <auto|egi|fetch|effect>
                                 what the export is: an EGI app, a fetch handler ((request) => Response,
                                 or an object with fetch, such as a Hono app), an Effect HttpApp or a
                                 Layer of HttpRouter routes (HttpRouter, HttpApi); auto tells them by
                                 shape and says which it picked (default auto)
  --log-format <text|json|logfmt> how log lines look: EGI's text lines, or Effect's Logger.consoleJson /
                                 consoleLogFmt for the server's lines and the app's Effect.log alike (default text)
  --no-tracing                   no server span per stream (spec.md §8.10; by default spans are made when the app's layer provides a tracer)
  -h, --help                     show this help
  --version                      print the version

On start it prints "listening on <url> (<protocols>)"; each request gets an
access-log line on stdout; SIGINT/SIGTERM drain and exit 0.`

class UsageError extends Error {}

const MAX_SETTING = maxSetting
const MAX_SECONDS = Math.floor(maxTimerMs / 1000)

const number = (name: string, value: string | undefined, fallback: number, max: number, scale = 1): number => {
  if (value === undefined) return fallback
  const n = Number(value)
  if (value.trim() === "" || !Number.isFinite(n) || n < 0 || n > max) {
    throw new UsageError(`--${name} takes a number from 0 to ${max}, got ${JSON.stringify(value)}`)
  }
  return Math.round(n * scale)
}

/** `--log-format`: EGI's text lines, or one of Effect's console loggers. */
type LogFormat = "text" | "json" | "logfmt"

/** The Effect loggers of each `--log-format` (none: EGI's text lines, Effect's default logger for the app). */
const formatLoggers: Record<LogFormat, ReadonlyArray<Logger.Logger<unknown, void>> | undefined> = {
  text: undefined,
  json: [Logger.consoleJson],
  logfmt: [Logger.consoleLogFmt]
}

const logFormat = (value: string | undefined): LogFormat => {
  if (value === undefined) return "text"
  if (value === "text" || value === "json" || value === "logfmt") return value
  throw new UsageError(`--log-format takes text, json or logfmt, got ${JSON.stringify(value)}`)
}

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
const loadApp = async (target: string, syncWorkers: number | undefined, wanted: Interface): Promise<Loaded> => {
  const { module, exportName } = splitTarget(target)
  let mod: Record<string, unknown>
  try {
    mod = await import(pathToFileURL(resolve(module)).href)
  } catch (cause) {
    const code = (cause as { code?: string }).code
    const why = code === "ERR_MODULE_NOT_FOUND" ? "module not found" : String((cause as Error).message ?? cause).split("\n")[0]
    throw new UsageError(`cannot load ${module}: ${why}`)
  }
  const names = exportName === undefined ? ["default", "app"] : [exportName]
  if (syncWorkers !== undefined) {
    const name = names.find((n) => typeof mod[n] === "function") ?? names.find((n) => mod[n] !== undefined)
    if (name === undefined) throw new UsageError(`${module} has no app export ${names.map((n) => JSON.stringify(n)).join(" or ")} (a function)`)
    const candidate = mod[name]
    if (typeof candidate !== "function") throw new UsageError(`export ${JSON.stringify(name)} of ${module} is ${kindOf(candidate)}, not a classic app (a function)`)
    const app = fromClassic({ module: pathToFileURL(resolve(module)).href, export: name }, { workers: syncWorkers })
    return { served: { kind: "app", app }, layer: undefined, picked: "a classic app (--sync-workers)" }
  }
  // The first export that can be served as asked; else the first that exists, to say what it is.
  const name = names.find((n) => mod[n] !== undefined && !("refused" in shapeOf(mod[n], wanted))) ?? names.find((n) => mod[n] !== undefined)
  if (name === undefined) throw new UsageError(`${module} has no app export ${names.map((n) => JSON.stringify(n)).join(" or ")}`)
  const candidate = mod[name]
  const shape = shapeOf(candidate, wanted)
  if ("refused" in shape) throw new UsageError(`export ${JSON.stringify(name)} of ${module} ${shape.refused}`)
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

/** Parses the command line: an exit code (help, version, usage errors), or what to serve. */
const main = async (argv: ReadonlyArray<string>): Promise<number | Serving> => {
  let parsed
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        host: { type: "string" },
        port: { type: "string" },
        h2c: { type: "boolean" },
        "tls-cert": { type: "string" },
        "tls-key": { type: "string" },
        "drain-timeout": { type: "string" },
        "max-concurrent-streams": { type: "string" },
        "max-header-list-size": { type: "string" },
        "max-body-size": { type: "string" },
        "header-timeout": { type: "string" },
        "idle-timeout": { type: "string" },
        "root-path": { type: "string" },
        "sync-workers": { type: "string" },
        "ws-max-message-size": { type: "string" },
        "ws-ping-interval": { type: "string" },
        "ws-ping-timeout": { type: "string" },
        "no-ws-deflate": { type: "boolean" },
        "no-access-log": { type: "boolean" },
        "no-tracing": { type: "boolean" },
        "log-format": { type: "string" },
        interface: { type: "string" },
        help: { type: "boolean", short: "h" },
        version: { type: "boolean" }
      }
    })
  } catch (cause) {
    process.stderr.write(`egi: ${(cause as Error).message}\nTry 'egi --help'.\n`)
    return 2
  }
  const { values, positionals } = parsed
  if (values.help === true) {
    process.stdout.write(HELP + "\n")
    return 0
  }
  if (values.version === true) {
    process.stdout.write(version() + "\n")
    return 0
  }
  const [command, target, ...rest] = positionals
  if (command !== "serve" || target === undefined || rest.length > 0) {
    process.stderr.write(`egi: usage: egi serve <module>[:export] [options]\nTry 'egi --help'.\n`)
    return 2
  }

  let options: Partial<RunnerOptions>
  let loaded: Loaded
  let format: LogFormat = "text"
  try {
    format = logFormat(values["log-format"])
    const port = number("port", values.port, defaults.port, 65535)
    if ((values["tls-cert"] === undefined) !== (values["tls-key"] === undefined)) {
      throw new UsageError("--tls-cert and --tls-key go together")
    }
    let tls: RunnerOptions["tls"] = undefined
    if (values["tls-cert"] !== undefined && values["tls-key"] !== undefined) {
      try {
        tls = { cert: readFileSync(values["tls-cert"]), key: readFileSync(values["tls-key"]) }
      } catch (cause) {
        throw new UsageError(`cannot read TLS material: ${(cause as Error).message}`)
      }
    }
    if (tls !== undefined && values.h2c === true) throw new UsageError("--h2c is for cleartext; with TLS, ALPN decides")
    options = {
      host: values.host ?? defaults.host,
      port,
      h2cOnly: values.h2c === true,
      tls,
      drainTimeout: number("drain-timeout", values["drain-timeout"], defaults.drainTimeout, MAX_SECONDS, 1000),
      maxConcurrentStreams: number("max-concurrent-streams", values["max-concurrent-streams"], defaults.maxConcurrentStreams, MAX_SETTING),
      maxHeaderListSize: number("max-header-list-size", values["max-header-list-size"], defaults.maxHeaderListSize, MAX_SETTING),
      maxBodySize: number("max-body-size", values["max-body-size"], defaults.maxBodySize, Number.MAX_SAFE_INTEGER),
      headerTimeout: number("header-timeout", values["header-timeout"], defaults.headerTimeout, MAX_SECONDS, 1000),
      idleTimeout: number("idle-timeout", values["idle-timeout"], defaults.idleTimeout, MAX_SECONDS, 1000),
      rootPath: values["root-path"] ?? "",
      accessLog: values["no-access-log"] !== true,
      tracing: values["no-tracing"] === true ? false : "auto",
      wsMaxMessageSize: number("ws-max-message-size", values["ws-max-message-size"], defaults.wsMaxMessageSize, 2 ** 31 - 1),
      wsPingInterval: number("ws-ping-interval", values["ws-ping-interval"], defaults.wsPingInterval, MAX_SECONDS, 1000),
      wsPingTimeout: number("ws-ping-timeout", values["ws-ping-timeout"], defaults.wsPingTimeout, MAX_SECONDS, 1000),
      wsPerMessageDeflate: values["no-ws-deflate"] !== true
    }
    const syncWorkers = values["sync-workers"] === undefined
      ? undefined
      : number("sync-workers", values["sync-workers"], 0, 1024)
    if (syncWorkers === 0) throw new UsageError("--sync-workers takes a number from 1 to 1024")
    const wanted = interfaceOf(values.interface)
    if (wanted === undefined) throw new UsageError(`--interface takes auto, egi, fetch or effect, got ${JSON.stringify(values.interface)}`)
    if (syncWorkers !== undefined && wanted !== "auto") throw new UsageError("--sync-workers serves a classic app: it takes no --interface")
    loaded = await loadApp(target, syncWorkers, wanted)
  } catch (cause) {
    if (cause instanceof UsageError) {
      process.stderr.write(`egi: ${cause.message}\n`)
      return 2
    }
    throw cause
  }

  return { ...loaded, options, format }
}

/** What `main` decided to serve, with the logger to flush at exit. */
interface Serving extends Loaded {
  readonly options: Partial<RunnerOptions>
  readonly format: LogFormat
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
const run = ({ served, layer, picked, options, format }: Serving): void => {
  const loggers = formatLoggers[format]
  // The CLI's own lines (the signals) look like the server's.
  const logger: RunnerLog = loggers === undefined
    ? runnerLog("text", Context.empty() as Context.Context<unknown>)
    : runnerLog("effect", Context.make(Logger.CurrentLoggers, new Set(loggers)) as Context.Context<unknown>)
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
  const program = loggers === undefined ? withLayer : Effect.provide(withLayer, Logger.layer(loggers))
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
