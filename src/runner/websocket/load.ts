/**
 * The WebSocket machinery — `ws` and the runner's sessions — loaded at the
 * first WebSocket handshake, not at start (spec.md §8.8): a server that
 * never sees one does not hold it. Measured with the launcher
 * (`egi serve examples/hello.ts`, 6 alternating rounds): idle RSS 98.55 →
 * 97.2 MiB per process (and per `--workers` worker). Node loads the
 * modules synchronously: the first handshake holds the event loop once,
 * ~30 ms (built package).
 */
import * as Data from "effect/Data"
import type * as H1 from "./h1-upgrade.ts"
import type * as H2 from "./h2-connect.ts"

/**
 * WebSockets cannot be served: the machinery failed to load, or the
 * installed `ws` lacks what `ws-over-stream.ts` uses below its public API
 * (`detail` names the `ws` version and what is missing). Every WebSocket
 * handshake then gets 500; other requests are served as before.
 */
export class WebSocketsUnavailableError extends Data.TaggedError("WebSocketsUnavailableError")<{
  readonly detail: string
  readonly cause?: unknown
}> {
  override get message(): string {
    return this.detail
  }
}

/** The two transports' handshake handlers. */
export interface WebSocketMachinery {
  readonly h1: typeof H1
  readonly h2: typeof H2
}

let loading: Promise<WebSocketMachinery> | undefined

/**
 * The machinery, loaded once per process (later calls share the first
 * load's outcome). Rejects with `WebSocketsUnavailableError`.
 */
export const loadWebSockets = (): Promise<WebSocketMachinery> =>
  loading ??= Promise.all([import("./ws-over-stream.ts"), import("./h1-upgrade.ts"), import("./h2-connect.ts")]).then(
    ([wsOverStream, h1, h2]) => {
      const missing = wsOverStream.missingWsInternals()
      if (missing === undefined) return { h1, h2 }
      throw new WebSocketsUnavailableError({
        detail: `ws ${wsOverStream.wsVersion()} lacks ${missing}, which EGI needs for WebSockets (RFC 6455, RFC 8441); install a ws 8 release from 8.23 that has it`
      })
    },
    (cause) => {
      throw new WebSocketsUnavailableError({ detail: `the WebSocket machinery failed to load: ${String((cause as Error)?.message ?? cause)}`, cause })
    }
  )
