/**
 * An app for limit tests: counts its calls (requests and WebSocket
 * handshakes, which it refuses) and the paths it was asked for, and answers
 * every request 200 "ok" without reading its body.
 */
import { Effect } from "effect"
import type { EgiScope, Receive, Send } from "../../src/index.ts"
import { unsupportedScope } from "../../src/protocol/unsupported.ts"

export const countingApp = () => {
  const stats = { calls: 0, paths: [] as Array<string> }
  const app = Effect.fnUntraced(function*(scope: EgiScope, _receive: Receive, send: Send) {
    if (scope.type === "websocket") stats.calls++
    if (scope.type !== "http") return yield* unsupportedScope(scope)
    stats.calls++
    stats.paths.push(scope.path)
    yield* send({ type: "http.response.start", status: 200, headers: [["content-type", "text/plain"]] })
    yield* send({ type: "http.response.body", body: new TextEncoder().encode("ok") })
  })
  return { app, stats }
}
