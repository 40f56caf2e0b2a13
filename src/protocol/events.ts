/**
 * The events of EGI 0.1, defined once as Effect Schemas (spec.md §4, §6).
 *
 * Every event is plain, frozen-in-spirit data tagged by `type` (ASGI names).
 * Inbound events (what `receive` yields) always carry the correlator
 * `connectionId`/`streamId`; outbound events (what the app hands to `send`)
 * may carry it, and when they do it must match the scope's (rule CORE-3).
 *
 * The TypeScript types below are derived from the schemas, so the validator,
 * the arbitraries and the docs all come from this one file.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
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
  moreBody: Schema.Boolean
})

/**
 * Disconnect — `receive` event (spec.md §4.4). The stream ended before or
 * after the response completed: the client went away, reset the stream
 * (`errorCode` = the RFC 9113 §7 code of its RST_STREAM), or sent a malformed
 * request. Once returned, every later `receive` returns it again (rule HTTP-8).
 *
 * @since 0.1.0
 * @category schemas
 */
export const HttpDisconnect = Schema.Struct({
  type: Schema.Literal("http.disconnect"),
  ...correlated,
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
  headers: Schema.optionalKey(HeadersSchema)
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
// unions
// ---------------------------------------------------------------------------

/** Every event `receive` can yield in an `http` scope. @since 0.1.0 @category schemas */
export const HttpInboundEvent = Schema.Union([HttpRequest, HttpDisconnect])
/** Every event an app may `send` in an `http` scope. @since 0.1.0 @category schemas */
export const HttpOutboundEvent = Schema.Union([HttpResponseStart, HttpResponseBody])
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
/** The type of the `HttpInboundEvent` schema (spec.md §4.2). @since 0.1.0 @category models */
export type HttpInboundEvent = typeof HttpInboundEvent.Type
/** The type of the `HttpOutboundEvent` schema (spec.md §4.2). @since 0.1.0 @category models */
export type HttpOutboundEvent = typeof HttpOutboundEvent.Type
/** The type of the `LifespanInboundEvent` schema (spec.md §6.2). @since 0.1.0 @category models */
export type LifespanInboundEvent = typeof LifespanInboundEvent.Type
/** The type of the `LifespanOutboundEvent` schema (spec.md §6.3). @since 0.1.0 @category models */
export type LifespanOutboundEvent = typeof LifespanOutboundEvent.Type

/**
 * Any event `receive` can yield (spec.md §4, §6).
 *
 * @since 0.1.0
 * @category models
 */
export type InboundEvent = HttpInboundEvent | LifespanInboundEvent

/**
 * Any event an app may `send` (spec.md §4, §6).
 *
 * @since 0.1.0
 * @category models
 */
export type OutboundEvent = HttpOutboundEvent | LifespanOutboundEvent
