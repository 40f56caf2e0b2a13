/**
 * The per-stream event state machines as transition tables (spec.md §4.7, §6.5).
 *
 * Everything that decides whether an event may be sent or received in a
 * given state lives in this file, as data: `(state, input) → next state`. A
 * pair missing from a table is a protocol violation, reported with the rule
 * ID that forbids it. The runner checks every send against tables 1 and 3;
 * its exchange produces the receive events of table 2, and the property
 * tests check both against these tables. Pure: no Node imports.
 *
 * @since 0.1.0
 */
import { LocalProtocolError } from "./errors.ts"

// ---------------------------------------------------------------------------
// http response (what the app sends)
// ---------------------------------------------------------------------------

/**
 * Send-side state of an `http` stream (spec.md §4.7):
 * `start` — nothing sent yet; `body` — started, body may follow;
 * `done` — the last body was sent.
 *
 * @since 0.1.0
 * @category models
 */
export type ResponseState = "start" | "body" | "done"

/**
 * What the app sends, reduced to the inputs of the table:
 * `start` = `http.response.start`; `more` = `http.response.body` with
 * `moreBody: true`; `last` = `http.response.body` with `moreBody` false/absent.
 *
 * @since 0.1.0
 * @category models
 */
export type ResponseInput = "start" | "more" | "last"

/**
 * The send-side transition table (spec.md §4.7, table 1).
 *
 * @since 0.1.0
 * @category tables
 */
export const responseTable: { readonly [S in ResponseState]: { readonly [I in ResponseInput]?: ResponseState } } = {
  start: { start: "body" },
  body: { more: "body", last: "done" },
  done: {}
}

/**
 * The rule a missing `(state, input)` pair of `responseTable` breaks.
 *
 * @since 0.1.0
 * @category tables
 */
export const responseViolation: { readonly [S in ResponseState]: { readonly rule: string; readonly detail: string } } = {
  start: { rule: "HTTP-2", detail: "http.response.body sent before http.response.start" },
  body: { rule: "HTTP-1", detail: "http.response.start sent twice" },
  done: { rule: "HTTP-3", detail: "event sent after the response completed" }
}

/**
 * The next send-side state, or the `LocalProtocolError` naming the rule the
 * input breaks in `state`.
 *
 * @since 0.1.0
 * @category transitions
 */
export const nextResponseState = (state: ResponseState, input: ResponseInput): ResponseState | LocalProtocolError => {
  const next = responseTable[state][input]
  if (next !== undefined) return next
  const v = responseViolation[state]
  return new LocalProtocolError({ rule: v.rule, detail: v.detail })
}

// ---------------------------------------------------------------------------
// http request (what receive yields)
// ---------------------------------------------------------------------------

/**
 * Receive-side state of an `http` stream (spec.md §4.7, table 2):
 * `receiving` — body chunks may follow; `complete` — the last chunk was
 * delivered, only `http.disconnect` may follow; `disconnected` — final, every
 * `receive` yields `http.disconnect` again (rule HTTP-8).
 *
 * @since 0.1.0
 * @category models
 */
export type RequestState = "receiving" | "complete" | "disconnected"

/**
 * What `receive` yields, reduced: `more` = `http.request` with `moreBody:
 * true`; `last` = with `moreBody: false`; `disconnect` = `http.disconnect`.
 *
 * @since 0.1.0
 * @category models
 */
export type RequestInput = "more" | "last" | "disconnect"

/**
 * The receive-side transition table (spec.md §4.7, table 2).
 *
 * @since 0.1.0
 * @category tables
 */
export const requestTable: { readonly [S in RequestState]: { readonly [I in RequestInput]?: RequestState } } = {
  receiving: { more: "receiving", last: "complete", disconnect: "disconnected" },
  complete: { disconnect: "disconnected" },
  disconnected: { disconnect: "disconnected" }
}

// ---------------------------------------------------------------------------
// lifespan (what the app sends)
// ---------------------------------------------------------------------------

/**
 * Send-side state of the lifespan scope (spec.md §6.5): `startup` — the
 * startup event was delivered, a reply is due; `running` — started, waiting
 * for shutdown; `shutdown` — the shutdown event was delivered, a reply is
 * due; `done`.
 *
 * @since 0.1.0
 * @category models
 */
export type LifespanState = "startup" | "running" | "shutdown" | "done"

/**
 * The lifespan send table (spec.md §6.5). Inputs are outbound event types.
 *
 * @since 0.1.0
 * @category tables
 */
export const lifespanTable: { readonly [S in LifespanState]: Readonly<Record<string, LifespanState>> } = {
  startup: { "lifespan.startup.complete": "running", "lifespan.startup.failed": "done" },
  running: {},
  shutdown: { "lifespan.shutdown.complete": "done", "lifespan.shutdown.failed": "done" },
  done: {}
}

/**
 * The next lifespan state, or the `LocalProtocolError` (rule LIFE-2) for a
 * reply sent when none is due.
 *
 * @since 0.1.0
 * @category transitions
 */
export const nextLifespanState = (state: LifespanState, type: string): LifespanState | LocalProtocolError => {
  const next = lifespanTable[state][type]
  if (next !== undefined) return next
  return new LocalProtocolError({ rule: "LIFE-2", detail: `${type} sent in lifespan state ${state}` })
}
