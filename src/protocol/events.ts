/**
 * The events of EGI 0.1, defined once as Effect Schemas (spec.md §4, §6).
 *
 * Every event is plain, frozen-in-spirit data tagged by `type` (ASGI names).
 * Inbound events (what `receive` yields) always carry the correlator
 * `connectionId`/`streamId`; outbound events (what the app hands to `send`)
 * may carry it, and when they do it must match the scope's (rule CORE-3).
 *
 * The TypeScript types below are derived from the schemas, so the validator,
 * the arbitraries and the docs all come from this one file. (Its length is
 * the event catalogue's: one Schema, one docstring and one type per event
 * of every scope type; splitting it would split the catalogue.)
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import { isFieldName, isFieldValue } from "./headers.ts"

/**
 * A header field `[name, value]`: a lower-case token name and an RFC 9110
 * field value (visible octets, obs-text, space, tab) — spec.md §3.4, rules
 * HTTP-5, HTTP-6.
 *
 * @since 0.1.0
 * @category schemas
 */
export const HeaderSchema = Schema.Tuple([
  Schema.String.check(Schema.makeFilter(isFieldName, { expected: "a lower-case RFC 9110 token (HTTP-5)" })),
  Schema.String.check(Schema.makeFilter(isFieldValue, { expected: "an RFC 9110 field value: visible octets, space, tab (HTTP-6)" }))
])

/**
 * A header list in order, duplicates kept (spec.md §3.4).
 *
 * @since 0.1.0
 * @category schemas
 */
export const HeadersSchema = Schema.Array(HeaderSchema)

const Id = Schema.Number.check(Schema.isInt(), Schema.isGreaterThanOrEqualTo(0))

const correlated = { connectionId: Id, streamId: Id } as const
const optionallyCorrelated = { connectionId: Schema.optionalKey(Id), streamId: Schema.optionalKey(Id) } as const

// ---------------------------------------------------------------------------
// http — receive
// ---------------------------------------------------------------------------

/**
 * Request Body — `receive` event (spec.md §4.3). A chunk of the request body
 * as it arrived; `moreBody: false` on the last one. Never carries a byte past
 * the request's Content-Length (rule HTTP-7). `body` may be empty.
 *
 * @since 0.1.0
 * @category schemas
 */
export const HttpRequest = Schema.Struct({
  type: Schema.Literal("http.request"),
  ...correlated,
  body: Schema.Uint8Array,
  moreBody: Schema.Boolean,
  trailers: Schema.optionalKey(Schema.Boolean)
})

/**
 * Request Trailers — `receive` event (spec.md §7.3, extension
 * `http.request.trailers`). The trailer fields the client sent after the body
 * (RFC 9110 §6.5): delivered right after the last `http.request`, which
 * carries `trailers: true` when this event follows (rule HTTP-23). Names are
 * lower-case, order and duplicates kept.
 *
 * @since 0.2.0
 * @category schemas
 */
export const HttpRequestTrailers = Schema.Struct({
  type: Schema.Literal("http.request.trailers"),
  ...correlated,
  headers: HeadersSchema
})

/**
 * Disconnect — `receive` event (spec.md §4.4). The stream is over for the
 * app; `end` says why: `complete` (request and response done), `reset` (the
 * peer's RST_STREAM), `goaway` (the peer's GOAWAY with an error), `connection`
 * (the connection closed or failed under it), `malformed`, `too-large`,
 * `timeout` (the runner refused the request body: 400, 413, 408),
 * `shutdown`, `app-reset` (the app's own reset), `file-error` (a file body
 * failed mid-send). `errorCode` is the RFC 9113 §7 code the peer sent, only
 * for `reset` and `goaway` (rule HTTP-30). Once returned, every later
 * `receive` returns it again (rule HTTP-8).
 *
 * @since 0.1.0
 * @category schemas
 */
export const HttpDisconnect = Schema.Struct({
  type: Schema.Literal("http.disconnect"),
  ...correlated,
  end: Schema.optionalKey(
    Schema.Literals(["complete", "reset", "goaway", "connection", "malformed", "too-large", "timeout", "shutdown", "app-reset", "file-error"])
  ),
  errorCode: Schema.optionalKey(Schema.Number)
})

// ---------------------------------------------------------------------------
// http — send
// ---------------------------------------------------------------------------

/**
 * Response Start — `send` event (spec.md §4.5). Sent exactly once, before any
 * body (rules HTTP-1, HTTP-2). `status` is a final status, 200–599
 * (RFC 9110 §15; 1xx are not final); `headers` default to none.
 *
 * @since 0.1.0
 * @category schemas
 */
export const HttpResponseStart = Schema.Struct({
  type: Schema.Literal("http.response.start"),
  ...optionallyCorrelated,
  status: Schema.Number.check(Schema.isInt(), Schema.isBetween({ minimum: 200, maximum: 599 })),
  headers: Schema.optionalKey(HeadersSchema),
  trailers: Schema.optionalKey(Schema.Boolean),
  neverIndex: Schema.optionalKey(Schema.Array(Schema.String))
})

/**
 * Response Body — `send` event (spec.md §4.5). A chunk of the response body;
 * `moreBody` defaults to `false`, which ends the response. `body` defaults to
 * empty. Resolves when the stream can take more (rule HTTP-10).
 *
 * @since 0.1.0
 * @category schemas
 */
export const HttpResponseBody = Schema.Struct({
  type: Schema.Literal("http.response.body"),
  ...optionallyCorrelated,
  body: Schema.optionalKey(Schema.Uint8Array),
  moreBody: Schema.optionalKey(Schema.Boolean)
})

/**
 * Response Trailers — `send` event (spec.md §7.3, extension
 * `http.response.trailers`). Sent once, after the last body of a response
 * whose start said `trailers: true` (rule HTTP-18); it completes the
 * response. On HTTP/2 a HEADERS frame with END_STREAM, on HTTP/1.1 the
 * chunked trailer section; dropped when the request had no `te: trailers`
 * (RFC 9110 §6.5.1). `neverIndex` as in `http.response.start`.
 *
 * @since 0.2.0
 * @category schemas
 */
export const HttpResponseTrailers = Schema.Struct({
  type: Schema.Literal("http.response.trailers"),
  ...optionallyCorrelated,
  headers: HeadersSchema,
  neverIndex: Schema.optionalKey(Schema.Array(Schema.String))
})

/**
 * Server Push — `send` event (spec.md §7.1, extension `http.response.push`,
 * RFC 9113 §8.4). Promises a `GET` of `path` (an absolute path, query
 * allowed) with the request `headers` given; the runner sends PUSH_PROMISE
 * and runs the app on the pushed stream with its own scope. Valid before the
 * last body (rule HTTP-20). Where push is impossible the runner adds a
 * `link: <path>; rel=preload; as=<as>` field to the response instead: `as`
 * (a token: `style`, `script`, `font`, `image`, `fetch`…) defaults to the
 * one the path's suffix implies, and `linkParams` (each `name`,
 * `name=token` or `name="quoted"`, e.g. `crossorigin`,
 * `type="font/woff2"`) are appended in order.
 *
 * @since 0.2.0
 * @category schemas
 */
export const HttpResponsePush = Schema.Struct({
  type: Schema.Literal("http.response.push"),
  ...optionallyCorrelated,
  path: Schema.String,
  headers: Schema.optionalKey(HeadersSchema),
  as: Schema.optionalKey(Schema.String),
  linkParams: Schema.optionalKey(Schema.Array(Schema.String))
})

/**
 * Early Hints — `send` event (spec.md §7.2, extension
 * `http.response.early_hint`, RFC 8297): a 103 response carrying the
 * entries of `links` (one link-value each): one `link` field per entry on
 * HTTP/2, one comma-joined `link` field line on HTTP/1.1. Only before
 * `http.response.start` (rule HTTP-19).
 *
 * @since 0.2.0
 * @category schemas
 */
export const HttpResponseEarlyHint = Schema.Struct({
  type: Schema.Literal("http.response.early_hint"),
  ...optionallyCorrelated,
  links: Schema.Array(Schema.String)
})

/**
 * Stream Reset — `send` event (spec.md §7.4, extension
 * `http.response.reset`): RST_STREAM with `errorCode` (RFC 9113 §7, an
 * integer 0–2^32-1); the connection and its other streams are untouched.
 * Nothing may be sent after it.
 *
 * @since 0.2.0
 * @category schemas
 */
export const HttpResponseReset = Schema.Struct({
  type: Schema.Literal("http.response.reset"),
  ...optionallyCorrelated,
  errorCode: Schema.Number
})

/**
 * Graceful GOAWAY — `send` event (spec.md §7.5, extension `http.goaway`):
 * drain this stream's connection. HTTP/2: GOAWAY NO_ERROR with the last
 * stream ID the server processed; streams up to it complete, no new ones are
 * accepted, the connection closes when they are done. HTTP/1.1: the current
 * response carries `connection: close` and the connection closes after it.
 * Valid in every state but after a reset; repeating it is harmless.
 *
 * @since 0.2.0
 * @category schemas
 */
export const HttpGoaway = Schema.Struct({
  type: Schema.Literal("http.goaway"),
  ...optionallyCorrelated
})

/**
 * Path Send — `send` event (spec.md §7.9, extension
 * `http.response.pathsend`): the response body is the file at `path` (an
 * absolute path), sent without copying it through JavaScript. Directly after
 * `http.response.start` (rule HTTP-21); it completes the response. With
 * status 200 the runner answers `Range` (206/416) and conditional requests
 * (304/412) from the file's metadata (RFC 9110 §13, §14).
 *
 * @since 0.2.0
 * @category schemas
 */
export const HttpResponsePathsend = Schema.Struct({
  type: Schema.Literal("http.response.pathsend"),
  ...optionallyCorrelated,
  path: Schema.String
})

/**
 * Zero-Copy Send — `send` event (spec.md §7.9, extension
 * `http.response.zerocopysend`): as pathsend, from an open file descriptor
 * `file`, the `count` bytes (default: to the end) from byte `offset`
 * (default 0). The runner does not close the descriptor; the app may once
 * `send` resolved.
 *
 * @since 0.2.0
 * @category schemas
 */
export const HttpResponseZerocopysend = Schema.Struct({
  type: Schema.Literal("http.response.zerocopysend"),
  ...optionallyCorrelated,
  file: Schema.Number.check(Schema.isInt(), Schema.isGreaterThanOrEqualTo(0)),
  offset: Schema.optionalKey(Schema.Number.check(Schema.isInt(), Schema.isGreaterThanOrEqualTo(0))),
  count: Schema.optionalKey(Schema.Number.check(Schema.isInt(), Schema.isGreaterThanOrEqualTo(0)))
})

// ---------------------------------------------------------------------------
// lifespan
// ---------------------------------------------------------------------------

const lifespanIn = <T extends string>(type: T) => Schema.Struct({ type: Schema.Literal(type), ...correlated })
const lifespanOut = <T extends string>(type: T) => Schema.Struct({ type: Schema.Literal(type), ...optionallyCorrelated })
const lifespanFailed = <T extends string>(type: T) =>
  Schema.Struct({ type: Schema.Literal(type), ...optionallyCorrelated, message: Schema.optionalKey(Schema.String) })

/** Startup — `receive` event (spec.md §6.2). @since 0.1.0 @category schemas */
export const LifespanStartup = lifespanIn("lifespan.startup")
/** Shutdown — `receive` event (spec.md §6.2). @since 0.1.0 @category schemas */
export const LifespanShutdown = lifespanIn("lifespan.shutdown")
/** Startup Complete — `send` event (spec.md §6.3). @since 0.1.0 @category schemas */
export const LifespanStartupComplete = lifespanOut("lifespan.startup.complete")
/**
 * Startup Failed — `send` event: the server does not start; `message` (optional)
 * becomes the `ServeError` detail the CLI prints before exiting 1 (spec.md §6.3).
 * @since 0.1.0 @category schemas
 */
export const LifespanStartupFailed = lifespanFailed("lifespan.startup.failed")
/** Shutdown Complete — `send` event (spec.md §6.3). @since 0.1.0 @category schemas */
export const LifespanShutdownComplete = lifespanOut("lifespan.shutdown.complete")
/** Shutdown Failed — `send` event; `message` (optional) is logged (spec.md §6.3). @since 0.1.0 @category schemas */
export const LifespanShutdownFailed = lifespanFailed("lifespan.shutdown.failed")

// ---------------------------------------------------------------------------
// websocket (spec.md §11)
// ---------------------------------------------------------------------------

/**
 * Connect — `receive` event (spec.md §11.2): the first event of every
 * `websocket` scope; the client asked to open a WebSocket. The app answers
 * with `websocket.accept`, `websocket.close` (refuse: 403) or a denial
 * response (`websocket.http.response.start`).
 *
 * @since 0.3.0
 * @category schemas
 */
export const WebsocketConnect = Schema.Struct({ type: Schema.Literal("websocket.connect"), ...correlated })

/**
 * Receive — `receive` event (spec.md §11.2): one whole message (fragments
 * reassembled), with exactly one of `bytes` (a binary message) and `text`
 * (a text message, valid UTF-8) (rule WS-4).
 *
 * @since 0.3.0
 * @category schemas
 */
export const WebsocketReceive = Schema.Struct({
  type: Schema.Literal("websocket.receive"),
  ...correlated,
  bytes: Schema.optionalKey(Schema.Uint8Array),
  text: Schema.optionalKey(Schema.String)
})

/**
 * Disconnect — `receive` event (spec.md §11.2): the WebSocket is closed,
 * by either side; `code` is the close code the client sent (1005 when its
 * close frame had none, 1006 when the connection dropped without one), or
 * the code the server closed with (when the server closed first, the code
 * of the client's answer, WS-16).
 *
 * @since 0.3.0
 * @category schemas
 */
export const WebsocketDisconnect = Schema.Struct({
  type: Schema.Literal("websocket.disconnect"),
  ...correlated,
  code: Schema.Number,
  reason: Schema.String
})

/**
 * Accept — `send` event (spec.md §11.3): completes the handshake (101),
 * with one of the client's `subprotocols` if the app picks one, and extra
 * response header fields.
 *
 * @since 0.3.0
 * @category schemas
 */
export const WebsocketAccept = Schema.Struct({
  type: Schema.Literal("websocket.accept"),
  ...optionallyCorrelated,
  subprotocol: Schema.optionalKey(Schema.String),
  headers: Schema.optionalKey(HeadersSchema)
})

/**
 * Send — `send` event (spec.md §11.3): one message, exactly one of `bytes`
 * and `text`. Completes when the connection can take more (rule WS-6).
 *
 * @since 0.3.0
 * @category schemas
 */
export const WebsocketSend = Schema.Struct({
  type: Schema.Literal("websocket.send"),
  ...optionallyCorrelated,
  bytes: Schema.optionalKey(Schema.Uint8Array),
  text: Schema.optionalKey(Schema.String)
})

/**
 * Close — `send` event (spec.md §11.3): before accept, refuses the
 * handshake with 403; after, sends a close frame with `code` (default
 * 1000) and `reason` (at most 123 bytes of UTF-8).
 *
 * @since 0.3.0
 * @category schemas
 */
export const WebsocketClose = Schema.Struct({
  type: Schema.Literal("websocket.close"),
  ...optionallyCorrelated,
  code: Schema.optionalKey(Schema.Number),
  reason: Schema.optionalKey(Schema.String)
})

/**
 * Denial Response Start — `send` event (spec.md §11.4): instead of
 * accepting, answer the handshake with an ordinary HTTP response.
 *
 * @since 0.3.0
 * @category schemas
 */
export const WebsocketHttpResponseStart = Schema.Struct({
  type: Schema.Literal("websocket.http.response.start"),
  ...optionallyCorrelated,
  status: Schema.Number,
  headers: Schema.optionalKey(HeadersSchema)
})

/**
 * Denial Response Body — `send` event (spec.md §11.4).
 *
 * @since 0.3.0
 * @category schemas
 */
export const WebsocketHttpResponseBody = Schema.Struct({
  type: Schema.Literal("websocket.http.response.body"),
  ...optionallyCorrelated,
  body: Schema.optionalKey(Schema.Uint8Array),
  moreBody: Schema.optionalKey(Schema.Boolean)
})

// ---------------------------------------------------------------------------
// unions
// ---------------------------------------------------------------------------

/** Every event `receive` can yield in an `http` scope. @since 0.1.0 @category schemas */
export const HttpInboundEvent = Schema.Union([HttpRequest, HttpRequestTrailers, HttpDisconnect])
/** Every event an app may `send` in an `http` scope (extension events need their extension, rule CORE-7). @since 0.1.0 @category schemas */
export const HttpOutboundEvent = Schema.Union([
  HttpResponseStart,
  HttpResponseBody,
  HttpResponseTrailers,
  HttpResponsePush,
  HttpResponseEarlyHint,
  HttpResponseReset,
  HttpGoaway,
  HttpResponsePathsend,
  HttpResponseZerocopysend
])
/** Every event `receive` can yield in a `websocket` scope. @since 0.3.0 @category schemas */
export const WebsocketInboundEvent = Schema.Union([WebsocketConnect, WebsocketReceive, WebsocketDisconnect])
/** Every event an app may `send` in a `websocket` scope. @since 0.3.0 @category schemas */
export const WebsocketOutboundEvent = Schema.Union([
  WebsocketAccept,
  WebsocketSend,
  WebsocketClose,
  WebsocketHttpResponseStart,
  WebsocketHttpResponseBody
])
/** Every event `receive` can yield in a `lifespan` scope. @since 0.1.0 @category schemas */
export const LifespanInboundEvent = Schema.Union([LifespanStartup, LifespanShutdown])
/** Every event an app may `send` in a `lifespan` scope. @since 0.1.0 @category schemas */
export const LifespanOutboundEvent = Schema.Union([
  LifespanStartupComplete,
  LifespanStartupFailed,
  LifespanShutdownComplete,
  LifespanShutdownFailed
])

/** The type of the `HttpRequest` schema (spec.md §4.3). @since 0.1.0 @category models */
export type HttpRequest = typeof HttpRequest.Type
/** The type of the `HttpDisconnect` schema (spec.md §4.4). @since 0.1.0 @category models */
export type HttpDisconnect = typeof HttpDisconnect.Type
/** The type of the `HttpResponseStart` schema (spec.md §4.5). @since 0.1.0 @category models */
export type HttpResponseStart = typeof HttpResponseStart.Type
/** The type of the `HttpResponseBody` schema (spec.md §4.5). @since 0.1.0 @category models */
export type HttpResponseBody = typeof HttpResponseBody.Type
/** The type of the `HttpRequestTrailers` schema (spec.md §7.3). @since 0.2.0 @category models */
export type HttpRequestTrailers = typeof HttpRequestTrailers.Type
/** The type of the `HttpResponseTrailers` schema (spec.md §7.3). @since 0.2.0 @category models */
export type HttpResponseTrailers = typeof HttpResponseTrailers.Type
/** The type of the `HttpResponsePush` schema (spec.md §7.1). @since 0.2.0 @category models */
export type HttpResponsePush = typeof HttpResponsePush.Type
/** The type of the `HttpResponseEarlyHint` schema (spec.md §7.2). @since 0.2.0 @category models */
export type HttpResponseEarlyHint = typeof HttpResponseEarlyHint.Type
/** The type of the `HttpResponseReset` schema (spec.md §7.4). @since 0.2.0 @category models */
export type HttpResponseReset = typeof HttpResponseReset.Type
/** The type of the `HttpGoaway` schema (spec.md §7.5). @since 0.2.0 @category models */
export type HttpGoaway = typeof HttpGoaway.Type
/** The type of the `HttpResponsePathsend` schema (spec.md §7.9). @since 0.2.0 @category models */
export type HttpResponsePathsend = typeof HttpResponsePathsend.Type
/** The type of the `HttpResponseZerocopysend` schema (spec.md §7.9). @since 0.2.0 @category models */
export type HttpResponseZerocopysend = typeof HttpResponseZerocopysend.Type
/** The type of the `HttpInboundEvent` schema (spec.md §4.2). @since 0.1.0 @category models */
export type HttpInboundEvent = typeof HttpInboundEvent.Type
/** The type of the `HttpOutboundEvent` schema (spec.md §4.2). @since 0.1.0 @category models */
export type HttpOutboundEvent = typeof HttpOutboundEvent.Type
/** The type of the `LifespanInboundEvent` schema (spec.md §6.2). @since 0.1.0 @category models */
export type LifespanInboundEvent = typeof LifespanInboundEvent.Type
/** The type of the `LifespanOutboundEvent` schema (spec.md §6.3). @since 0.1.0 @category models */
export type LifespanOutboundEvent = typeof LifespanOutboundEvent.Type

/** The type of the `LifespanStartup` schema (spec.md §6.2). @since 0.4.0 @category models */
export type LifespanStartup = typeof LifespanStartup.Type
/** The type of the `LifespanShutdown` schema (spec.md §6.2). @since 0.4.0 @category models */
export type LifespanShutdown = typeof LifespanShutdown.Type
/** The type of the `LifespanStartupComplete` schema (spec.md §6.3). @since 0.4.0 @category models */
export type LifespanStartupComplete = typeof LifespanStartupComplete.Type
/** The type of the `LifespanStartupFailed` schema (spec.md §6.3). @since 0.4.0 @category models */
export type LifespanStartupFailed = typeof LifespanStartupFailed.Type
/** The type of the `LifespanShutdownComplete` schema (spec.md §6.3). @since 0.4.0 @category models */
export type LifespanShutdownComplete = typeof LifespanShutdownComplete.Type
/** The type of the `LifespanShutdownFailed` schema (spec.md §6.3). @since 0.4.0 @category models */
export type LifespanShutdownFailed = typeof LifespanShutdownFailed.Type

/** The type of the `WebsocketConnect` schema (spec.md §11.2). @since 0.3.0 @category models */
export type WebsocketConnect = typeof WebsocketConnect.Type
/** The type of the `WebsocketReceive` schema (spec.md §11.2). @since 0.3.0 @category models */
export type WebsocketReceive = typeof WebsocketReceive.Type
/** The type of the `WebsocketDisconnect` schema (spec.md §11.2). @since 0.3.0 @category models */
export type WebsocketDisconnect = typeof WebsocketDisconnect.Type
/** The type of the `WebsocketAccept` schema (spec.md §11.3). @since 0.4.0 @category models */
export type WebsocketAccept = typeof WebsocketAccept.Type
/** The type of the `WebsocketSend` schema (spec.md §11.3). @since 0.4.0 @category models */
export type WebsocketSend = typeof WebsocketSend.Type
/** The type of the `WebsocketClose` schema (spec.md §11.3). @since 0.4.0 @category models */
export type WebsocketClose = typeof WebsocketClose.Type
/** The type of the `WebsocketHttpResponseStart` schema (spec.md §11.4). @since 0.4.0 @category models */
export type WebsocketHttpResponseStart = typeof WebsocketHttpResponseStart.Type
/** The type of the `WebsocketHttpResponseBody` schema (spec.md §11.4). @since 0.4.0 @category models */
export type WebsocketHttpResponseBody = typeof WebsocketHttpResponseBody.Type
/** The type of the `WebsocketInboundEvent` schema (spec.md §11.2). @since 0.3.0 @category models */
export type WebsocketInboundEvent = typeof WebsocketInboundEvent.Type
/** The type of the `WebsocketOutboundEvent` schema (spec.md §11.3). @since 0.3.0 @category models */
export type WebsocketOutboundEvent = typeof WebsocketOutboundEvent.Type

/**
 * Any event `receive` can yield (spec.md §4, §6, §11).
 *
 * @since 0.1.0
 * @category models
 */
export type InboundEvent = HttpInboundEvent | LifespanInboundEvent | WebsocketInboundEvent

/**
 * Any event an app may `send` (spec.md §4, §6, §11).
 *
 * @since 0.1.0
 * @category models
 */
export type OutboundEvent = HttpOutboundEvent | LifespanOutboundEvent | WebsocketOutboundEvent
