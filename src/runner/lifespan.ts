/**
 * The lifespan protocol driver (spec.md §6): runs the app once with a
 * `lifespan` scope, delivers `lifespan.startup` before the server accepts a
 * connection and `lifespan.shutdown` after the last stream ended.
 */
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import type { App } from "../protocol/app.ts"
import type { InboundEvent, LifespanInboundEvent, OutboundEvent } from "../protocol/events.ts"
import { lifespanEgi, type LifespanScope } from "../protocol/scope.ts"
import { LifespanSide } from "../protocol/lifespan.ts"
import { ServeError } from "./errors.ts"
import type { RunnerLog } from "./log.ts"
import { appReturnErrorOf, callApp } from "./supervisor.ts"
import { Inbox } from "./inbox.ts"

/** The outcome of a startup or shutdown phase; `unsupported`: why the app does not do lifespan (logged unless `on`). */
type Reply =
  | { readonly ok: true }
  | { readonly ok: false; readonly message: string }
  | { readonly unsupported: true; readonly why: { readonly level: "info" | "error"; readonly line: string } | undefined }

/**
 * Whether the server runs lifespan (spec.md §6, the `lifespan` option):
 * `"auto"` runs it and serves without it when the app does not support
 * it; `"on"` makes that fatal; `"off"` never calls the app with a
 * lifespan scope.
 */
export type LifespanMode = "auto" | "on" | "off"

/** The lifespan of a server that runs none (`lifespan: "off"`, or an app without support). */
export const noLifespan: Lifespan = { state: {}, supported: false, shutdown: () => Effect.void }

/**
 * A running lifespan: `state` for the http scopes, `shutdown` to run the
 * shutdown phase (waits at most `timeoutMs` for the app's reply).
 */
export interface Lifespan {
  readonly state: Record<string, unknown>
  readonly supported: boolean
  readonly shutdown: (timeoutMs: number) => Effect.Effect<void>
}

/**
 * Runs the startup phase. Fails with `ServeError` (`StartupFailed`) when the
 * app answers `lifespan.startup.failed` (rule LIFE-1). An app that fails or
 * returns before answering anything does not support lifespan: the server
 * goes on without it, and says so in one log line (rule CORE-4) — unless
 * `mode` is `"on"`, where that fails with `StartupFailed` too (RUN-20).
 */
export const startLifespan = <R>(
  app: App<unknown, R>,
  logger: RunnerLog,
  mode: Exclude<LifespanMode, "off"> = "auto"
): Effect.Effect<Lifespan, ServeError, R> =>
  Effect.gen(function*() {
    // The lifespan call runs with the server's context, as every stream does.
    const context = yield* Effect.context<R>()
    const state: Record<string, unknown> = {}
    const scope: LifespanScope = { type: "lifespan", egi: lifespanEgi, connectionId: 0, streamId: 0, state }
    // The replies' rules and table 3's state, shared with validate.
    const side = new LifespanSide(scope)
    let pending: LifespanInboundEvent | undefined = { type: "lifespan.startup", connectionId: 0, streamId: 0 }
    // The next event is handed to the oldest waiting receiver.
    const inbox = new Inbox<InboundEvent>({
      poll: () => {
        const event = pending
        pending = undefined
        return event
      }
    })
    let reply = yield* Deferred.make<Reply>()
    let answered = false

    const receive = inbox.take
    const send = (event: OutboundEvent) =>
      Effect.suspend(() => {
        const bad = side.check(event)
        if (bad !== undefined) return Effect.fail(bad)
        side.accept(event)
        answered = true
        const failed = event.type === "lifespan.startup.failed" || event.type === "lifespan.shutdown.failed"
        const message = failed && "message" in event ? event.message ?? "" : ""
        return Deferred.succeed(reply, failed ? { ok: false, message } : { ok: true }).pipe(Effect.asVoid)
      })

    // A call that throws or returns no Effect (RUN-11) is an app without lifespan support.
    const fiber = Effect.runForkWith(context)(callApp(app, scope, receive, send))
    fiber.addObserver((exit) => {
      if (!answered) {
        const notAnEffect = Exit.isFailure(exit) ? appReturnErrorOf(exit.cause) : undefined
        const why = notAnEffect !== undefined
          ? { level: "error" as const, line: `RUN-11: ${notAnEffect.message}` }
          : Exit.isFailure(exit) && !Cause.hasInterruptsOnly(exit.cause)
          ? { level: "info" as const, line: `not supported by the app (${String(Cause.squash(exit.cause))})` }
          : undefined
        Deferred.doneUnsafe(reply, Exit.succeed({ unsupported: true, why }))
      } else if (Exit.isFailure(exit) && !Cause.hasInterruptsOnly(exit.cause)) {
        logger.error("lifespan: the app failed after answering", undefined, exit.cause)
      }
    })

    const first = yield* Deferred.await(reply)
    if ("unsupported" in first) {
      const { why } = first
      if (mode === "on") {
        const detail = why === undefined ? "the app returned without answering lifespan.startup" : why.line
        return yield* Effect.fail(new ServeError({ reason: "StartupFailed", detail: `lifespan is on: ${detail}` }))
      }
      if (why?.level === "error") logger.error(`lifespan: ${why.line}; serving without lifespan`)
      else if (why !== undefined) logger.info(`lifespan: ${why.line}; serving without it`)
      return noLifespan
    }
    if (!first.ok) {
      yield* Fiber.interrupt(fiber)
      return yield* Effect.fail(new ServeError({ reason: "StartupFailed", detail: first.message || "lifespan.startup.failed" }))
    }

    const shutdown = (timeoutMs: number) =>
      Effect.gen(function*() {
        // An app that already returned has nothing more to say.
        if (side.state !== "running" || fiber.pollUnsafe() !== undefined) return
        reply = yield* Deferred.make<Reply>()
        answered = false
        side.shutdown()
        const event: LifespanInboundEvent = { type: "lifespan.shutdown", connectionId: 0, streamId: 0 }
        pending = event
        inbox.wake()
        const done = yield* Deferred.await(reply).pipe(Effect.timeoutOption(timeoutMs))
        if (done._tag === "None") logger.error(`lifespan: no shutdown reply within ${timeoutMs} ms`)
        else if ("ok" in done.value && !done.value.ok) logger.error(`lifespan: shutdown failed: ${done.value.message}`)
        yield* Fiber.interrupt(fiber)
      })
    return { state, supported: true, shutdown }
  })
