/**
 * `scope.extensions` as the Node runner fills it (spec.md §7): which
 * extension each kind of stream gets, and the per-stream objects behind the
 * dynamic ones (connection view, flow control). Static values are shared
 * and frozen; a request allocates the record and two small objects.
 */
import * as Effect from "effect/Effect"
import type { ServerHttp2Stream } from "node:http2"
import { LocalProtocolError } from "../protocol/errors.ts"
import {
  type ConnectionExtension,
  defaultNeverIndexed,
  EXTENSION_VERSION,
  type FlowControlExtension,
  type FlowWindows,
  type HeaderIndexingExtension,
  type HttpExtensions,
  type PlainExtension,
  type PushExtension
} from "../protocol/extensions.ts"
import type { Headers } from "../protocol/headers.ts"
import type { HttpScope } from "../protocol/scope.ts"
import type { ConnectionStreams } from "./connection-streams.ts"
import { priorityOf } from "./priority-view.ts"

const plain: PlainExtension = Object.freeze({ version: EXTENSION_VERSION })
const pushPromise: PushExtension = Object.freeze({ version: EXTENSION_VERSION, promise: true })
const pushLink: PushExtension = Object.freeze({ version: EXTENSION_VERSION, promise: false })
const noNames: ReadonlyArray<string> = Object.freeze([])
const headerIndexing: HeaderIndexingExtension = Object.freeze({
  version: EXTENSION_VERSION,
  neverIndexed: defaultNeverIndexed,
  requestNeverIndexed: noNames
})

/**
 * `http.response.header_indexing` of a request whose head carried the
 * fields `sensitive` as HPACK literals never indexed (node:http2 lists them
 * under `http2.sensitiveHeaders`, one entry per field line): each name once,
 * in order (spec.md §7.8, rule HTTP-32). The shared value when there are none.
 */
const headerIndexingOf = (sensitive: ReadonlyArray<string> | undefined): HeaderIndexingExtension =>
  sensitive === undefined || sensitive.length === 0 ? headerIndexing : Object.freeze({
    version: EXTENSION_VERSION,
    neverIndexed: defaultNeverIndexed,
    requestNeverIndexed: Object.freeze([...new Set(sensitive)])
  })

/** The streams each view's stream promised, out of the app's reach (rule CORE-8). */
const promised = new WeakMap<ConnectionView, Array<number>>()

/** Set by ConnectionView's static block: the private registry of a view. */
let bindView: (view: ConnectionView, streams: ConnectionStreams) => void
let streamsOf: (view: ConnectionView) => ConnectionStreams | undefined

/** An unbound view's registry: no stream listed, never closed. */
const noConnection: Effect.Effect<ReadonlyArray<number>> = Effect.sync(() => [])

/**
 * `http.connection` (spec.md §7.10): the stream's place on its connection.
 * The runner records each stream it promises with `recordPush`, binds the
 * view to its connection's registry with `bindConnection`, and enters and
 * leaves the stream with `streamStarted` / `streamEnded` around its app.
 * The registry is a private field: an app reads it through `openStreams`
 * and `closed`, and can neither reach nor change it (rule CORE-8).
 */
export class ConnectionView implements ConnectionExtension {
  readonly version = EXTENSION_VERSION
  readonly connectionId: number
  readonly streamId: number
  readonly httpVersion: "1.0" | "1.1" | "2"
  readonly pushedBy: number | null
  #streams: ConnectionStreams | undefined = undefined

  static {
    bindView = (view, streams) => {
      view.#streams = streams
    }
    streamsOf = (view) => view.#streams
  }

  constructor(connectionId: number, streamId: number, httpVersion: "1.0" | "1.1" | "2", pushedBy: number | null) {
    this.connectionId = connectionId
    this.streamId = streamId
    this.httpVersion = httpVersion
    this.pushedBy = pushedBy
  }

  get pushedStreams(): Effect.Effect<ReadonlyArray<number>> {
    return Effect.sync(() => promised.get(this)?.slice() ?? [])
  }

  get openStreams(): Effect.Effect<ReadonlyArray<number>> {
    const streams = this.#streams
    return streams === undefined ? noConnection : Effect.sync(() => streams.list())
  }

  get closed(): Effect.Effect<void> {
    return this.#streams?.closed ?? Effect.never
  }
}

/** Records that the stream of `view` promised stream `id` (RFC 9113 §8.4); `pushedStreams` lists it from then on. */
export const recordPush = (view: ConnectionView, id: number): void => {
  const list = promised.get(view)
  if (list === undefined) promised.set(view, [id])
  else list.push(id)
}

/**
 * Binds the `http.connection` view among `extensions` (if it is one the
 * runner made) to its connection's registry: `openStreams` and `closed`
 * read it from then on (spec.md §7.10).
 */
export const bindConnection = (extensions: HttpExtensions, streams: ConnectionStreams): void => {
  const view = extensions["http.connection"]
  if (view instanceof ConnectionView) bindView(view, streams)
}

/** The app of `scope`'s stream is about to be called: its connection lists the stream (rule HTTP-31). */
export const streamStarted = (scope: HttpScope): void => {
  const view = scope.extensions["http.connection"]
  if (view instanceof ConnectionView) streamsOf(view)?.enter(view.streamId)
}

/** The app of `scope`'s stream returned: its connection no longer lists the stream (rule HTTP-31). */
export const streamEnded = (scope: HttpScope): void => {
  const view = scope.extensions["http.connection"]
  if (view instanceof ConnectionView) streamsOf(view)?.leave(view.streamId)
}

/** The largest flow-control window (RFC 9113 §6.9.1). */
const MAX_WINDOW = 2 ** 31 - 1

/**
 * `http.flow_control` over a node:http2 stream and its session (spec.md §7.6).
 * The stream is a private field: an app reaches the windows, never the
 * stream (rule CORE-8).
 */
class H2FlowControl implements FlowControlExtension {
  readonly version = EXTENSION_VERSION
  readonly #stream: ServerHttp2Stream

  constructor(stream: ServerHttp2Stream) {
    this.#stream = stream
  }

  get windows(): Effect.Effect<FlowWindows> {
    return Effect.sync(() => {
      const s = this.#stream
      const session = s.session
      const st = s.destroyed ? undefined : s.state
      const ss = session === undefined || session.destroyed ? undefined : session.state
      return {
        stream: { local: st?.localWindowSize ?? 0, queued: s.writableLength },
        connection: {
          local: ss?.localWindowSize ?? 0,
          remote: ss?.remoteWindowSize ?? 0,
          effectiveLocal: ss?.effectiveLocalWindowSize ?? 0
        }
      }
    })
  }

  setLocalWindowSize(bytes: number): Effect.Effect<void, LocalProtocolError> {
    return Effect.suspend(() => {
      if (!Number.isInteger(bytes) || bytes < 0 || bytes > MAX_WINDOW) {
        return Effect.fail(new LocalProtocolError({ rule: "HTTP-24", detail: `window size ${bytes} is not an integer in 0–2^31-1` }))
      }
      const session = this.#stream.session
      if (session === undefined || session.destroyed || session.closed) {
        return Effect.fail(new LocalProtocolError({ rule: "HTTP-24", detail: "the connection is closed" }))
      }
      session.setLocalWindowSize(bytes)
      return Effect.void
    })
  }
}

/**
 * Extensions of an HTTP/2 stream. `promise`: a PUSH_PROMISE is possible on
 * it — false for a pushed stream (RFC 9113 §8.4), a client that sent
 * SETTINGS_ENABLE_PUSH 0, or a closing connection. `pushedBy`: the stream
 * that promised this one, or null. `neverIndexedIn`: the names of the
 * request fields that arrived never indexed (node:http2's
 * `headers[http2.sensitiveHeaders]`; none for a pushed stream).
 */
export const h2Extensions = (
  stream: ServerHttp2Stream,
  streamId: number,
  connectionId: number,
  headers: Headers,
  promise: boolean,
  pushedBy: number | null,
  neverIndexedIn?: ReadonlyArray<string>
): HttpExtensions => ({
  "http.response.push": promise ? pushPromise : pushLink,
  "http.response.early_hint": plain,
  "http.request.trailers": plain,
  "http.response.trailers": plain,
  "http.response.reset": plain,
  "http.goaway": plain,
  "http.response.pathsend": plain,
  "http.response.zerocopysend": plain,
  "http.response.header_indexing": headerIndexingOf(neverIndexedIn),
  "http.flow_control": new H2FlowControl(stream),
  "http.priority": priorityOf(headers),
  "http.connection": new ConnectionView(connectionId, streamId, "2", pushedBy)
})

/**
 * Extensions of an HTTP/1.x request: no reset, flow control or header
 * indexing (none exist in HTTP/1.1); push degrades to a `link` field; early
 * hints and trailers need HTTP/1.1 (RFC 9110 §15.2, RFC 9112 §7.1.2).
 */
export const h1Extensions = (
  httpVersion: "1.0" | "1.1",
  connectionId: number,
  streamId: number,
  headers: Headers
): HttpExtensions => {
  const ext: { -readonly [K in keyof HttpExtensions]: HttpExtensions[K] } = {
    "http.response.push": pushLink,
    "http.goaway": plain,
    "http.response.pathsend": plain,
    "http.response.zerocopysend": plain,
    "http.priority": priorityOf(headers),
    "http.connection": new ConnectionView(connectionId, streamId, httpVersion, null)
  }
  if (httpVersion === "1.1") {
    ext["http.response.early_hint"] = plain
    ext["http.request.trailers"] = plain
    ext["http.response.trailers"] = plain
  }
  return ext
}
