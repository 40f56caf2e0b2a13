/**
 * `validate(app)`: a middleware that checks both directions of every scope
 * against spec.md at run time (in the spirit of PEP 3333's
 * `wsgiref.validate`): the scope's shape, each event's shape (the Schemas of
 * events.ts), the per-stream state machines (tables 1, 2, 4 and the
 * lifespan table), header rules, and what the server hands the app.
 *
 * An app that breaks a rule gets `LocalProtocolError` from `send`, naming
 * the rule, before the event reaches the server. A server that breaks one
 * makes the app's fiber die with `ServerViolationError`, naming the rule.
 */
import { Data, Effect, Schema } from "effect"
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
import { get, isFieldName, isFieldValue } from "../protocol/headers.ts"
import type { EgiScope, HttpScope } from "../protocol/scope.ts"
import {
  type LifespanState,
  nextLifespanState,
  nextResponseState,
  nextWebSocketState,
  type RequestInput,
  type RequestState,
  requestTable,
  type ResponseInput,
  type ResponseState,
  type WebSocketInput,
  type WebSocketState
} from "../protocol/state.ts"

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

/** A union of event Structs as a check that picks the member by `type` first (one Schema, not a scan of all). */
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
const sendThen = (send: Send, event: OutboundEvent, commit: () => void) => Effect.tap(send(event), Effect.sync(commit))

const server = (rule: string, detail: string) => Effect.die(new ServerViolationError({ rule, detail }))
const app = (rule: string, detail: string) => Effect.fail(new LocalProtocolError({ rule, detail }))

const isId = (n: unknown): boolean => typeof n === "number" && Number.isInteger(n) && n >= 0

/** Scope checks common to all types (CORE-2, CORE-5). */
const scopeViolation = (scope: EgiScope): ServerViolationError | undefined => {
  if (!isId(scope.connectionId) || !isId(scope.streamId)) {
    return new ServerViolationError({ rule: "CORE-2", detail: "the scope has no integer connectionId/streamId" })
  }
  if (scope.type === "lifespan") return undefined
  if (typeof scope.egi?.version !== "string" || typeof scope.extensions !== "object" || scope.extensions === null) {
    return new ServerViolationError({ rule: "CORE-5", detail: `the ${scope.type} scope lacks egi.version or extensions` })
  }
  for (const [name, value] of scope.headers) {
    if (!isFieldName(name)) return new ServerViolationError({ rule: "HTTP-5", detail: `request header name ${JSON.stringify(name)} is not a lower-case token` })
    if (typeof value !== "string") return new ServerViolationError({ rule: "HTTP-6", detail: `request header ${name} has no string value` })
  }
  return undefined
}

/** Header list checks for what the app sends (HTTP-5, HTTP-6). */
const headersViolation = (headers: ReadonlyArray<readonly [string, string]> | undefined, what: string): LocalProtocolError | undefined => {
  for (const [name, value] of headers ?? []) {
    if (!isFieldName(name)) return new LocalProtocolError({ rule: "HTTP-5", detail: `${what} name ${JSON.stringify(name)} is not a lower-case token` })
    if (!isFieldValue(value)) return new LocalProtocolError({ rule: "HTTP-6", detail: `${what} ${name} has a value that is not a field value` })
  }
  return undefined
}

const responseInput = (event: OutboundEvent): ResponseInput | undefined => {
  switch (event.type) {
    case "http.response.start":
      return "start"
    case "http.response.body":
      return event.moreBody === true ? "more" : "last"
    case "http.response.pathsend":
    case "http.response.zerocopysend":
      return "file"
    case "http.response.trailers":
      return "trailers"
    case "http.response.push":
      return "push"
    case "http.response.early_hint":
      return "hint"
    case "http.response.reset":
      return "reset"
    default:
      return undefined
  }
}

const requestInput = (event: HttpInboundEvent): RequestInput =>
  event.type === "http.request"
    ? event.moreBody ? "more" : event.trailers === true ? "lastThenTrailers" : "last"
    : event.type === "http.request.trailers"
    ? "trailers"
    : "disconnect"

/** The http side: table 1 for sends, table 2 and Content-Length for receives. */
const validateHttp = (scope: HttpScope, receive: Receive, send: Send): { receive: Receive; send: Send } => {
  let response: ResponseState = "start"
  let announced = false
  let request: RequestState = "receiving"
  let bytes = 0
  const declared = Number(get(scope.headers, "content-length") ?? -1)
  const checkedReceive: Receive = Effect.flatMap(receive, (event) => {
    if (!isHttpInbound(event)) return server("CORE-6", `receive yielded ${typeOf(event)}, not an http event`)
    if (event.connectionId !== scope.connectionId || event.streamId !== scope.streamId) {
      return server("CORE-1", `event correlator ${event.connectionId}/${event.streamId} is not the scope's`)
    }
    const next = requestTable[request][requestInput(event)]
    if (next === undefined) {
      return server(request === "disconnected" ? "HTTP-8" : "HTTP-14", `${event.type} received in request state ${request}`)
    }
    request = next
    if (event.type === "http.request") {
      bytes += event.body.length
      if (declared >= 0 && (bytes > declared || (!event.moreBody && bytes !== declared))) {
        return server("HTTP-7", `${bytes} body bytes delivered, content-length ${declared}`)
      }
    }
    return Effect.succeed(event as InboundEvent)
  })
  const checkedSend: Send = (event) =>
    Effect.suspend(() => {
      // The rules with their own IDs first; then the shape of the event as a whole.
      if (event.type === "http.response.start") {
        if (!Number.isInteger(event.status) || event.status < 200 || event.status > 599) return app("HTTP-4", `status ${event.status}`)
        const bad = headersViolation(event.headers, "header")
        if (bad !== undefined) return Effect.fail(bad)
      }
      if (event.type === "http.response.trailers") {
        const bad = headersViolation(event.headers, "trailer")
        if (bad !== undefined) return Effect.fail(bad)
      }
      if (!isHttpOutbound(event)) return app("CORE-6", `${typeOf(event)} is not an http event of that shape`)
      const input = responseInput(event)
      if (input === undefined) return send(event)
      const next = nextResponseState(response, input, announced)
      if (typeof next !== "string") return Effect.fail(next)
      // The state moves before the server has taken the event (no extra
      // Effect per send on the response path): an event the server refuses
      // ends the response anyway.
      if (event.type === "http.response.start") announced = event.trailers === true
      response = next
      return send(event)
    })
  return { receive: checkedReceive, send: checkedSend }
}

const websocketInput = (event: OutboundEvent): WebSocketInput | undefined => {
  switch (event.type) {
    case "websocket.accept":
    case "websocket.send":
    case "websocket.close":
    case "websocket.http.response.start":
      return event.type
    case "websocket.http.response.body":
      return event.moreBody === true ? "websocket.http.response.body" : "websocket.http.response.body.last"
    default:
      return undefined
  }
}

/** The websocket side: table 4 for sends; connect first, one of bytes/text, sticky disconnect for receives. */
const validateWebSocket = (scope: EgiScope, receive: Receive, send: Send): { receive: Receive; send: Send } => {
  let state: WebSocketState = "connecting"
  let received = 0
  let disconnected = false
  const checkedReceive: Receive = Effect.flatMap(receive, (event) => {
    if (!isWebsocketInbound(event)) return server("CORE-6", `receive yielded ${typeOf(event)}, not a websocket event`)
    if (event.connectionId !== scope.connectionId || event.streamId !== scope.streamId) return server("CORE-1", "event correlator is not the scope's")
    if ((received++ === 0) !== (event.type === "websocket.connect")) return server("WS-1", "websocket.connect must come first, and once")
    if (disconnected && event.type !== "websocket.disconnect") return server("WS-5", `${event.type} after websocket.disconnect`)
    if (event.type === "websocket.receive" && (event.bytes === undefined) === (event.text === undefined)) {
      return server("WS-4", "websocket.receive without exactly one of bytes and text")
    }
    if (event.type === "websocket.disconnect") disconnected = true
    return Effect.succeed(event as InboundEvent)
  })
  const checkedSend: Send = (event) =>
    Effect.suspend(() => {
      if (!isWebsocketOutbound(event)) return app("CORE-6", `${typeOf(event)} is not a websocket event of that shape`)
      if (event.type === "websocket.send" && (event.bytes === undefined) === (event.text === undefined)) {
        return app("WS-4", "websocket.send needs exactly one of bytes and text")
      }
      const next = nextWebSocketState(state, websocketInput(event)!)
      if (typeof next !== "string") return Effect.fail(next)
      return sendThen(send, event, () => {
        state = next
      })
    })
  return { receive: checkedReceive, send: checkedSend }
}

/** The lifespan side: the lifespan table for replies. */
const validateLifespan = (receive: Receive, send: Send): { receive: Receive; send: Send } => {
  let state: LifespanState = "running"
  const checkedReceive: Receive = Effect.flatMap(receive, (event) => {
    if (!isLifespanInbound(event)) return server("CORE-6", `receive yielded ${typeOf(event)}, not a lifespan event`)
    state = event.type === "lifespan.startup" ? "startup" : "shutdown"
    return Effect.succeed(event as InboundEvent)
  })
  const checkedSend: Send = (event) =>
    Effect.suspend(() => {
      if (!isLifespanOutbound(event)) return app("CORE-6", `${typeOf(event)} is not a lifespan reply`)
      const next = nextLifespanState(state, event.type)
      if (typeof next !== "string") return Effect.fail(next)
      return sendThen(send, event, () => {
        state = next
      })
    })
  return { receive: checkedReceive, send: checkedSend }
}

/**
 * Wraps `inner` so that every scope it gets and every event in both
 * directions is checked against spec.md. `inner` sees the checked
 * `receive`/`send`; events of scope types this version does not know pass
 * unchecked.
 *
 * Fails (through `send`) with `LocalProtocolError { rule }` when the app
 * breaks a rule; dies with `ServerViolationError { rule }` when the server
 * does.
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
    ? validateLifespan(receive, send)
    : { receive, send }
  return inner(scope, checked.receive, checked.send)
}
