/**
 * The in-memory test client: drives an EGI app without sockets. `request`
 * runs one `http` exchange — the request body in the chunks you give, the
 * response collected event by event — with the app wrapped in `validate`
 * unless told otherwise. The scope lists the extensions the Node runner
 * lists for the request's protocol (spec.md §7), from the runner's own
 * functions; file bodies are read and planned as the runner plans them.
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import type { ServerHttp2Stream } from "node:http2"
import type { App, Receive, Send } from "../protocol/app.ts"
import type { HttpDisconnect, InboundEvent, OutboundEvent } from "../protocol/events.ts"
import type { HttpExtensions } from "../protocol/extensions.ts"
import type { Headers } from "../protocol/headers.ts"
import { decodePath, EGI_VERSION, type HttpScope, SPEC_VERSIONS } from "../protocol/scope.ts"
import { ConnectionStreams } from "../runner/connection-streams.ts"
import { bindConnection, ConnectionView, h1Extensions, h2Extensions, recordPush, streamEnded, streamStarted } from "../runner/extensions.ts"
import { fileBody } from "./file-body.ts"
import { validate } from "./validate.ts"

/**
 * A request for {@link request}. `path` may carry a query (`/a?b=1`);
 * `body` is one chunk, or the chunks in which the app receives it (strings
 * as UTF-8); `headers` are `[name, value]` pairs (names lower-case).
 *
 * @since 0.3.0
 * @category testing
 */
export interface TestRequest {
  readonly method?: string
  readonly path?: string
  readonly headers?: Headers
  readonly body?: string | Uint8Array | ReadonlyArray<string | Uint8Array>
  /**
   * The protocol (`"2"`, the default; `"1.1"`; `"1.0"`): the scope lists the
   * extensions the Node runner lists for it (spec.md §7), so an app that
   * sends an event of an extension the protocol lacks fails with CORE-7.
   */
  readonly httpVersion?: HttpScope["httpVersion"]
  /** Replaces the extensions `httpVersion` implies (e.g. `{}` for a server that offers none). */
  readonly extensions?: HttpExtensions
  /** Deliver `http.disconnect` after this many body chunks instead of the end of the body. */
  readonly disconnectAfter?: number
  /**
   * The peer reset the stream with this RST_STREAM code (e.g. 8 CANCEL): the
   * disconnect says `end: "reset"` and carries it. Without it, a disconnect
   * before the end of the body says `end: "connection"` (spec.md §4.4).
   */
  readonly errorCode?: number
  /**
   * A slow client: each `http.response.body` the app sends takes this long
   * (ms, on Effect's clock, so `TestClock` drives it) before `send`
   * completes, as backpressure would make it (rule HTTP-10).
   */
  readonly sendDelay?: number
}

/**
 * What the app answered, as a client of the Node runner would receive it.
 * `status` is 0 when no `http.response.start` came; `status` and `headers`
 * of a file body are the planned ones (206, 304, 416 …, with
 * `content-length`, `etag`, `content-range` …, spec.md §7.9); `body` is the
 * bytes a client gets (none for HEAD, 204, 304); `pushes` every
 * `http.response.push`; `complete` says whether the response ended (last
 * body or file, trailers when announced, or reset); `events` are every
 * event the app sent, in order.
 *
 * @since 0.3.0
 * @category testing
 */
export interface TestResponse {
  readonly status: number
  readonly headers: Headers
  readonly body: Uint8Array
  readonly text: string
  readonly trailers: Headers
  readonly pushes: ReadonlyArray<{ readonly path: string; readonly headers: Headers }>
  readonly complete: boolean
  readonly events: ReadonlyArray<OutboundEvent>
}

const utf8 = new TextEncoder()
const bytes = (chunk: string | Uint8Array): Uint8Array => (typeof chunk === "string" ? utf8.encode(chunk) : chunk)

/** RFC 9113 §6.9.2: the initial flow-control window, in bytes. */
const INITIAL_WINDOW = 65_535

/**
 * The part of a node:http2 server stream that `h2Extensions` reads, in
 * memory: a client-initiated stream that may push, on an open connection
 * whose windows are at their initial size; `setLocalWindowSize` sets the
 * connection's receive window. A stand-in, so that the in-memory scope is
 * built by the runner's own function (one list of extensions).
 */
const memoryStream = (streamId: number): ServerHttp2Stream => {
  const state = { localWindowSize: INITIAL_WINDOW, remoteWindowSize: INITIAL_WINDOW, effectiveLocalWindowSize: INITIAL_WINDOW }
  const session = {
    destroyed: false,
    closed: false,
    state,
    setLocalWindowSize: (bytes: number) => {
      state.localWindowSize = bytes
      state.effectiveLocalWindowSize = bytes
    }
  }
  const stream = { id: streamId, pushAllowed: true, destroyed: false, writableLength: 0, state: { localWindowSize: INITIAL_WINDOW }, session }
  return stream as unknown as ServerHttp2Stream
}

/**
 * The `http` scope of a test request (connection 1, stream 1; HTTP/2 unless
 * `req.httpVersion` says otherwise). `extensions` are what the Node runner
 * lists for that protocol (spec.md §7: HTTP/2 all of them; HTTP/1.1 no
 * reset, flow control or header indexing; HTTP/1.0 neither early hints nor
 * trailers either), unless `req.extensions` replaces them.
 *
 * @since 0.3.0
 * @category testing
 */
export const testScope = (req: TestRequest = {}): HttpScope => {
  const target = req.path ?? "/"
  const q = target.indexOf("?")
  const rawPath = q < 0 ? target : target.slice(0, q)
  const httpVersion = req.httpVersion ?? "2"
  const headers = req.headers ?? []
  const extensions = req.extensions ??
    (httpVersion === "2" ? h2Extensions(memoryStream(1), 1, 1, headers, true, null) : h1Extensions(httpVersion, 1, 1, headers))
  return {
    type: "http",
    egi: { version: EGI_VERSION, specVersion: SPEC_VERSIONS.http },
    httpVersion,
    method: req.method ?? "GET",
    scheme: "http",
    authority: "test.invalid",
    path: decodePath(rawPath),
    rawPath,
    queryString: q < 0 ? "" : target.slice(q + 1),
    rootPath: "",
    headers,
    client: ["127.0.0.1", 50000],
    server: ["127.0.0.1", 80],
    connectionId: 1,
    streamId: 1,
    extensions,
    state: {}
  }
}

/** A final status whose response carries no content (RFC 9110 §6.4.1). */
const noContent = (status: number): boolean => status === 204 || status === 304

/**
 * Runs `app` on one request in memory and collects its response. The app
 * is wrapped in `validate` (spec rules checked both ways) unless
 * `options.validate` is false. Fails with whatever the app fails with
 * (`LocalProtocolError` naming a rule, when validated).
 *
 * What the client takes is what a client of the Node runner receives: a
 * file body (`http.response.pathsend`, `http.response.zerocopysend`)
 * becomes the planned status, header list and bytes (a `Range` answered
 * with 206 or 416, conditionals with 304 or 412, spec.md §7.9), and its
 * `send` fails with `FileSendError` when the file cannot be opened; the
 * body of a response to HEAD, or of a 204 or 304, is dropped (RFC 9110
 * §6.4.1); a push on a scope whose `http.response.push` says `promise`
 * gets the next even stream ID in `http.connection`'s `pushedStreams`.
 *
 * @since 0.3.0
 * @category testing
 */
export const request = (app: App, req: TestRequest = {}, options: { readonly validate?: boolean } = {}): Effect.Effect<TestResponse, unknown> =>
  Effect.gen(function*() {
    const scope = testScope(req)
    const chunks = req.body === undefined ? [] : typeof req.body === "string" || req.body instanceof Uint8Array ? [bytes(req.body)] : req.body.map(bytes)
    const inbox: Array<InboundEvent> = []
    const cut = req.disconnectAfter ?? chunks.length
    for (let i = 0; i < Math.min(cut, chunks.length); i++) {
      inbox.push({ type: "http.request", connectionId: 1, streamId: 1, body: chunks[i]!, moreBody: i < chunks.length - 1 })
    }
    if (chunks.length === 0 && cut >= 0) inbox.push({ type: "http.request", connectionId: 1, streamId: 1, body: new Uint8Array(0), moreBody: false })
    // `end` as the Node runner says it (spec.md §4.4): the peer's reset, a connection lost under the
    // stream, the app's own reset, or a complete exchange.
    const peerEnd: HttpDisconnect | undefined = req.errorCode !== undefined
      ? { type: "http.disconnect", connectionId: 1, streamId: 1, end: "reset", errorCode: req.errorCode }
      : undefined
    let appReset = false
    const delay = req.sendDelay ?? 0
    const early = cut < chunks.length
    const done = yield* Deferred.make<void>()

    const events: Array<OutboundEvent> = []
    let status = 0
    let headers: Headers = []
    const body: Array<Uint8Array> = []
    let trailers: Headers = []
    const pushes: Array<{ path: string; headers: Headers }> = []
    let complete = false
    let announced = false

    const receive: Receive = Effect.suspend((): Effect.Effect<InboundEvent> => {
      // After the app's own reset, nothing more arrives (spec.md §4.7).
      if (appReset) return Effect.succeed({ type: "http.disconnect", connectionId: 1, streamId: 1, end: "app-reset" })
      const next = inbox.shift()
      if (next !== undefined) return Effect.succeed(next)
      // The body is all in: the next event is the disconnect, once the response is over (or at once after an early one).
      if (early) return Effect.succeed(peerEnd ?? { type: "http.disconnect", connectionId: 1, streamId: 1, end: "connection" })
      return Effect.map(
        Deferred.await(done),
        (): HttpDisconnect => peerEnd ?? { type: "http.disconnect", connectionId: 1, streamId: 1, end: appReset ? "app-reset" : "complete" }
      )
    })
    const finish = Effect.suspend(() => {
      complete = true
      return Deferred.succeed(done, undefined)
    })
    let bodyless = false
    const view = scope.extensions["http.connection"]
    const promises = scope.extensions["http.response.push"]?.promise === true
    let nextPromised = 2
    const send: Send = (event) =>
      Effect.suspend(() => {
        events.push(event)
        switch (event.type) {
          case "http.response.start":
            status = event.status
            headers = event.headers ?? []
            announced = event.trailers === true
            bodyless = noContent(event.status) || scope.method === "HEAD"
            return Effect.void
          case "http.response.body": {
            if (event.body !== undefined && !bodyless) body.push(event.body)
            const after = event.moreBody === true || announced ? Effect.void : finish
            return delay > 0 ? Effect.andThen(Effect.sleep(delay), after) : after
          }
          case "http.response.pathsend":
          case "http.response.zerocopysend":
            return Effect.flatMap(fileBody(scope, status, headers, event), ({ bytes, plan }) => {
              status = plan.status
              headers = plan.headers
              if (bytes.length > 0) body.push(bytes)
              return announced ? Effect.void : finish
            })
          case "http.response.trailers":
            trailers = event.headers
            return finish
          case "http.response.push":
            pushes.push({ path: event.path, headers: event.headers ?? [] })
            if (promises && view instanceof ConnectionView) {
              recordPush(view, nextPromised)
              nextPromised += 2
            }
            return Effect.void
          case "http.response.reset":
            appReset = true
            return finish
          default:
            return Effect.void
        }
      })
    const run = options.validate === false ? app : validate(app)
    if (req.extensions !== undefined) {
      yield* run(scope, receive, send)
    } else {
      // One connection with this one stream: http.connection's openStreams lists it while the app runs, and closed completes after.
      const connection = new ConnectionStreams()
      bindConnection(scope.extensions, connection)
      streamStarted(scope)
      yield* run(scope, receive, send).pipe(
        Effect.ensuring(Effect.sync(() => {
          streamEnded(scope)
          connection.close()
        }))
      )
    }
    const all = Buffer.concat(body)
    return { status, headers, body: all, text: all.toString("utf8"), trailers, pushes, complete, events }
  })
