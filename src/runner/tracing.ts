/**
 * One server span per stream (spec.md §8.10), after OpenTelemetry's HTTP
 * server semantic conventions: the span's name is `METHOD path` (EGI has no
 * routes), its kind `server`, its attributes `http.request.method`,
 * `url.path`, `url.query`, `url.scheme`, `network.protocol.name` and
 * `.version`, `server.address`/`.port`, `client.address`/`.port`,
 * `user_agent.original`, `egi.connection_id`, `egi.stream_id`, and, when
 * the app is done, `http.response.status_code`. The parent is the W3C
 * `traceparent` request field's span when the request carries one. The app
 * runs inside the span, so its own spans are children of it.
 */
import * as Effect from "effect/Effect"
import * as Tracer from "effect/Tracer"
import { get } from "../protocol/headers.ts"
import type { EgiScope, HttpScope, WebSocketScope } from "../protocol/scope.ts"

/** `traceparent` (W3C Trace Context §3.2): version 00, 32 hex trace-id, 16 hex parent-id, 2 hex flags; all-zero ids are invalid. */
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:-.*)?$/

/**
 * The span a W3C `traceparent` value names, or `undefined` when it is
 * absent or does not parse (version `ff`, all-zero ids, wrong lengths).
 */
export const parentOf = (traceparent: string | undefined): Tracer.ExternalSpan | undefined => {
  if (traceparent === undefined) return undefined
  const m = TRACEPARENT.exec(traceparent.trim().toLowerCase())
  if (m === null || m[1] === "ff" || /^0+$/.test(m[2]!) || /^0+$/.test(m[3]!)) return undefined
  return Tracer.externalSpan({ traceId: m[2]!, spanId: m[3]!, sampled: (parseInt(m[4]!, 16) & 1) === 1 })
}

/** The span's name and attributes for a stream's or a WebSocket's scope. */
const describe = (scope: HttpScope | WebSocketScope): { readonly name: string; readonly attributes: Record<string, unknown> } => {
  const method = scope.type === "http" ? scope.method : "GET"
  const attributes: Record<string, unknown> = {
    "http.request.method": method,
    "url.path": scope.path,
    "url.scheme": scope.scheme,
    "network.protocol.name": "http",
    "network.protocol.version": scope.httpVersion,
    "egi.connection_id": scope.connectionId,
    "egi.stream_id": scope.streamId
  }
  if (scope.queryString !== "") attributes["url.query"] = scope.queryString
  if (scope.server !== null) {
    attributes["server.address"] = scope.server[0]
    attributes["server.port"] = scope.server[1]
  }
  if (scope.client !== null) {
    attributes["client.address"] = scope.client[0]
    attributes["client.port"] = scope.client[1]
  }
  const agent = get(scope.headers, "user-agent")
  if (agent !== undefined) attributes["user_agent.original"] = agent
  if (scope.type === "websocket") attributes["egi.websocket"] = true
  return { name: `${method} ${scope.path}`, attributes }
}

/**
 * `effect` (an app call on `scope`) inside its server span; `status` is
 * read when the app is done, for `http.response.status_code` (0: none
 * sent). `onSpan` gets the span as the app starts (the exchange keeps it);
 * `promisedBy`, the span of the stream that pushed this one, becomes a
 * link (attribute `egi.link` = `push_promise`). Lifespan calls are not
 * spanned.
 */
export const traced = <A, E, R>(
  scope: EgiScope,
  status: () => number,
  effect: Effect.Effect<A, E, R>,
  onSpan?: (span: Tracer.AnySpan) => void,
  promisedBy?: Tracer.AnySpan
): Effect.Effect<A, E, R> => {
  if (scope.type === "lifespan") return effect
  const span = describe(scope)
  const parent = parentOf(get(scope.headers, "traceparent"))
  const inner = Effect.onExit(effect, () =>
    Effect.suspend(() => {
      const code = status()
      return code === 0 ? Effect.void : Effect.annotateCurrentSpan("http.response.status_code", code)
    }))
  // Inside withSpan the current span always exists.
  const body = onSpan === undefined ? inner : Effect.flatMap(Effect.orDie(Effect.currentSpan), (s) => {
    onSpan(s)
    return inner
  })
  const options: Tracer.SpanOptions = {
    kind: "server",
    attributes: span.attributes,
    ...(parent === undefined ? {} : { parent }),
    ...(promisedBy === undefined ? {} : { links: [{ span: promisedBy, attributes: { "egi.link": "push_promise" } }] })
  }
  return Effect.withSpan(body, span.name, options)
}
