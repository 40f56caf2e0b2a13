/**
 * WebSockets over HTTP/2 use `ws` below its public API (spec.md §11.6):
 * this test fails on a `ws` release that removed what they use, and checks
 * that the server then refuses to start with one error naming the `ws`
 * version, instead of failing mid-request.
 */
import { it } from "@effect/vitest"
import { Effect } from "effect"
import { createRequire } from "node:module"
import { describe, expect } from "vitest"
import { start } from "../../src/runner/server.ts"
import { missingWsInternals, wsVersion } from "../../src/runner/websocket/ws-over-stream.ts"

const ws = createRequire(import.meta.url)("ws") as { prototype: Record<string, unknown>; PerMessageDeflate: unknown }

describe("the ws internals WebSockets over HTTP/2 use (spec.md §11.6)", () => {
  it("WS-9: the installed ws has every internal EGI uses (a ws release that drops one fails here)", () => {
    expect(wsVersion()).toMatch(/^8\.\d+\.\d+$/)
    expect(missingWsInternals()).toBeUndefined()
  })

  it.live("WS-9: without them the server does not start: ServeError StartupFailed naming the ws version and what is missing", () =>
    Effect.gen(function*() {
      const setSocket = ws.prototype["setSocket"]
      delete ws.prototype["setSocket"]
      const missing = missingWsInternals()
      const error = yield* Effect.flip(start(() => Effect.void, { port: 0, log: false })).pipe(
        Effect.ensuring(Effect.sync(() => void (ws.prototype["setSocket"] = setSocket)))
      )
      expect(missing).toBe("WebSocket#setSocket")
      expect(error.message).toBe(
        `StartupFailed: ws ${wsVersion()} lacks WebSocket#setSocket, which EGI needs for WebSockets over HTTP/2 (RFC 8441); install a ws 8 release from 8.23 that has it`
      )
      expect(missingWsInternals()).toBeUndefined()
    }))
})
