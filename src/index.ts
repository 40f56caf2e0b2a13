/**
 * EGI — the Effect Gateway Interface. The public surface of `egi`.
 *
 * One name per thing. A module whose members read as a set is exported as a
 * namespace, and only so: `Events` (each event is an Effect Schema and its
 * type under one name, `Events.HttpRequest`), `Headers` (the header-list
 * type and its rules, `Headers.Headers`, `Headers.get`) and `State` (the
 * state tables, `State.responseTable`). Every other export is one flat
 * name: the app's signature (`App`, `Receive`, `Send`), the scopes, the
 * errors, the extensions, the runner (`serve`, `start`) and the sync shim
 * (`fromClassic`, `handOff`). Nothing is exported both ways.
 *
 * ```ts
 * import { Effect } from "effect"
 * import { type EgiScope, type Events, type Receive, type Send, unsupportedScope } from "egi"
 *
 * const ok: Events.HttpResponseStart = { type: "http.response.start", status: 200 }
 *
 * export default Effect.fnUntraced(function*(scope: EgiScope, _receive: Receive, send: Send) {
 *   if (scope.type !== "http") return yield* unsupportedScope(scope)
 *   yield* send(ok)
 *   yield* send({ type: "http.response.body", body: new TextEncoder().encode("hello\n") })
 * })
 * ```
 *
 * @since 0.1.0
 */

// ---------------------------------------------------------------------------
// The interface (spec.md §3–§7, §11)
// ---------------------------------------------------------------------------

export type { App, Receive, Send } from "./protocol/app.ts"
export type { Correlator, EgiScope, Extensions, HttpScope, LifespanScope, WebSocketScope } from "./protocol/scope.ts"
export { unsupportedScope } from "./protocol/unsupported.ts"

/**
 * The events of EGI (spec.md §4, §6, §11), each an Effect Schema and, under
 * the same name, its type: `Events.HttpRequest` decodes an `http.request`
 * event and is its type. The unions `Events.InboundEvent` (what `receive`
 * yields) and `Events.OutboundEvent` (what `send` takes) are types only.
 *
 * @since 0.1.0
 */
export * as Events from "./protocol/events.ts"

export {
  FileSendError,
  LocalProtocolError,
  RemoteProtocolError,
  type SendError,
  StreamClosedError,
  UnsupportedScopeError
} from "./protocol/errors.ts"

/**
 * Header fields as EGI represents them (spec.md §3.4): `Headers.Headers`,
 * a list of `[name, value]` ByteString pairs, names lower-case, order and
 * duplicates kept; the predicates of rules HTTP-5 and HTTP-6
 * (`Headers.isFieldName`, `Headers.isFieldValue`); the field sets of RUN-6
 * and HTTP-16 (`Headers.connectionSpecific`, `Headers.singleValue`); and
 * `Headers.get`, `Headers.fromRaw`.
 *
 * @since 0.1.0
 */
export * as Headers from "./protocol/headers.ts"

export {
  type ClientCertificateExtension,
  type ConnectionExtension,
  defaultNeverIndexed,
  Extension,
  type FlowControlExtension,
  type FlowWindows,
  type HeaderIndexingExtension,
  type HttpExtensions,
  type PriorityExtension,
  type PushExtension
} from "./protocol/extensions.ts"
export { defaultPriority, parsePriority, type Priority } from "./protocol/priority.ts"

/**
 * The per-stream state machines as data (spec.md §4.7 tables 1 and 2,
 * §6.5 table 3, §11.5 table 4): `State.responseTable`,
 * `State.requestTable`, `State.lifespanTable`, `State.websocketTable`, and
 * the functions that step them, which return the next state or the
 * `LocalProtocolError` naming the rule a pair breaks.
 *
 * @since 0.1.0
 */
export * as State from "./protocol/state.ts"

/**
 * The protocol core without I/O — what the Node runner, `validate(app)` and
 * the in-memory client all drive, for a server on another runtime to drive
 * too (spec.md §4–§7, §11): per stream, `ResponseSide` checks every event
 * an app sends on an `http` scope (`check`, then `accept` once sent) and
 * holds table 1's state; `RequestSide` steps table 2 for what `receive`
 * yields and counts the body against its `content-length` (HTTP-7);
 * `WebSocketSide` and `LifespanSide` do the same for the other scope
 * types. `ErrorCode` names the RFC 9113 §7 codes the Node runner sends.
 *
 * @since 0.4.0
 */
export { ErrorCode } from "./protocol/fields.ts"
export { RequestSide } from "./protocol/http-request.ts"
export { ResponseSide } from "./protocol/http-response.ts"
export { LifespanSide } from "./protocol/lifespan.ts"
export { WebSocketSide } from "./protocol/websocket.ts"

// ---------------------------------------------------------------------------
// The Node runner (spec.md §8)
// ---------------------------------------------------------------------------

export { ServeError } from "./runner/errors.ts"
export type { AccessEntry, LogMode, LogWhere } from "./runner/log.ts"
export { defaults, type RunnerOptions } from "./runner/options.ts"
export { layer, type Server, serve, start } from "./runner/server.ts"
export { layerConfig, optionsConfig } from "./runner/config.ts"
export type { TlsClientAuth, TlsMaterial, TlsOptions } from "./runner/tls.ts"
export { type ListenTarget, parseBind } from "./runner/listen-target.ts"
export { type ForwardedTrust, forwardedTrust, forwardedView, type ForwardedView } from "./runner/forwarded.ts"

// ---------------------------------------------------------------------------
// The classic interface and the sync shim (spec.md §10)
// ---------------------------------------------------------------------------

export type {
  ClassicApp,
  ClassicBody,
  ClassicHeaders,
  Environ,
  ErrorStream,
  FileWrapper,
  StartResponse,
  Upgrade,
  Write
} from "./shim/classic.ts"
export {
  ClassicAppError,
  ClassicTimeoutError,
  ClassicUsageError,
  ClientDisconnectedError,
  HandOffError,
  WorkerCrashError
} from "./shim/errors.ts"
export type { Input } from "./shim/input.ts"
export { type PoolOptions, poolDefaults, type ShimLog, WorkerPool } from "./shim/pool.ts"
export type { RestartCause } from "./shim/metrics.ts"
export { handOff, type HandOffRest, pushBack } from "./shim/handoff.ts"
export { type ClassicHost, fromClassic } from "./shim/shim.ts"
export type { ModuleRef } from "./shim/wire.ts"
