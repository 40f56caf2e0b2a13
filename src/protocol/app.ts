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
 * stream (`Events.InboundEvent`), waiting until there is one (spec.md §3.3;
 * the events: §4.3, §4.4, §6.2, §11.2). It never fails. Once it has yielded
 * `http.disconnect` it yields that same event again on every later call
 * (rule HTTP-8). In an `http`
 * scope it is also the read credit: the runner reads no more request body
 * from the peer than the app has taken plus a bounded buffer (rule
 * HTTP-11; on HTTP/2, the stream's flow-control window plus Node's own
 * buffer).
 *
 * @since 0.1.0
 * @category models
 */
export type Receive = Effect.Effect<InboundEvent>

/**
 * `send`: hands one outbound event (`Events.OutboundEvent`) to the runner
 * (spec.md §3.3, §4.5, §4.6). The returned Effect completes when the runner
 * has accepted the event and the stream can take more (backpressure, rule
 * HTTP-10: at most `RunnerOptions.writeBufferSize` bytes, 256 KiB by
 * default, queued per stream). It fails with
 *
 * - `LocalProtocolError` when the event breaks spec.md (its `rule` names
 *   the rule: out of order per the state tables of §4.7, a malformed field,
 *   an extension the scope does not list, CORE-7);
 * - `StreamClosedError` when the peer has closed or reset the stream (rule
 *   HTTP-9);
 * - `FileSendError` when a file body (`http.response.pathsend`,
 *   `http.response.zerocopysend`, §7.9) cannot be opened or read.
 *
 * @since 0.1.0
 * @category models
 */
export type Send = (event: OutboundEvent) => Effect.Effect<void, SendError>

/**
 * An EGI application: a function of a scope (`EgiScope`) and the stream's
 * `receive` and `send`, returning an Effect that runs for the life of the
 * stream (spec.md §3.3). It is called once per HTTP request or WebSocket
 * and once per server run for lifespan. It may fail with anything: its
 * failure or defect is handled by the runner (spec.md §5, rules RUN-2,
 * RUN-3): 500 before the response started, RST_STREAM INTERNAL_ERROR
 * (HTTP/2) or a closed connection (HTTP/1.x) after; on a scope type it does
 * not serve it fails with `UnsupportedScopeError` (rule CORE-4, see
 * `unsupportedScope`).
 *
 * `R` is what the app requires (its services): the server runs every call
 * with the context it was started in, so `serve(app).pipe(Effect.provide(
 * layer))` gives each request the Layer's services, built once per server
 * run (spec.md §3.3, §8).
 *
 * @since 0.1.0
 * @category models
 */
export type App<E = unknown, R = never> = (scope: EgiScope, receive: Receive, send: Send) => Effect.Effect<void, E, R>
