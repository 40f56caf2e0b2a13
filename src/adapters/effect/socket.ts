/**
 * WebSockets for effect's HTTP handlers on EGI (spec.md §11, §12.1): an
 * accepted `websocket` scope as effect's `Socket.Socket`, and the
 * `request.upgrade` / `request.upgradeWith` that accepts it.
 *
 * The `websocket` scope is the same for an HTTP/1.1 `Upgrade: websocket`
 * (RFC 6455 §4) and an HTTP/2 extended CONNECT (RFC 8441, rule WS-9), so a
 * handler's `request.upgrade` works on both — which effect's own
 * `NodeHttpServer` cannot offer on HTTP/2.
 *
 * Unlike `Socket.fromWebSocket`, writes keep EGI's backpressure: a
 * `websocket.send` completes only once the connection's queue is within its
 * bound (rule WS-6), so a client that does not read stalls the handler, not
 * the server's memory.
 *
 * `websocket.connect` (spec.md §11.2, the first event of every `websocket`
 * scope, WS-5) may or may not have been taken by the caller: nothing here
 * needs it, and the reader skips it when it is still there.
 *
 * @since 0.5.0
 */
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import type { NonEmptyReadonlyArray } from "effect/Array"
import type * as Headers from "effect/http/Headers"
import { HttpServerError, InternalError } from "effect/http/HttpServerError"
import type { HttpServerRequest } from "effect/http/HttpServerRequest"
import * as Socket from "effect/socket/Socket"
import type { Receive, Send } from "../../protocol/app.ts"
import type { LocalProtocolError, SendError, StreamClosedError } from "../../protocol/errors.ts"
import type { InboundEvent, OutboundEvent, WebsocketOutboundEvent } from "../../protocol/events.ts"
import type { WebSocketScope } from "../../protocol/scope.ts"
import { fieldsFromInput } from "./fields.ts"
import { clientAbort, exchangeOf } from "./request.ts"

/** The response head field that carries the chosen subprotocol (RFC 6455 §11.3.4); EGI takes it as `subprotocol`. */
const SUBPROTOCOL = "sec-websocket-protocol"

/** A `SocketError` for a close with `code` and `reason`, as effect's sockets report every close. */
const closeError = (code: number, reason?: string): Socket.SocketError =>
  new Socket.SocketError({ reason: new Socket.SocketCloseError(reason === undefined ? { code } : { code, closeReason: reason }) })

/**
 * The close code for a reader released with `exit`, as effect's
 * `NodeHttpServer` closes its WebSockets: 1000 on success, 1001 (going away)
 * when interrupted, 1011 (internal error) on a failure.
 */
const closeCode = (exit: Exit.Exit<unknown, unknown>): number =>
  Exit.isSuccess(exit) ? 1000 : Cause.hasInterruptsOnly(exit.cause) ? 1001 : 1011

/** `send` for the WebSocket events, whose only failures are `LocalProtocolError` and `StreamClosedError` (no file bodies). */
const sendWebSocket = (send: Send, event: WebsocketOutboundEvent): Effect.Effect<void, LocalProtocolError | StreamClosedError> =>
  Effect.catchIf(send(event), (e: SendError) => e._tag === "FileSendError", Effect.die) as Effect.Effect<
    void,
    LocalProtocolError | StreamClosedError
  >

/**
 * The read side over `receive`: one message per pull (`websocket.receive` →
 * its `bytes` or its `text`), a `websocket.disconnect` → `SocketError`
 * with `SocketCloseError{code, closeReason}` (every close, the clean ones
 * included, as effect's sockets do; WS-5 makes it come again on every
 * later pull). Releasing the acquisition scope fails a pull under way with
 * close 1006 (the `Socket.make` contract) and closes the WebSocket if it is
 * still open, with `closeCode(exit)`.
 */
const makeReader = (receive: Receive, send: Send): Socket.Socket["reader"] =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const released = Deferred.makeUnsafe<never, Socket.SocketError>()
    yield* Scope.addFinalizerExit(scope, (exit) =>
      Effect.suspend(() => {
        Deferred.doneUnsafe(released, Effect.fail(closeError(1006)))
        // Already closed (by either side) fails with WS-7 or StreamClosedError: nothing to do then.
        return Effect.ignore(sendWebSocket(send, { type: "websocket.close", code: closeCode(exit) }))
      }))
    const next: Effect.Effect<NonEmptyReadonlyArray<Uint8Array | string>, Socket.SocketError> = Effect.flatMap(
      receive,
      (event: InboundEvent) => {
        switch (event.type) {
          case "websocket.receive":
            return Effect.succeed([event.bytes ?? event.text!] as const)
          case "websocket.disconnect":
            return Effect.fail(closeError(event.code, event.reason))
          case "websocket.connect":
            return next
          default:
            return Effect.die(new Error(`${event.type} received in a websocket scope`))
        }
      }
    )
    const pull = Effect.suspend(() =>
      Deferred.isDoneUnsafe(released) ? Deferred.await(released) : Effect.raceFirst(next, Deferred.await(released))
    )
    return { pull, upgrade: Socket.SocketUpgradeError.unsupported }
  })

/**
 * The write side over `send`: a string → `websocket.send{text}`, bytes →
 * `websocket.send{bytes}`, a `Socket.CloseEvent` → `websocket.close{code,
 * reason}`. Each write completes when `send` does (rule WS-6); a failed
 * `send` — the client gone (`StreamClosedError`), a write after the close
 * (WS-7), a close code an endpoint may not send (WS-10) — fails with
 * `SocketError` wrapping `SocketWriteError{cause}`, the EGI error as cause.
 * Releasing the writer does nothing: a WebSocket has no half-close.
 */
const makeWriter = (send: Send): Socket.Socket["writer"] => {
  const write = (chunk: Uint8Array | string | Socket.CloseEvent): Effect.Effect<void, Socket.SocketError> =>
    Effect.mapError(
      sendWebSocket(
        send,
        Socket.isCloseEvent(chunk)
          ? chunk.reason === undefined
            ? { type: "websocket.close", code: chunk.code }
            : { type: "websocket.close", code: chunk.code, reason: chunk.reason }
          : typeof chunk === "string"
          ? { type: "websocket.send", text: chunk }
          : { type: "websocket.send", bytes: chunk }
      ),
      (cause) => new Socket.SocketError({ reason: new Socket.SocketWriteError({ cause }) })
    )
  const writeAll = (chunks: NonEmptyReadonlyArray<Uint8Array | string>): Effect.Effect<void, Socket.SocketError> =>
    Effect.forEach(chunks, write, { discard: true })
  return Effect.succeed({ write, writeAll })
}

/**
 * Accepts the WebSocket of a `websocket` scope (spec.md §11.3) and returns
 * it as effect's `Socket.Socket`.
 *
 * - `options.headers` (effect's `Headers.Input`) become the accept's
 *   response fields (on HTTP/1.1 in the 101, on HTTP/2 in the 200), except
 *   `sec-websocket-protocol`, which is the `subprotocol` chosen: it must be
 *   one of `scope.subprotocols` (rule WS-1).
 * - The `Socket`'s reader pulls `receive`: a message per pull (bytes or
 *   text, as the client sent it); a `websocket.disconnect` fails the pull
 *   with `SocketError(SocketCloseError{code, closeReason})`, the client's
 *   close code (1005 when its close frame had none, 1006 when the connection
 *   dropped, §11.2). Releasing the reader's scope closes the WebSocket (1000
 *   on success, 1001 when interrupted, 1011 on failure), as effect's Node
 *   server does.
 * - The writer sends `websocket.send` (strings as text, bytes as binary)
 *   with `send`'s backpressure (WS-6), and a `Socket.CloseEvent` as
 *   `websocket.close` (WS-10 codes).
 *
 * Fails with `LocalProtocolError` when the accept breaks a rule (WS-1 a
 * subprotocol not offered; HTTP-5/HTTP-6 a malformed field; WS-7 the
 * handshake already answered) and with `StreamClosedError` when the client
 * left before it (WS-5). `websocket.connect` may still be unread: the
 * reader skips it.
 *
 * @since 0.5.0
 * @category constructors
 */
export const acceptSocket = (
  _scope: WebSocketScope,
  receive: Receive,
  send: Send,
  options: { readonly headers?: Headers.Input | undefined } = {}
): Effect.Effect<Socket.Socket, LocalProtocolError | StreamClosedError> =>
  Effect.suspend(() => {
    const fields = fieldsFromInput(options.headers)
    const subprotocol = fields.find(([name]) => name === SUBPROTOCOL)?.[1]
    const headers = fields.filter(([name]) => name !== SUBPROTOCOL)
    const accept: WebsocketOutboundEvent = subprotocol === undefined
      ? { type: "websocket.accept", headers }
      : { type: "websocket.accept", subprotocol, headers }
    return Effect.as(sendWebSocket(send, accept), Socket.make({ reader: makeReader(receive, send), writer: makeWriter(send) }))
  })

/**
 * The upgrade of one `websocket` scope's request: what `request.upgrade` and
 * `request.upgradeWith({ headers })` run (`upgradeWith`, an
 * `UpgradeProvider` of `EgiServerRequest`).
 *
 * - The first `upgradeWith` accepts (`acceptSocket`, with its headers and
 *   subprotocol); every later call yields the same `Socket` (or the same
 *   failure), whatever headers it gives.
 * - A rule the accept breaks (`LocalProtocolError`, e.g. WS-1) fails with
 *   `HttpServerError` (`InternalError`, a 500 denial when nothing else was
 *   sent); a client gone before the accept interrupts the handler with
 *   `ClientAbort`, as a client's disconnect does on effect's Node server.
 * - Once the accept succeeded, the request's exchange is in phase
 *   `"upgraded"`: `handleResponse` sends nothing for the handler's own
 *   response and reports effect's empty 101 to middleware and logs (on
 *   HTTP/2 the client got a 200, RFC 8441 §5), as effect's Node server does.
 *
 * @since 0.5.0
 * @category models
 */
export class WebSocketUpgrade {
  private readonly scope: WebSocketScope
  private readonly receive: Receive
  private readonly send: Send
  private result: Deferred.Deferred<Socket.Socket, HttpServerError> | undefined = undefined

  constructor(scope: WebSocketScope, receive: Receive, send: Send) {
    this.scope = scope
    this.receive = receive
    this.send = send
  }

  /** `request.upgradeWith(options)` for `request` (`upgrade` is `upgradeWith({})`). */
  readonly upgradeWith = (
    request: HttpServerRequest,
    options: { readonly headers?: Headers.Input | undefined }
  ): Effect.Effect<Socket.Socket, HttpServerError> =>
    Effect.suspend(() => {
      if (this.result !== undefined) return Deferred.await(this.result)
      const result = this.result = Deferred.makeUnsafe<Socket.Socket, HttpServerError>()
      const upgraded: Effect.Effect<Socket.Socket, HttpServerError> = acceptSocket(this.scope, this.receive, this.send, options).pipe(
        Effect.tap(() =>
          Effect.sync(() => {
            const exchange = exchangeOf(request)
            if (exchange !== undefined) exchange.phase = "upgraded"
          })
        ),
        Effect.catchTags({
          LocalProtocolError: (cause: LocalProtocolError) =>
            Effect.fail(new HttpServerError({ reason: new InternalError({ request, description: `websocket.accept: ${cause.message}`, cause }) })),
          StreamClosedError: () => Effect.failCause(clientAbort)
        })
      )
      return Effect.onExit(upgraded, (exit) => Deferred.done(result, exit))
    })
}

/**
 * `send` for a `websocket` scope's request whose handler answers with an
 * ordinary response instead of upgrading (a 404 from the router, a 401 of
 * an auth middleware): `http.response.start` and `http.response.body`
 * become the denial's `websocket.http.response.start` and
 * `websocket.http.response.body` (spec.md §11.3, WS-3) — the same status,
 * fields and body, the last body ending it; every other event passes as is
 * (the accept, messages, the close). The start's `content-length` is
 * dropped: the runner frames a denial itself (on HTTP/1.1 it writes the
 * buffered denial with its own `content-length`, and a second one would make
 * the client's parser refuse the response).
 *
 * @since 0.5.0
 * @category combinators
 */
export const denialSend = (send: Send): Send => (event: OutboundEvent) => {
  switch (event.type) {
    case "http.response.start":
      return send(
        event.headers === undefined
          ? { type: "websocket.http.response.start", status: event.status }
          : { type: "websocket.http.response.start", status: event.status, headers: event.headers.filter(([name]) => name !== "content-length") }
      )
    case "http.response.body":
      return send({
        type: "websocket.http.response.body",
        ...(event.body === undefined ? {} : { body: event.body }),
        ...(event.moreBody === undefined ? {} : { moreBody: event.moreBody })
      })
    default:
      return send(event)
  }
}
