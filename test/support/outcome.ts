/**
 * Test support: apps that answer only `http` scopes, and the outcome of a
 * `send` (or extension call) as plain data, for assertions.
 */
import { Cause, Effect, Exit } from "effect"
import type { App, Receive, Send } from "../../src/protocol/app.ts"
import type { SendError } from "../../src/protocol/errors.ts"
import type { OutboundEvent } from "../../src/protocol/events.ts"
import type { EgiScope, HttpScope } from "../../src/protocol/scope.ts"
import { unsupportedScope } from "../../src/protocol/unsupported.ts"

/** An app for `http` scopes; other scope types are unsupported (CORE-4). */
export const httpApp = (body: (scope: HttpScope, receive: Receive, send: Send) => Effect.Effect<void, unknown>): App =>
  (scope: EgiScope, receive: Receive, send: Send) =>
    scope.type === "http" ? body(scope, receive, send) : unsupportedScope(scope)

/** What one `send` (or extension call) did, as plain data. */
export type Outcome =
  | { readonly ok: true }
  | { readonly tag: "LocalProtocolError"; readonly rule: string }
  | { readonly tag: "FileSendError"; readonly code: string }
  | { readonly tag: "StreamClosedError"; readonly errorCode: number | undefined; readonly connectionId: number; readonly streamId: number }

export const outcome = (effect: Effect.Effect<void, SendError>): Effect.Effect<Outcome> =>
  Effect.match(effect, {
    onSuccess: (): Outcome => ({ ok: true }),
    onFailure: (e): Outcome =>
      e._tag === "LocalProtocolError"
        ? { tag: e._tag, rule: e.rule }
        : e._tag === "FileSendError"
        ? { tag: e._tag, code: e.code }
        : { tag: e._tag, errorCode: e.errorCode, connectionId: e.connectionId, streamId: e.streamId }
  })

/** The outcome of sending a (possibly ill-typed) event. */
export const trySend = (send: Send, event: unknown): Effect.Effect<Outcome> => outcome(send(event as OutboundEvent))

/** The outcome of a send that breaks rule `r`. */
export const rule = (r: string): Outcome => ({ tag: "LocalProtocolError", rule: r })
export const OK: Outcome = { ok: true }

/** How a `send` ended, from its Exit: "ok", or the error's `_tag` (and `rule` when it has one). */
export type SendOutcome = { readonly tag: string; readonly rule?: string } | "ok"

export const exitOutcome = (exit: Exit.Exit<void, { readonly _tag: string; readonly rule?: string }>): SendOutcome => {
  if (Exit.isSuccess(exit)) return "ok"
  const fail = exit.cause.reasons.find(Cause.isFailReason)
  if (fail === undefined) return { tag: `non-failure: ${Cause.pretty(exit.cause)}` }
  const e = fail.error
  return e.rule === undefined ? { tag: e._tag } : { tag: e._tag, rule: e.rule }
}
