/**
 * Test support: serve an app in-process on a free loopback port.
 */
import { Effect, Exit, Scope } from "effect"
import type { App } from "../../src/protocol/app.ts"
import type { Logger, RunnerOptions } from "../../src/runner/options.ts"
import { type Server, start } from "../../src/runner/server.ts"

/** A logger that keeps every line, for assertions. */
export const memoryLogger = () => {
  const lines = { access: [] as Array<string>, info: [] as Array<string>, error: [] as Array<string> }
  const logger: Logger = {
    access: (l) => void lines.access.push(l),
    info: (l) => void lines.info.push(l),
    error: (l) => void lines.error.push(l)
  }
  return { logger, lines }
}

export interface TestServer extends Server {
  readonly close: () => Promise<void>
  readonly lines: ReturnType<typeof memoryLogger>["lines"]
}

/** Starts `app` on 127.0.0.1:0; `close()` runs the graceful shutdown. */
export const listen = async (app: App, options: Partial<RunnerOptions> = {}): Promise<TestServer> => {
  const { logger, lines } = memoryLogger()
  const scope = Effect.runSync(Scope.make())
  const server = await Effect.runPromise(
    Scope.provide(scope)(start(app, { port: 0, logger, drainTimeout: 2000, ...options }))
  )
  return { ...server, lines, close: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
}
