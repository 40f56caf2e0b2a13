/**
 * Test support: an app that records what `receive` yields on every stream.
 *
 * It reads the request body to its end (at most `maxEvents` events). A
 * complete body (moreBody:false) is answered 200 `got <n>`; on
 * http.disconnect it calls `receive` once more (rule HTTP-8) and returns
 * without sending.
 */
import { Effect } from "effect"
import type { App } from "../../src/protocol/app.ts"
import type { InboundEvent } from "../../src/protocol/events.ts"
import { unsupportedScope } from "../../src/protocol/unsupported.ts"

export interface Call {
  readonly path: string
  readonly method: string
  readonly connectionId: number
  readonly streamId: number
  readonly events: Array<InboundEvent>
  /** The event of the `receive` after an http.disconnect. */
  repeat: InboundEvent | undefined
  done: boolean
}

export const bodyBytes = (call: Call): number =>
  call.events.reduce((n, e) => n + (e.type === "http.request" ? e.body.length : 0), 0)

export const bodyText = (call: Call): string =>
  call.events.map((e) => (e.type === "http.request" ? Buffer.from(e.body).toString("latin1") : "")).join("")

/** The app saw a complete body (some http.request with moreBody:false). */
export const sawComplete = (call: Call): boolean =>
  call.events.some((e) => e.type === "http.request" && !e.moreBody)

export const recorder = (maxEvents = 10_000) => {
  const calls: Array<Call> = []
  const app: App = (scope, receive, send) => {
    if (scope.type !== "http") return unsupportedScope(scope)
    const call: Call = {
      path: scope.path,
      method: scope.method,
      connectionId: scope.connectionId,
      streamId: scope.streamId,
      events: [],
      repeat: undefined,
      done: false
    }
    calls.push(call)
    return Effect.gen(function*() {
      let bytes = 0
      for (let i = 0; i < maxEvents; i++) {
        const event = yield* receive
        call.events.push(event)
        if (event.type === "http.disconnect") {
          call.repeat = yield* receive
          return
        }
        if (event.type !== "http.request") return yield* Effect.die(new Error(`unexpected ${event.type}`))
        bytes += event.body.length
        if (!event.moreBody) break
      }
      yield* send({ type: "http.response.start", status: 200, headers: [["content-type", "text/plain"]] })
      yield* send({ type: "http.response.body", body: new TextEncoder().encode(`got ${bytes}`) })
    }).pipe(Effect.ensuring(Effect.sync(() => void (call.done = true))))
  }
  const find = (path: string): Call | undefined => calls.find((c) => c.path === path)
  return { app, calls, find }
}
