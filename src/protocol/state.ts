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
 * Send-side state of an `http` stream (spec.md §4.7, table 1):
 * `start` — no `http.response.start` yet; `head` — started, no body event
 * yet; `body` — at least one body chunk sent; `trailers` — the last body was
 * sent and the start announced trailers (§7.3), which are due; `done` — the
 * response is complete; `reset` — the app reset the stream (§7.4).
 *
 * @since 0.1.0
 * @category models
 */
export type ResponseState = "start" | "head" | "body" | "trailers" | "done" | "reset"

/**
 * What the app sends, reduced to the inputs of the table:
 * `start` = `http.response.start`; `more` = `http.response.body` with
 * `moreBody: true`; `last` = `http.response.body` with `moreBody` false or
 * absent; `file` = `http.response.pathsend` / `http.response.zerocopysend`
 * (a whole body); `trailers` = `http.response.trailers`; `push` =
 * `http.response.push`; `hint` = `http.response.early_hint`; `reset` =
 * `http.response.reset`. (`http.goaway` is a connection event, valid in every
 * state but `reset`, and not part of the table.)
 *
 * @since 0.1.0
 * @category models
 */
export type ResponseInput = "start" | "more" | "last" | "file" | "trailers" | "push" | "hint" | "reset"

/**
 * The send-side transition table (spec.md §4.7, table 1). `last` and `file`
 * lead to `done`, or to `trailers` when the start announced trailers (see
 * `nextResponseState`).
 *
 * @since 0.1.0
 * @category tables
 */
export const responseTable: { readonly [S in ResponseState]: { readonly [I in ResponseInput]?: ResponseState } } = {
  start: { start: "head", push: "start", hint: "start", reset: "reset" },
  head: { more: "body", last: "done", file: "done", push: "head", reset: "reset" },
  body: { more: "body", last: "done", push: "body", reset: "reset" },
  trailers: { trailers: "done", reset: "reset" },
  done: { reset: "reset" },
  reset: {}
}

/**
 * The rule a `(state, input)` pair missing from `responseTable` breaks, with
 * its detail text (spec.md §4.7, Appendix A).
 *
 * @since 0.1.0
 * @category tables
 */
export const responseViolation = (
  state: ResponseState,
  input: ResponseInput
): { readonly rule: string; readonly detail: string } => {
  if (state === "done") return { rule: "HTTP-3", detail: `${eventOf[input]} sent after the response completed` }
  if (state === "reset") return { rule: "HTTP-3", detail: `${eventOf[input]} sent after the stream was reset` }
  switch (input) {
    case "start":
      return { rule: "HTTP-1", detail: "http.response.start sent twice" }
    case "more":
    case "last":
      return state === "start"
        ? { rule: "HTTP-2", detail: "http.response.body sent before http.response.start" }
        : { rule: "HTTP-3", detail: "http.response.body sent after the last body" }
    case "file":
      return state === "start"
        ? { rule: "HTTP-2", detail: "a file body sent before http.response.start" }
        : state === "body"
        ? { rule: "HTTP-21", detail: "a file body must directly follow http.response.start" }
        : { rule: "HTTP-3", detail: "a file body sent after the last body" }
    case "trailers":
      return { rule: "HTTP-18", detail: "http.response.trailers sent before the last body or without being announced" }
    case "push":
      return { rule: "HTTP-20", detail: "http.response.push sent after the last body" }
    case "hint":
      return { rule: "HTTP-19", detail: "http.response.early_hint sent after http.response.start" }
    case "reset":
      return { rule: "HTTP-3", detail: "http.response.reset sent twice" }
  }
}

const eventOf: { readonly [I in ResponseInput]: string } = {
  start: "http.response.start",
  more: "http.response.body",
  last: "http.response.body",
  file: "a file body",
  trailers: "http.response.trailers",
  push: "http.response.push",
  hint: "http.response.early_hint",
  reset: "http.response.reset"
}

/**
 * The next send-side state, or the `LocalProtocolError` naming the rule the
 * input breaks in `state`. `announced`: the start announced trailers, so the
 * last body leads to `trailers` instead of `done` (rule HTTP-18).
 *
 * @since 0.1.0
 * @category transitions
 */
export const nextResponseState = (
  state: ResponseState,
  input: ResponseInput,
  announced = false
): ResponseState | LocalProtocolError => {
  const next = responseTable[state][input]
  if (next === undefined) {
    const v = responseViolation(state, input)
    return new LocalProtocolError({ rule: v.rule, detail: v.detail })
  }
  if (announced && next === "done" && (input === "last" || input === "file")) return "trailers"
  return next
}

// ---------------------------------------------------------------------------
// http request (what receive yields)
// ---------------------------------------------------------------------------

/**
 * Receive-side state of an `http` stream (spec.md §4.7, table 2):
 * `receiving` — body chunks may follow; `trailers` — the last chunk said
 * trailers follow (§7.3), the `http.request.trailers` event is next;
 * `complete` — the body (and its trailers) were delivered, only
 * `http.disconnect` may follow; `disconnected` — final, every `receive`
 * yields `http.disconnect` again (rule HTTP-8).
 *
 * @since 0.1.0
 * @category models
 */
export type RequestState = "receiving" | "trailers" | "complete" | "disconnected"

/**
 * What `receive` yields, reduced: `more` = `http.request` with `moreBody:
 * true`; `last` = with `moreBody: false`; `lastThenTrailers` = with `moreBody:
 * false, trailers: true`; `trailers` = `http.request.trailers`; `disconnect` =
 * `http.disconnect`.
 *
 * @since 0.1.0
 * @category models
 */
export type RequestInput = "more" | "last" | "lastThenTrailers" | "trailers" | "disconnect"

/**
 * The receive-side transition table (spec.md §4.7, table 2).
 *
 * @since 0.1.0
 * @category tables
 */
export const requestTable: { readonly [S in RequestState]: { readonly [I in RequestInput]?: RequestState } } = {
  receiving: { more: "receiving", last: "complete", lastThenTrailers: "trailers", disconnect: "disconnected" },
  trailers: { trailers: "complete", disconnect: "disconnected" },
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
 * reply sent when none is due. `type` is any string (an outbound event's
 * `type`): only the table's own keys are replies, so `"constructor"` or
 * `"__proto__"` is a reply never due, not a lookup into `Object.prototype`.
 *
 * @since 0.1.0
 * @category transitions
 */
export const nextLifespanState = (state: LifespanState, type: string): LifespanState | LocalProtocolError => {
  const row = lifespanTable[state]
  if (Object.hasOwn(row, type)) return row[type]!
  return new LocalProtocolError({ rule: "LIFE-2", detail: `${type} sent in lifespan state ${state}` })
}

// ---------------------------------------------------------------------------
// websocket (what the app sends)
// ---------------------------------------------------------------------------

/**
 * Send-side state of a `websocket` scope (spec.md §11.5, table 4):
 * `connecting` — `websocket.connect` delivered, an answer is due; `open` —
 * accepted; `denying` — a denial response started, its body is due;
 * `closed` — closed, refused, or the denial response is complete.
 *
 * @since 0.3.0
 * @category models
 */
export type WebSocketState = "connecting" | "open" | "denying" | "closed"

/**
 * Inputs of table 4: the outbound event types, with the denial body split
 * into `websocket.http.response.body` (more follows) and `…body.last`.
 *
 * @since 0.3.0
 * @category models
 */
export type WebSocketInput =
  | "websocket.accept"
  | "websocket.send"
  | "websocket.close"
  | "websocket.http.response.start"
  | "websocket.http.response.body"
  | "websocket.http.response.body.last"

/**
 * Table 4 (spec.md §11.5): each (state, input) either moves to a state or
 * names the rule it breaks.
 *
 * @since 0.3.0
 * @category tables
 */
export const websocketTable: {
  readonly [S in WebSocketState]: { readonly [I in WebSocketInput]: WebSocketState | { readonly rule: string } }
} = {
  connecting: {
    "websocket.accept": "open",
    "websocket.send": { rule: "WS-2" },
    "websocket.close": "closed",
    "websocket.http.response.start": "denying",
    "websocket.http.response.body": { rule: "WS-3" },
    "websocket.http.response.body.last": { rule: "WS-3" }
  },
  open: {
    "websocket.accept": { rule: "WS-1" },
    "websocket.send": "open",
    "websocket.close": "closed",
    "websocket.http.response.start": { rule: "WS-3" },
    "websocket.http.response.body": { rule: "WS-3" },
    "websocket.http.response.body.last": { rule: "WS-3" }
  },
  denying: {
    "websocket.accept": { rule: "WS-3" },
    "websocket.send": { rule: "WS-3" },
    "websocket.close": { rule: "WS-3" },
    "websocket.http.response.start": { rule: "WS-3" },
    "websocket.http.response.body": "denying",
    "websocket.http.response.body.last": "closed"
  },
  closed: {
    "websocket.accept": { rule: "WS-7" },
    "websocket.send": { rule: "WS-7" },
    "websocket.close": { rule: "WS-7" },
    "websocket.http.response.start": { rule: "WS-7" },
    "websocket.http.response.body": { rule: "WS-7" },
    "websocket.http.response.body.last": { rule: "WS-7" }
  }
}

/**
 * The next websocket state, or the `LocalProtocolError` naming the broken
 * rule (spec.md §11.5).
 *
 * @since 0.3.0
 * @category transitions
 */
export const nextWebSocketState = (state: WebSocketState, input: WebSocketInput): WebSocketState | LocalProtocolError => {
  const next = websocketTable[state][input]
  if (typeof next === "string") return next
  return new LocalProtocolError({ rule: next.rule, detail: `${input} sent in websocket state ${state}` })
}
