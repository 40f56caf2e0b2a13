/**
 * The per-stream event state machines as transition tables (spec.md §4.7
 * tables 1 and 2, §6.5 table 3, §11.5 table 4) — the one source of the
 * event order. The runner, `validate(app)` and the in-memory client all
 * step these tables; test/protocol/state.test.ts holds each against the
 * table spec.md prints, pair by pair.
 *
 * All four have one total shape, `Table<State, Input>`: every
 * `(state, input)` pair maps to the next state or to the `Violation` (rule
 * ID and detail) it is. Pure: no I/O, no Node imports.
 *
 * @since 0.1.0
 */
import { LocalProtocolError } from "./errors.ts"

/**
 * A pair a table forbids: the rule it breaks (a spec.md rule ID) and a
 * detail for the error message.
 *
 * @since 0.4.0
 * @category models
 */
export interface Violation {
  readonly rule: string
  readonly detail: string
}

/**
 * A total transition table: for every state and every input, the next
 * state or the `Violation` the pair is.
 *
 * @since 0.4.0
 * @category models
 */
export type Table<S extends string, I extends string> = { readonly [K in S]: { readonly [J in I]: S | Violation } }

/**
 * A table's cells as nested Maps (state, then input), and the pair looked
 * up last with its cell: a stream's `check` and `accept` step the same pair
 * one after the other, and most streams step the same few pairs.
 */
interface Cells {
  readonly byState: ReadonlyMap<string, ReadonlyMap<string, string | Violation>>
  lastState: string | undefined
  lastInput: string | undefined
  lastCell: string | Violation
}

/**
 * Where a table built here keeps its Cells, under a symbol that is not
 * enumerable (the table reads, spreads and compares as before). `step`
 * looks each pair up there: `table[state][input]`, both keys varying, is a
 * megamorphic keyed load in V8 at every event (~110 instructions each, two
 * per step), a Map lookup of a state or input name ~45, the last pair again
 * a few (bench/in-process.ts --instructions).
 */
const CELLS: unique symbol = Symbol("egi.state.cells")

/** The cell of `(state, input)` in `cells`. */
const cellOf = (cells: Cells, state: string, input: string): string | Violation => {
  if (state === cells.lastState && input === cells.lastInput) return cells.lastCell
  const cell = cells.byState.get(state)!.get(input)!
  cells.lastState = state
  cells.lastInput = input
  cells.lastCell = cell
  return cell
}

/**
 * One step of `table`: the next state, or the `LocalProtocolError` naming
 * the rule `(state, input)` breaks.
 *
 * @since 0.4.0
 * @category transitions
 */
export const step = <S extends string, I extends string>(table: Table<S, I>, state: S, input: I): S | LocalProtocolError => {
  const cells = (table as { readonly [CELLS]?: Cells })[CELLS]
  const cell = (cells === undefined ? table[state][input] : cellOf(cells, state, input)) as S | Violation
  return typeof cell === "string" ? cell : new LocalProtocolError({ rule: cell.rule, detail: cell.detail })
}

/** `table` with its cells kept for `step` under `CELLS`, frozen (rows too): the cells are a copy, and a table never changes. */
const withCells = <S extends string, I extends string>(table: Table<S, I>): Table<S, I> => {
  const cells: Cells = {
    byState: new Map(Object.entries<Table<S, I>[S]>(table).map(([state, row]) => [state, new Map(Object.entries(row))])),
    lastState: undefined,
    lastInput: undefined,
    lastCell: ""
  }
  Object.defineProperty(table, CELLS, { value: cells })
  for (const row of Object.values(table)) Object.freeze(row)
  return Object.freeze(table)
}

/** Builds a total table from the allowed transitions and a function naming the violation of every other pair. */
const total = <S extends string, I extends string>(
  states: ReadonlyArray<S>,
  inputs: ReadonlyArray<I>,
  allowed: { readonly [K in S]: { readonly [J in I]?: S } },
  violation: (state: S, input: I) => Violation
): Table<S, I> =>
  withCells(Object.fromEntries(
    states.map((state) => [state, Object.fromEntries(inputs.map((input) => [input, allowed[state][input] ?? violation(state, input)]))])
  ) as Table<S, I>)

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
export type ResponseInput = "start" | "more" | "last" | "file" | "trailers" | "push" | "hint" | "reset" | "goaway"

/** The states and inputs of table 1, in the spec's order. @since 0.4.0 @category tables */
export const responseStates: ReadonlyArray<ResponseState> = ["start", "head", "body", "trailers", "done", "reset"]
/** @since 0.4.0 @category tables */
export const responseInputs: ReadonlyArray<ResponseInput> = ["start", "more", "last", "file", "trailers", "push", "hint", "reset", "goaway"]

/** The rule a pair table 1 forbids breaks, with its detail (spec.md §4.7, Appendix A). */
const responseViolation = (state: ResponseState, input: ResponseInput): Violation => {
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
    case "goaway":
      return { rule: "HTTP-3", detail: "http.goaway sent after the stream was reset" }
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
  reset: "http.response.reset",
  goaway: "http.goaway"
}

/**
 * Table 1 (spec.md §4.7): what the app sends on an `http` stream. `last`
 * and `file` lead to `done`, or to `trailers` when the start announced
 * trailers (see `nextResponseState`); `goaway` is valid in every state but
 * `reset` and changes none.
 *
 * @since 0.1.0
 * @category tables
 */
export const responseTable: Table<ResponseState, ResponseInput> = total(responseStates, responseInputs, {
  start: { start: "head", push: "start", hint: "start", reset: "reset", goaway: "start" },
  head: { more: "body", last: "done", file: "done", push: "head", reset: "reset", goaway: "head" },
  body: { more: "body", last: "done", push: "body", reset: "reset", goaway: "body" },
  trailers: { trailers: "done", reset: "reset", goaway: "trailers" },
  done: { reset: "reset", goaway: "done" },
  reset: {}
}, responseViolation)

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
  const next = step(responseTable, state, input)
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

/** The states and inputs of table 2, in the spec's order. @since 0.4.0 @category tables */
export const requestStates: ReadonlyArray<RequestState> = ["receiving", "trailers", "complete", "disconnected"]
/** @since 0.4.0 @category tables */
export const requestInputs: ReadonlyArray<RequestInput> = ["more", "last", "lastThenTrailers", "trailers", "disconnect"]

/**
 * The rule a pair table 2 forbids breaks (spec.md §4.7): anything but a
 * disconnect after one, HTTP-8; body after the last body, HTTP-14 (its
 * `moreBody: false` said the body was complete); request trailers that were
 * not announced, or anything but them after the last body announced them,
 * HTTP-23.
 */
const requestViolation = (state: RequestState, input: RequestInput): Violation => ({
  rule: state === "disconnected" ? "HTTP-8" : state === "complete" && input !== "trailers" ? "HTTP-14" : "HTTP-23",
  detail: `${input} received in request state ${state}`
})

/**
 * Table 2 (spec.md §4.7): what `receive` yields on an `http` stream. A
 * server steps it for each event it delivers; `validate` steps it to check
 * a server.
 *
 * @since 0.1.0
 * @category tables
 */
export const requestTable: Table<RequestState, RequestInput> = total(requestStates, requestInputs, {
  receiving: { more: "receiving", last: "complete", lastThenTrailers: "trailers", disconnect: "disconnected" },
  trailers: { trailers: "complete", disconnect: "disconnected" },
  complete: { disconnect: "disconnected" },
  disconnected: { disconnect: "disconnected" }
}, requestViolation)

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
 * Inputs of table 3: the lifespan replies (spec.md §6.3).
 *
 * @since 0.4.0
 * @category models
 */
export type LifespanInput = "lifespan.startup.complete" | "lifespan.startup.failed" | "lifespan.shutdown.complete" | "lifespan.shutdown.failed"

/** The states and inputs of table 3, in the spec's order. @since 0.4.0 @category tables */
export const lifespanStates: ReadonlyArray<LifespanState> = ["startup", "running", "shutdown", "done"]
/** @since 0.4.0 @category tables */
export const lifespanInputs: ReadonlyArray<LifespanInput> = [
  "lifespan.startup.complete",
  "lifespan.startup.failed",
  "lifespan.shutdown.complete",
  "lifespan.shutdown.failed"
]

/**
 * Table 3 (spec.md §6.5): the lifespan replies; a reply that is not due is
 * LIFE-2.
 *
 * @since 0.1.0
 * @category tables
 */
export const lifespanTable: Table<LifespanState, LifespanInput> = total(lifespanStates, lifespanInputs, {
  startup: { "lifespan.startup.complete": "running", "lifespan.startup.failed": "done" },
  running: {},
  shutdown: { "lifespan.shutdown.complete": "done", "lifespan.shutdown.failed": "done" },
  done: {}
}, (state, input) => ({ rule: "LIFE-2", detail: `${input} sent in lifespan state ${state}` }))

/**
 * The next lifespan state, or the `LocalProtocolError` (rule LIFE-2) for a
 * reply sent when none is due. `type` is any string (an outbound event's
 * `type`): only the table's own keys are replies, so `"constructor"` or
 * `"__proto__"` is a reply never due, not a lookup into `Object.prototype`.
 *
 * @since 0.1.0
 * @category transitions
 */
export const nextLifespanState = (state: LifespanState, type: string): LifespanState | LocalProtocolError =>
  (lifespanInputs as ReadonlyArray<string>).includes(type)
    ? step(lifespanTable, state, type as LifespanInput)
    : new LocalProtocolError({ rule: "LIFE-2", detail: `${type} sent in lifespan state ${state}` })

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

/** The states and inputs of table 4, in the spec's order. @since 0.4.0 @category tables */
export const websocketStates: ReadonlyArray<WebSocketState> = ["connecting", "open", "denying", "closed"]
/** @since 0.4.0 @category tables */
export const websocketInputs: ReadonlyArray<WebSocketInput> = [
  "websocket.accept",
  "websocket.send",
  "websocket.close",
  "websocket.http.response.start",
  "websocket.http.response.body",
  "websocket.http.response.body.last"
]

/** Table 4 written with rules only: each violation gets its detail. */
const withDetails = (
  table: { readonly [S in WebSocketState]: { readonly [I in WebSocketInput]: WebSocketState | { readonly rule: string } } }
): Table<WebSocketState, WebSocketInput> =>
  withCells(Object.fromEntries(
    websocketStates.map((state) => [
      state,
      Object.fromEntries(
        websocketInputs.map((input) => {
          const cell = table[state][input]
          return [input, typeof cell === "string" ? cell : { rule: cell.rule, detail: `${input} sent in websocket state ${state}` }]
        })
      )
    ])
  ) as Table<WebSocketState, WebSocketInput>)

/**
 * Table 4 (spec.md §11.5): each (state, input) either moves to a state or
 * names the rule it breaks.
 *
 * @since 0.3.0
 * @category tables
 */
export const websocketTable: Table<WebSocketState, WebSocketInput> = withDetails({
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
})

/**
 * The next websocket state, or the `LocalProtocolError` naming the broken
 * rule (spec.md §11.5).
 *
 * @since 0.3.0
 * @category transitions
 */
export const nextWebSocketState = (state: WebSocketState, input: WebSocketInput): WebSocketState | LocalProtocolError =>
  step(websocketTable, state, input)
