/**
 * The in-memory test client: drives an EGI app without sockets. `request`
 * runs one `http` exchange — the request body in the chunks you give, the
 * response collected event by event — with the app wrapped in `validate`
 * unless told otherwise.
 */
import { Deferred, Effect } from "effect"
import type { App, Receive, Send } from "../protocol/app.ts"
import type { HttpDisconnect, InboundEvent, OutboundEvent } from "../protocol/events.ts"
import type { HttpExtensions } from "../protocol/extensions.ts"
import type { Headers } from "../protocol/headers.ts"
import { decodePath, EGI_VERSION, type HttpScope } from "../protocol/scope.ts"
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
  readonly httpVersion?: HttpScope["httpVersion"]
  readonly extensions?: HttpExtensions
  /** Deliver `http.disconnect` after this many body chunks instead of the end of the body. */
  readonly disconnectAfter?: number
  /** The RST_STREAM code the disconnect carries (a reset, e.g. 8 CANCEL); none for a plain disconnect. */
  readonly errorCode?: number
  /**
   * A slow client: each `http.response.body` the app sends takes this long
   * (ms, on Effect's clock, so `TestClock` drives it) before `send`
   * completes, as backpressure would make it (rule HTTP-10).
   */
  readonly sendDelay?: number
}

/**
 * What the app answered. `status` is 0 when no `http.response.start` came;
 * `complete` says whether the response ended (last body, trailers or
 * reset); `events` are every event the app sent, in order.
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

/** The `http` scope of a test request (connection 1, stream 1). */
export const testScope = (req: TestRequest = {}): HttpScope => {
  const target = req.path ?? "/"
  const q = target.indexOf("?")
  const rawPath = q < 0 ? target : target.slice(0, q)
  return {
    type: "http",
    egi: { version: EGI_VERSION },
    httpVersion: req.httpVersion ?? "2",
    method: req.method ?? "GET",
    scheme: "http",
    authority: "test.invalid",
    path: decodePath(rawPath),
    rawPath,
    queryString: q < 0 ? "" : target.slice(q + 1),
    rootPath: "",
    headers: req.headers ?? [],
    client: ["127.0.0.1", 50000],
    server: ["127.0.0.1", 80],
    connectionId: 1,
    streamId: 1,
    extensions: req.extensions ?? {},
    state: {}
  }
}

/**
 * Runs `app` on one request in memory and collects its response. The app
 * is wrapped in `validate` (spec rules checked both ways) unless
 * `options.validate` is false. Fails with whatever the app fails with
 * (`LocalProtocolError` naming a rule, when validated).
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
    const disconnect: HttpDisconnect = req.errorCode === undefined
      ? { type: "http.disconnect", connectionId: 1, streamId: 1 }
      : { type: "http.disconnect", connectionId: 1, streamId: 1, errorCode: req.errorCode }
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

    const receive: Receive = Effect.suspend(() => {
      const next = inbox.shift()
      if (next !== undefined) return Effect.succeed(next)
      // The body is all in: the next event is the disconnect, once the response is over (or at once after an early one).
      return early ? Effect.succeed(disconnect) : Effect.as(Deferred.await(done), disconnect)
    })
    const finish = Effect.suspend(() => {
      complete = true
      return Deferred.succeed(done, undefined)
    })
    const send: Send = (event) =>
      Effect.suspend(() => {
        events.push(event)
        switch (event.type) {
          case "http.response.start":
            status = event.status
            headers = event.headers ?? []
            announced = event.trailers === true
            return Effect.void
          case "http.response.body": {
            if (event.body !== undefined) body.push(event.body)
            const after = event.moreBody === true || announced ? Effect.void : finish
            return delay > 0 ? Effect.andThen(Effect.sleep(delay), after) : after
          }
          case "http.response.trailers":
            trailers = event.headers
            return finish
          case "http.response.push":
            pushes.push({ path: event.path, headers: event.headers ?? [] })
            return Effect.void
          case "http.response.reset":
            return finish
          default:
            return Effect.void
        }
      })
    const run = options.validate === false ? app : validate(app)
    yield* run(scope, receive, send)
    const all = Buffer.concat(body)
    return { status, headers, body: all, text: all.toString("utf8"), trailers, pushes, complete, events }
  })
