/**
 * The lifespan protocol driver (spec.md §6): runs the app once with a
 * `lifespan` scope, delivers `lifespan.startup` before the server accepts a
 * connection and `lifespan.shutdown` after the last stream ended.
 */
import { Cause, Deferred, Effect, Exit, Fiber } from "effect"
import type { App } from "../protocol/app.ts"
import type { InboundEvent, LifespanInboundEvent, OutboundEvent } from "../protocol/events.ts"
import { lifespanEgi, type LifespanScope } from "../protocol/scope.ts"
import { LifespanSide } from "../protocol/lifespan.ts"
import { ServeError } from "./errors.ts"
import type { RunnerLog } from "./log.ts"
import { appReturnErrorOf, callApp } from "./supervisor.ts"
import { Inbox } from "./inbox.ts"

/** The outcome of a startup or shutdown phase. */
type Reply = { readonly ok: true } | { readonly ok: false; readonly message: string } | { readonly unsupported: true }

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
 * goes on without it, and says so in one log line (rule CORE-4).
 */
export const startLifespan = <R>(app: App<unknown, R>, logger: RunnerLog): Effect.Effect<Lifespan, ServeError, R> =>
  Effect.gen(function*() {
    // The lifespan call runs with the server's context, as every stream does.
    const context = yield* Effect.context<R>()
    const state: Record<string, unknown> = {}
    const scope: LifespanScope = { type: "lifespan", egi: lifespanEgi, connectionId: 0, streamId: 0, state }
    // The replies' rules and table 3's state, shared with validate.
    const side = new LifespanSide(scope)
    let pending: LifespanInboundEvent | undefined = { type: "lifespan.startup", connectionId: 0, streamId: 0 }
    // The next event is handed to the oldest waiting receiver.
    const inbox = new Inbox<InboundEvent>(() => {
      const event = pending
      pending = undefined
      return event
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
        if (notAnEffect !== undefined) {
          logger.error(`lifespan: RUN-11: ${notAnEffect.message}; serving without lifespan`)
        } else if (Exit.isFailure(exit) && !Cause.hasInterruptsOnly(exit.cause)) {
          logger.info(`lifespan: not supported by the app (${String(Cause.squash(exit.cause))}); serving without it`)
        }
        Deferred.doneUnsafe(reply, Exit.succeed({ unsupported: true }))
      } else if (Exit.isFailure(exit) && !Cause.hasInterruptsOnly(exit.cause)) {
        logger.error("lifespan: the app failed after answering", undefined, exit.cause)
      }
    })

    const first = yield* Deferred.await(reply)
    if ("unsupported" in first) {
      return { state, supported: false, shutdown: () => Effect.void }
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
