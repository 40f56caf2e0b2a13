/**
 * `validate(app)`: a middleware that checks both directions of every scope
 * against spec.md at run time (in the spirit of PEP 3333's
 * `wsgiref.validate`): the scope's shape, each event's shape (the Schemas of
 * events.ts), the per-stream state machines (tables 1, 2, 4 and the
 * lifespan table 3), the field rules, the extensions the scope lists, and
 * what the server hands the app.
 *
 * An app that breaks a rule gets `LocalProtocolError` from `send`, naming
 * the rule, before the event reaches the server — every rule the Node
 * runner enforces on `send`, with the rule ID the runner names, checked in
 * the runner's order, so that an app passes in memory exactly when it
 * passes the runner. A server that breaks one makes the app's fiber die
 * with `ServerViolationError`, naming the rule.
 *
 * A state moves only when the server took the event (its `send`
 * succeeded): an event the server refuses leaves the state where it was, in
 * every scope type alike. A file body the server could not open
 * (`FileSendError`) returns the response to state `start` (spec.md §7.9).
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type { App, Receive, Send } from "../protocol/app.ts"
import { LocalProtocolError } from "../protocol/errors.ts"
import {
  type HttpInboundEvent,
  HttpInboundEvent as HttpInboundSchema,
  HttpOutboundEvent as HttpOutboundSchema,
  type InboundEvent,
  LifespanInboundEvent as LifespanInboundSchema,
  LifespanOutboundEvent as LifespanOutboundSchema,
  type OutboundEvent,
  WebsocketInboundEvent as WebsocketInboundSchema,
  WebsocketOutboundEvent as WebsocketOutboundSchema
} from "../protocol/events.ts"
import { get, isFieldName } from "../protocol/headers.ts"
import { RequestSide, requestInputOf } from "../protocol/http-request.ts"
import { ResponseSide } from "../protocol/http-response.ts"
import { LifespanSide } from "../protocol/lifespan.ts"
import type { EgiScope, HttpScope, LifespanScope, WebSocketScope } from "../protocol/scope.ts"
import { WebSocketSide } from "../protocol/websocket.ts"

/**
 * The server handed the app something spec.md forbids (`rule` names the
 * rule): an event of the wrong shape or order, a scope without its required
 * keys, body past Content-Length, a disconnect that did not stick.
 *
 * @since 0.3.0
 * @category errors
 */
export class ServerViolationError extends Data.TaggedError("ServerViolationError")<{
  readonly rule: string
  readonly detail: string
}> {
  override get message(): string {
    return `server broke ${this.rule}: ${this.detail}`
  }
}

/** A union of event Structs as a check by `type`: the member Schema of that type, or false for a type not in the union. */
const byType = (union: { readonly members: ReadonlyArray<Schema.Top & { readonly fields: { readonly type: { readonly literal: string } } }> }) => {
  const checks = new Map(union.members.map((m) => [m.fields.type.literal, Schema.is(m)] as const))
  return (u: unknown): boolean => {
    const check = checks.get((u as { type?: unknown } | null)?.type as string)
    return check !== undefined && check(u)
  }
}

const isHttpInbound = byType(HttpInboundSchema) as (u: unknown) => u is HttpInboundEvent
const isHttpOutbound = byType(HttpOutboundSchema) as (u: unknown) => u is typeof HttpOutboundSchema.Type
const isLifespanInbound = byType(LifespanInboundSchema) as (u: unknown) => u is typeof LifespanInboundSchema.Type
const isLifespanOutbound = byType(LifespanOutboundSchema) as (u: unknown) => u is typeof LifespanOutboundSchema.Type
const isWebsocketInbound = byType(WebsocketInboundSchema) as (u: unknown) => u is typeof WebsocketInboundSchema.Type
const isWebsocketOutbound = byType(WebsocketOutboundSchema) as (u: unknown) => u is typeof WebsocketOutboundSchema.Type


/** An event's `type`, quoted, for messages. */
const typeOf = (event: unknown): string => JSON.stringify((event as { type?: unknown } | null)?.type)

/** Sends `event`, then `commit`s the state change: a state moves only when the server took the event. */
const sendThen = (send: Send, event: OutboundEvent, commit: () => void) => Effect.map(send(event), commit)

const server = (rule: string, detail: string) => Effect.die(new ServerViolationError({ rule, detail }))
const violation = (rule: string, detail: string) => new LocalProtocolError({ rule, detail })
const app = (rule: string, detail: string) => Effect.fail(violation(rule, detail))
const shapeError = (event: unknown, scope: string) => app("CORE-6", `${typeOf(event)} is not ${scope} event of that shape`)

const isId = (n: unknown): boolean => typeof n === "number" && Number.isInteger(n) && n >= 0

/** Scope checks common to all types (CORE-2, CORE-5, CORE-10). */
const scopeViolation = (scope: EgiScope): ServerViolationError | undefined => {
  if (!isId(scope.connectionId) || !isId(scope.streamId)) {
    return new ServerViolationError({ rule: "CORE-2", detail: "the scope has no integer connectionId/streamId" })
  }
  if (typeof scope.egi?.version !== "string" || typeof scope.egi.specVersion !== "string") {
    return new ServerViolationError({ rule: "CORE-10", detail: `the ${scope.type} scope's egi lacks version or specVersion` })
  }
  if (scope.type === "lifespan") return undefined
  if (typeof scope.extensions !== "object" || scope.extensions === null) {
    return new ServerViolationError({ rule: "CORE-5", detail: `the ${scope.type} scope lacks egi.version or extensions` })
  }
  for (const [name, value] of scope.headers) {
    if (!isFieldName(name)) return new ServerViolationError({ rule: "HTTP-5", detail: `request header name ${JSON.stringify(name)} is not a lower-case token` })
    if (typeof value !== "string") return new ServerViolationError({ rule: "HTTP-6", detail: `request header ${name} has no string value` })
  }
  return undefined
}

// ---------------------------------------------------------------------------
// http
// ---------------------------------------------------------------------------

const DECIMAL = /^\d{1,15}$/

/** The http side: table 1 and the field rules for sends, table 2 and Content-Length for receives. */
const validateHttp = (scope: HttpScope, receive: Receive, send: Send): { receive: Receive; send: Send } => {
  // Receive side: table 2 and the request's content-length, the runner's own request side.
  const requestLength = get(scope.headers, "content-length")
  const side = new RequestSide(requestLength !== undefined && DECIMAL.test(requestLength) ? Number(requestLength) : -1)

  const checkedReceive: Receive = Effect.flatMap(receive, (event) => {
    if (!isHttpInbound(event)) return server("CORE-6", `receive yielded ${typeOf(event)}, not an http event`)
    if (event.connectionId !== scope.connectionId || event.streamId !== scope.streamId) {
      return server("CORE-1", `event correlator ${event.connectionId}/${event.streamId} is not the scope's`)
    }
    const input = requestInputOf(event)
    const before = side.state
    const bad = side.deliver(input)
    if (bad !== undefined) return server(bad.rule, `${event.type} (${input}) received in request state ${before}`)
    if (event.type === "http.disconnect" && event.errorCode !== undefined && event.end !== undefined && event.end !== "reset" && event.end !== "goaway") {
      return server("HTTP-30", `http.disconnect with end ${event.end} carries errorCode ${event.errorCode}: only a peer's RST_STREAM or GOAWAY has one`)
    }
    if (event.type === "http.request" && (side.chunk(event.body.length) !== "ok" || (!event.moreBody && side.end() !== "ok"))) {
      return server("HTTP-7", `${side.received} body bytes delivered, content-length ${side.declared}`)
    }
    return Effect.succeed(event as InboundEvent)
  })

  // The send side is the runner's own core: the same checks, in the same order.
  const core = new ResponseSide(scope)
  const checkedSend: Send = (event) =>
    Effect.suspend(() => {
      if (typeof event !== "object" || event === null) return app("CORE-6", "an event is an object")
      const bad = core.check(event)
      if (bad !== undefined) return Effect.fail(bad)
      if (!isHttpOutbound(event)) return shapeError(event, "an http")
      if (event.type === "http.response.pathsend" || event.type === "http.response.zerocopysend") {
        return send(event).pipe(
          Effect.tapError((error) =>
            Effect.sync(() => {
              // Nothing was sent: the app may send another response (spec.md §7.9).
              if (error._tag === "FileSendError" && core.state === "head") core.state = "start"
            })
          ),
          Effect.map(() => core.accept(event))
        )
      }
      return sendThen(send, event, () => core.accept(event))
    })
  return { receive: checkedReceive, send: checkedSend }
}

// ---------------------------------------------------------------------------
// websocket
// ---------------------------------------------------------------------------

/**
 * The websocket side: table 4 and the handshake rules for sends (WS-1, WS-3,
 * WS-4, WS-10, HTTP-5/6); for receives, `websocket.connect` first and only
 * first (WS-5), one of bytes/text (WS-4), a sticky disconnect (WS-5).
 */
const validateWebSocket = (scope: WebSocketScope, receive: Receive, send: Send): { receive: Receive; send: Send } => {
  let received = 0
  let disconnected = false
  const checkedReceive: Receive = Effect.flatMap(receive, (event) => {
    if (!isWebsocketInbound(event)) return server("CORE-6", `receive yielded ${typeOf(event)}, not a websocket event`)
    if (event.connectionId !== scope.connectionId || event.streamId !== scope.streamId) return server("CORE-1", "event correlator is not the scope's")
    if ((received++ === 0) !== (event.type === "websocket.connect")) return server("WS-5", "websocket.connect must come first, and only first")
    if (disconnected && event.type !== "websocket.disconnect") return server("WS-5", `${event.type} after websocket.disconnect`)
    if (event.type === "websocket.receive" && (event.bytes === undefined) === (event.text === undefined)) {
      return server("WS-4", "websocket.receive without exactly one of bytes and text")
    }
    if (event.type === "websocket.disconnect") disconnected = true
    return Effect.succeed(event as InboundEvent)
  })
  // The send side is the runner's own: the same checks, in the same order.
  const side = new WebSocketSide(scope)
  const checkedSend: Send = (event) =>
    Effect.suspend(() => {
      if (typeof event !== "object" || event === null) return app("CORE-6", "an event is an object")
      const bad = side.check(event)
      if (bad !== undefined) return Effect.fail(bad)
      if (!isWebsocketOutbound(event)) return shapeError(event, "a websocket")
      return sendThen(send, event, () => side.accept(event))
    })
  return { receive: checkedReceive, send: checkedSend }
}

// ---------------------------------------------------------------------------
// lifespan
// ---------------------------------------------------------------------------

/** The lifespan side: table 3 for replies. */
const validateLifespan = (scope: LifespanScope, receive: Receive, send: Send): { receive: Receive; send: Send } => {
  // The runner's own reply rules and table 3.
  const side = new LifespanSide(scope)
  const checkedReceive: Receive = Effect.flatMap(receive, (event) => {
    if (!isLifespanInbound(event)) return server("CORE-6", `receive yielded ${typeOf(event)}, not a lifespan event`)
    if (event.type === "lifespan.shutdown") side.shutdown()
    return Effect.succeed(event as InboundEvent)
  })
  const checkedSend: Send = (event) =>
    Effect.suspend(() => {
      if (typeof event !== "object" || event === null) return app("CORE-6", "an event is an object")
      const bad = side.check(event)
      if (bad !== undefined) return Effect.fail(bad)
      if (!isLifespanOutbound(event)) return shapeError(event, "a lifespan")
      return sendThen(send, event, () => side.accept(event))
    })
  return { receive: checkedReceive, send: checkedSend }
}

/**
 * Wraps `inner` so that every scope it gets and every event in both
 * directions is checked against spec.md. `inner` sees the checked
 * `receive`/`send`; events of scope types this version does not know pass
 * unchecked.
 *
 * `send` fails with `LocalProtocolError { rule, detail }` when the app
 * breaks a rule (before the event reaches the server): each rule the runner
 * checks on `send` — the state tables (§4.7, §6.5, §11.5), CORE-3 (a
 * correlator not the scope's), CORE-6, CORE-7 (an extension the scope does
 * not list), HTTP-4/5/6/16/17/20/21/22, WS-1/3/4/10 — with the rule ID
 * the runner names. The fiber dies with `ServerViolationError { rule,
 * detail }` when the server breaks one (CORE-1/2/5/6, table 2 with
 * HTTP-8/14/23, HTTP-7, HTTP-30, WS-4/5). A state moves only when the
 * server took the event.
 *
 * @since 0.3.0
 * @category testing
 */
export const validate = (inner: App): App => (scope, receive, send) => {
  const bad = scopeViolation(scope)
  if (bad !== undefined) return Effect.die(bad)
  const checked = scope.type === "http"
    ? validateHttp(scope, receive, send)
    : scope.type === "websocket"
    ? validateWebSocket(scope, receive, send)
    : scope.type === "lifespan"
    ? validateLifespan(scope, receive, send)
    : { receive, send }
  return inner(scope, checked.receive, checked.send)
}
