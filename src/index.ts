/**
 * EGI — the Effect Gateway Interface. The public surface.
 *
 * @since 0.1.0
 */
export type { App, Receive, Send } from "./protocol/app.ts"
export * as Errors from "./protocol/errors.ts"
export {
  FileSendError,
  LocalProtocolError,
  RemoteProtocolError,
  type SendError,
  StreamClosedError,
  UnsupportedScopeError
} from "./protocol/errors.ts"
export { unsupportedScope } from "./protocol/unsupported.ts"
export * as Events from "./protocol/events.ts"
export type {
  HttpDisconnect,
  HttpGoaway,
  HttpInboundEvent,
  HttpOutboundEvent,
  HttpRequest,
  HttpRequestTrailers,
  HttpResponseBody,
  HttpResponseEarlyHint,
  HttpResponsePathsend,
  HttpResponsePush,
  HttpResponseReset,
  HttpResponseStart,
  HttpResponseTrailers,
  HttpResponseZerocopysend,
  InboundEvent,
  LifespanInboundEvent,
  LifespanOutboundEvent,
  OutboundEvent,
  WebsocketConnect,
  WebsocketDisconnect,
  WebsocketInboundEvent,
  WebsocketOutboundEvent,
  WebsocketReceive
} from "./protocol/events.ts"
export {
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
export * as Headers from "./protocol/headers.ts"
export { defaultPriority, parsePriority, type Priority } from "./protocol/priority.ts"
export type { Correlator, EgiScope, Extensions, HttpScope, LifespanScope, WebSocketScope } from "./protocol/scope.ts"
export * as State from "./protocol/state.ts"
export { ServeError } from "./runner/errors.ts"
export { consoleLogger, silentLogger } from "./runner/log.ts"
export { defaults, type Logger, type RunnerOptions } from "./runner/options.ts"
export { type Server, serve, start } from "./runner/server.ts"
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
export { type PoolOptions, poolDefaults, WorkerPool } from "./shim/pool.ts"
export { type ClassicHost, fromClassic, handOff, type HandOffRest, pushBack } from "./shim/shim.ts"
export type { ModuleRef } from "./shim/wire.ts"
