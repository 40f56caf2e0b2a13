/**
 * The application signature (spec.md §3.3).
 *
 * @since 0.1.0
 */
import type { Effect } from "effect"
import type { SendError } from "./errors.ts"
import type { InboundEvent, OutboundEvent } from "./events.ts"
import type { EgiScope } from "./scope.ts"

/**
 * `receive`: an Effect that yields the next inbound event of the scope's
 * stream, waiting until there is one. It never fails. In an `http` scope it
 * is also the read credit: the runner reads no more request body from the
 * peer than the app has taken plus a bounded buffer (rule HTTP-11).
 *
 * @since 0.1.0
 * @category models
 */
export type Receive = Effect.Effect<InboundEvent>

/**
 * `send`: hands one outbound event to the runner. The returned Effect
 * completes when the runner has accepted the event and the stream can take
 * more (backpressure, rule HTTP-10); it fails with `LocalProtocolError` when
 * the event breaks spec.md, and with `StreamClosedError` when the peer has
 * closed the stream (rule HTTP-9).
 *
 * @since 0.1.0
 * @category models
 */
export type Send = (event: OutboundEvent) => Effect.Effect<void, SendError>

/**
 * An EGI application: a function of a scope and the stream's `receive` and
 * `send`, returning an Effect that runs for the life of the stream
 * (spec.md §3.3). Its failure or defect is handled by the runner
 * (spec.md §5): 500 before the response started, RST_STREAM INTERNAL_ERROR
 * (HTTP/2) or a closed connection (HTTP/1.x) after.
 *
 * @since 0.1.0
 * @category models
 */
export type App = (scope: EgiScope, receive: Receive, send: Send) => Effect.Effect<void, unknown>
