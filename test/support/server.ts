/**
 * Test support: serve an app in-process on a free loopback port — per file
 * or per `describe` block (`useServer`, `useSession`), per test
 * (`withServer`, `useServers`), or by hand (`listen`).
 */
import { Cause, Context, Effect, Exit, Layer, Logger, References, Scope } from "effect"
import type * as http2 from "node:http2"
import { afterAll, afterEach, beforeAll } from "vitest"
import type { App } from "../../src/protocol/app.ts"
import type { RunnerOptions } from "../../src/runner/options.ts"
import { type Server, start } from "../../src/runner/server.ts"
import { closeSession, connect } from "./h2client.ts"

/**
 * An Effect `Logger` that keeps every line as EGI's text log would write it
 * (without the timestamp), for assertions: access lines (those annotated
 * with `http.request.method`), info, error and debug lines apart. Serve with
 * `log: "effect"` and the logger in the server's context (as `listen` does).
 */
export const memoryLogger = () => {
  const lines = { access: [] as Array<string>, info: [] as Array<string>, error: [] as Array<string>, debug: [] as Array<string> }
  const logger = Logger.make(({ cause, fiber, logLevel, message }) => {
    const a = fiber.getRef(References.CurrentLogAnnotations) as Record<string, unknown>
    const text = (Array.isArray(message) ? message : [message]).map(String).join(" ")
    if ("http.request.method" in a) {
      return void lines.access.push(`${text} conn=${a.connectionId} stream=${a.streamId}${a.end === undefined ? "" : ` end=${a.end}`}`)
    }
    const where = a.connectionId === undefined ? "" : a.streamId === undefined ? `conn=${a.connectionId} ` : `conn=${a.connectionId} stream=${a.streamId} `
    const detail = cause.reasons.length === 0 ? "" : `: ${Cause.pretty(cause)}`
    ;(logLevel === "Error" ? lines.error : logLevel === "Debug" ? lines.debug : lines.info).push(`${where}${text}${detail}`)
  })
  return { logger, lines }
}

/** `context` with `logger` as its only logger. */
export const withLogger = <R>(context: Context.Context<R>, logger: Logger.Logger<unknown, void>): Context.Context<R> =>
  Context.add(context, Logger.CurrentLoggers, new Set([logger]))

export interface TestServer extends Server {
  readonly close: () => Promise<void>
  readonly lines: ReturnType<typeof memoryLogger>["lines"]
}

/**
 * Starts `app` on 127.0.0.1:0 (drain timeout 2 s); `close()` runs the
 * graceful shutdown. `layer` provides what the app requires: built before
 * the server starts, closed after its shutdown, as the CLI does.
 */
export const listen = async <R = never>(
  app: App<unknown, R>,
  options: Partial<RunnerOptions> = {},
  layer?: Layer.Layer<R>
): Promise<TestServer> => {
  const { logger, lines } = memoryLogger()
  const scope = Effect.runSync(Scope.make())
  const started = Effect.gen(function*() {
    // Built into the same Scope first, so that it closes after the server's shutdown.
    const context = layer === undefined ? Context.empty() as Context.Context<R> : yield* Layer.build(layer)
    return yield* Effect.provide(start(app, { port: 0, log: "effect", drainTimeout: 2000, ...options }), withLogger(context, logger))
  })
  const server = await Effect.runPromise(Scope.provide(scope)(started))
  return { ...server, lines, close: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
}

/**
 * Serves `app` (as `listen` does) for the enclosing `describe` block, or for
 * the whole file when called at its top level: started in `beforeAll`,
 * closed in `afterAll`. Returns a getter for the running server, which
 * exists once `beforeAll` has run:
 *
 * ```ts
 * const server = useServer(app, { maxBodySize: 1000 })
 * it("…", async () => { await fetch(server().url) })
 * ```
 */
export const useServer = <R = never>(app: App<unknown, R>, options: Partial<RunnerOptions> = {}, layer?: Layer.Layer<R>): () => TestServer => {
  let server: TestServer | undefined
  beforeAll(async () => {
    server = await listen(app, options, layer)
  })
  afterAll(async () => {
    await server?.close()
  })
  return () => {
    if (server === undefined) throw new Error("useServer: the server runs only between beforeAll and afterAll")
    return server
  }
}

/**
 * An HTTP/2 session to `server()` for the enclosing block: opened in
 * `beforeAll` (after the server's own), closed in `afterAll` (before the
 * server's: vitest runs after-hooks in reverse). Returns a getter.
 */
export const useSession = (server: () => TestServer): () => http2.ClientHttp2Session => {
  let session: http2.ClientHttp2Session | undefined
  beforeAll(async () => {
    session = await connect(server().url)
  })
  afterAll(async () => {
    if (session !== undefined) await closeSession(session)
  })
  return () => {
    if (session === undefined) throw new Error("useSession: the session is open only between beforeAll and afterAll")
    return session
  }
}

/** Runs `body` against a server of its own, started with `listen`, and always closes it. */
export const withServer = async <A>(
  app: App,
  options: Partial<RunnerOptions>,
  body: (server: TestServer) => Promise<A>
): Promise<A> => {
  const server = await listen(app, options)
  try {
    return await body(server)
  } finally {
    await server.close()
  }
}

/**
 * For tests that start servers of their own: `serve(app, options)` starts
 * one (as `listen`, over `defaults`) that is closed after the test, and
 * `defer(cleanup)` runs anything else then (a session to close, a socket to
 * destroy, a promise to release). After each test the cleanups run in
 * reverse order of registration, awaited one by one.
 */
export const useServers = (defaults: Partial<RunnerOptions> = {}) => {
  const cleanups: Array<() => unknown> = []
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  })
  const defer = (cleanup: () => unknown): void => void cleanups.push(cleanup)
  const serve = async (app: App, options: Partial<RunnerOptions> = {}): Promise<TestServer> => {
    const server = await listen(app, { ...defaults, ...options })
    defer(() => server.close())
    return server
  }
  return { serve, defer }
}
