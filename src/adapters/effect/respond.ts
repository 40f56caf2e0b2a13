/**
 * Effect's `HttpServerResponse` as EGI `send` events (spec.md §12.1): the
 * `handleResponse` that `HttpEffect.toHandled` calls once per request.
 *
 * @since 0.5.0
 */
import * as NodeStream from "@effect/platform-node/NodeStream"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as Cookies from "effect/http/Cookies"
import type { HttpServerRequest } from "effect/http/HttpServerRequest"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as fs from "node:fs/promises"
import { Readable } from "node:stream"
import type { OutboundEvent } from "../../protocol/events.ts"
import type { Header } from "../../protocol/headers.ts"
import { fileBodyOf } from "./platform.ts"
import { clientAbort, exchangeOf, type ExchangeState } from "./request.ts"

/** Reported to middleware in place of a response that was not sent because the stream was upgraded. */
const upgradedResponse = HttpServerResponse.empty({ status: 101 })

/**
 * `send`, with its failures as the handler's: `StreamClosedError` is the
 * client going away (`ClientAbort`), `LocalProtocolError` and
 * `FileSendError` are defects (the runner answers them, spec.md §5:
 * 500 before the head, a reset after).
 */
const emit = (ex: ExchangeState, event: OutboundEvent): Effect.Effect<void> =>
  Effect.catch(ex.send(event), (error) => error._tag === "StreamClosedError" ? Effect.failCause(clientAbort) : Effect.die(error))

/** The response head as EGI fields: the record in order, then one `set-cookie` field per cookie. */
const headFields = (response: HttpServerResponse.HttpServerResponse): Array<Header> => {
  const dropLength = response.status === 204 || response.status === 205
  const fields: Array<Header> = []
  const headers = response.headers as Record<string, string | ReadonlyArray<string>>
  for (const name in headers) {
    if (dropLength && name === "content-length") continue
    const value = headers[name]!
    if (typeof value === "string") fields.push([name, value])
    else for (const v of value) fields.push([name, v])
  }
  if (!Cookies.isEmpty(response.cookies)) {
    for (const value of Cookies.toSetCookieHeaders(response.cookies)) fields.push(["set-cookie", value])
  }
  return fields
}

const destroyBody = (body: HttpServerResponse.HttpServerResponse["body"]): Effect.Effect<void> =>
  Effect.sync(() => {
    if (body._tag !== "Raw") return
    const raw = body.body
    if (raw instanceof Readable) raw.destroy()
    else if (raw instanceof ReadableStream) raw.cancel().catch(() => {})
  })

/**
 * Sends `response` for `request` on its EGI stream (spec.md §12.1, the
 * table of §12.1): `http.response.start` with the status, the header record
 * in its order and a `set-cookie` field per cookie, then the body —
 *
 * - none for HEAD, 204, 205 and 304 (and no `content-length` on 204/205);
 *   an unread Raw body is destroyed;
 * - `Empty`: one empty last body; `Uint8Array`: one last body (the runner
 *   adds `content-length`, RUN-10);
 * - `Stream`: one `http.response.body` per batch the stream yields, each
 *   `send` awaited (backpressure, HTTP-10), the writing interruptible;
 * - `Raw`: a file of `EgiHttpPlatform` → `http.response.pathsend` (the whole
 *   file) or `http.response.zerocopysend` (a range; the descriptor closed
 *   once `send` completed) when the scope lists them, else streamed; a Node
 *   `Readable` or a web `ReadableStream` streamed; bytes or a string as one
 *   body; any other `BodyInit` (a `Blob`, `URLSearchParams`) through a web
 *   `Response`;
 * - `FormData`: encoded by a web `Response` (its boundary `content-type`),
 *   streamed.
 *
 * When the scope lists `http.response.trailers` and a trailer producer was
 * set on the stream (`ExchangeState.responseTrailers`), the start says
 * `trailers: true` and the trailers follow the last body.
 *
 * Nothing is sent when the stream was upgraded (the result is effect's
 * `101`, as Node's server reports it) or already answered. Fails with an
 * interruption annotated `ClientAbort` when the client went away
 * (`StreamClosedError`), and dies with the cause when a `send` is refused
 * (`LocalProtocolError`: a header value that is not a field value, HTTP-6;
 * a body longer or shorter than its `content-length`, HTTP-17) or the body
 * fails: the runner then answers 500 before the head and resets after it
 * (RUN-2, RUN-3).
 *
 * @since 0.5.0
 * @category handlers
 */
export const handleResponse = (
  request: HttpServerRequest,
  response: HttpServerResponse.HttpServerResponse
): Effect.Effect<unknown> => {
  const ex = exchangeOf(request)
  if (ex === undefined) return Effect.die(new Error("handleResponse: the request was not made by EGI's Effect adapter"))
  if (ex.phase === "upgraded") return Effect.succeed(upgradedResponse)
  if (ex.phase !== "start") return destroyBody(response.body)
  const extensions = ex.scope.type === "http" ? ex.scope.extensions : {}
  const withTrailers = ex.responseTrailers !== undefined && "http.response.trailers" in extensions
  // HTTP/1.1 carries trailers only in the chunked coding (spec.md §7.3): no content-length then.
  const chunked = withTrailers && ex.scope.httpVersion !== "2" && request.method !== "HEAD" && !HttpServerResponse.omitsBody(response)
  const start: OutboundEvent = {
    type: "http.response.start",
    status: response.status,
    headers: chunked ? headFields(response).filter(([name]) => name !== "content-length") : headFields(response),
    ...(withTrailers ? { trailers: true } : {}),
    ...(ex.neverIndex === undefined ? {} : { neverIndex: ex.neverIndex })
  }
  const sendStart = Effect.map(emit(ex, start), () => {
    ex.phase = "head"
  })
  const finish = (bytes?: Uint8Array): Effect.Effect<void> => {
    const last = emit(ex, { type: "http.response.body", ...(bytes === undefined || bytes.length === 0 ? {} : { body: bytes }) })
    const all = withTrailers
      ? Effect.andThen(last, Effect.flatMap(ex.responseTrailers!, (headers) =>
        emit(ex, { type: "http.response.trailers", headers, ...(ex.neverIndex === undefined ? {} : { neverIndex: ex.neverIndex }) })))
      : last
    return Effect.map(all, () => {
      ex.phase = "complete"
    })
  }
  const body = response.body
  const file = body._tag === "Raw" ? fileBodyOf(body.body) : undefined
  if (file !== undefined && !withTrailers) {
    const sent = sendFile(ex, response, start, file)
    if (sent !== undefined) return Effect.andThen(destroyBody(body), sent)
  }
  if (request.method === "HEAD" || HttpServerResponse.omitsBody(response)) {
    return Effect.andThen(destroyBody(body), Effect.andThen(sendStart, finish()))
  }
  switch (body._tag) {
    case "Empty":
      return Effect.andThen(sendStart, finish())
    case "Uint8Array":
      return Effect.andThen(sendStart, finish(body.body))
    case "Stream":
      return Effect.andThen(sendStart, streamBody(ex, body.stream, finish))
    case "FormData": {
      const web = new Response(body.formData)
      const type = web.headers.get("content-type")
      const head: OutboundEvent = {
        ...start,
        headers: [...(start.headers ?? []).filter(([n]) => n !== "content-type" && n !== "content-length"), ...(type === null ? [] : [["content-type", type] as Header])]
      }
      return Effect.andThen(
        Effect.map(emit(ex, head), () => {
          ex.phase = "head"
        }),
        web.body === null ? finish() : streamBody(ex, Stream.fromReadableStream({ evaluate: () => web.body!, onError: (e) => e }), finish)
      )
    }
    case "Raw": {
      const raw = body.body
      if (raw instanceof Readable) {
        return Effect.andThen(sendStart, streamBody(ex, NodeStream.fromReadable<Uint8Array, unknown>({ evaluate: () => raw, onError: (e) => e }), finish))
      }
      if (raw instanceof ReadableStream) {
        return Effect.andThen(sendStart, streamBody(ex, Stream.fromReadableStream({ evaluate: () => raw as ReadableStream<Uint8Array>, onError: (e) => e }), finish))
      }
      if (raw instanceof Uint8Array) return Effect.andThen(sendStart, finish(raw))
      if (typeof raw === "string") return Effect.andThen(sendStart, finish(Buffer.from(raw)))
      if (raw === undefined || raw === null) return Effect.andThen(sendStart, finish())
      const web = new Response(raw as ConstructorParameters<typeof Response>[0])
      return Effect.andThen(
        sendStart,
        web.body === null ? finish() : streamBody(ex, Stream.fromReadableStream({ evaluate: () => web.body!, onError: (e) => e }), finish)
      )
    }
  }
}

/**
 * The body's batches as `http.response.body` events with `moreBody`, each
 * `send` awaited; interruptible (effect runs the handler uninterruptibly
 * from here on), so that a client that went away stops it (HTTP-15). A
 * failing stream is a defect: the runner resets the started response.
 */
const streamBody = <E>(
  ex: ExchangeState,
  stream: Stream.Stream<Uint8Array, E>,
  finish: () => Effect.Effect<void>
): Effect.Effect<void> =>
  stream.pipe(
    Stream.orDie,
    Stream.runForEachArray((batch) =>
      emit(ex, { type: "http.response.body", body: batch.length === 1 ? batch[0]! : Buffer.concat(batch), moreBody: true })
    ),
    Effect.andThen(finish()),
    Effect.interruptible
  )

/**
 * A file body (spec.md §7.9) where the scope lists it, else `undefined`
 * (the caller streams the file): the whole file as `pathsend`, a range as
 * `zerocopysend` of `content-length` bytes from `offset` on a descriptor
 * opened here and closed once `send` completed (HTTP-29). A file that can
 * no longer be opened (`FileSendError` before anything went out) gets 404
 * (`ENOENT`) or 500.
 */
const sendFile = (
  ex: ExchangeState,
  response: HttpServerResponse.HttpServerResponse,
  start: OutboundEvent & { readonly type: "http.response.start" },
  file: { readonly path: string; readonly offset: number | undefined; readonly bytesToRead: number | undefined }
): Effect.Effect<void> | undefined => {
  if (ex.scope.type !== "http") return undefined
  const extensions = ex.scope.extensions
  const whole = (file.offset === undefined || file.offset === 0) && file.bytesToRead === undefined
  const count = Number(response.headers["content-length"] ?? "NaN")
  if (whole ? !("http.response.pathsend" in extensions) : !("http.response.zerocopysend" in extensions) || !Number.isSafeInteger(count)) {
    return undefined
  }
  const sendStart = Effect.map(emit(ex, start), () => {
    ex.phase = "head"
  })
  const body: Effect.Effect<void, unknown> = whole
    ? Effect.andThen(sendStart, ex.send({ type: "http.response.pathsend", path: file.path }))
    : count === 0
    ? Effect.andThen(sendStart, ex.send({ type: "http.response.body" }))
    : Effect.acquireUseRelease(
      Effect.tryPromise({ try: () => fs.open(file.path, "r"), catch: (cause) => cause }),
      (handle) => Effect.andThen(sendStart, ex.send({ type: "http.response.zerocopysend", file: handle.fd, offset: file.offset ?? 0, count })),
      (handle) => Effect.promise(() => handle.close().catch(() => {}))
    )
  const answered = Effect.catch(body, (error: unknown) => {
    const e = error as { readonly _tag?: string; readonly code?: string }
    if (e._tag === "StreamClosedError") return Effect.failCause(clientAbort)
    // Nothing went out: the file could not be opened (spec.md §7.9: the stream is back in state start).
    if ((e._tag === "FileSendError" || (e._tag === undefined && ex.phase === "start")) && typeof e.code === "string") {
      return Effect.andThen(
        emit(ex, { type: "http.response.start", status: e.code === "ENOENT" ? 404 : 500 }),
        emit(ex, { type: "http.response.body" })
      )
    }
    return Effect.die(error)
  })
  return Effect.map(answered, () => {
    ex.phase = "complete"
  }).pipe(Effect.interruptible)
}
