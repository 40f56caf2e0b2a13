/**
 * `scope.extensions` as the Node runner fills it (spec.md §7): which
 * extension each kind of stream gets, and the per-stream objects behind the
 * dynamic ones (connection view, flow control). Static values are shared
 * and frozen; a request allocates the record and two small objects.
 */
import { Effect } from "effect"
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
  type PriorityExtension,
  type PushExtension
} from "../protocol/extensions.ts"
import type { Headers } from "../protocol/headers.ts"
import { defaultPriority, parsePriority } from "../protocol/priority.ts"

const plain: PlainExtension = Object.freeze({ version: EXTENSION_VERSION })
const pushPromise: PushExtension = Object.freeze({ version: EXTENSION_VERSION, promise: true })
const pushLink: PushExtension = Object.freeze({ version: EXTENSION_VERSION, promise: false })
const headerIndexing: HeaderIndexingExtension = Object.freeze({ version: EXTENSION_VERSION, neverIndexed: defaultNeverIndexed })
const defaultPriorityExtension: PriorityExtension = Object.freeze({ version: EXTENSION_VERSION, ...defaultPriority })

/** `http.priority` from the request's `priority` fields (RFC 9218 §5; several are joined with ", "). */
const priorityOf = (headers: Headers): PriorityExtension => {
  let value: string | undefined
  for (let i = 0; i < headers.length; i++) {
    const h = headers[i]!
    if (h[0] === "priority") value = value === undefined ? h[1] : `${value}, ${h[1]}`
  }
  if (value === undefined) return defaultPriorityExtension
  const p = parsePriority(value)
  return p === defaultPriority ? defaultPriorityExtension : { version: EXTENSION_VERSION, urgency: p.urgency, incremental: p.incremental }
}

/** The streams each view's stream promised, out of the app's reach (rule CORE-8). */
const promised = new WeakMap<ConnectionView, Array<number>>()

/**
 * `http.connection` (spec.md §7.10): the stream's place on its connection.
 * The runner records each stream it promises with `recordPush`.
 */
export class ConnectionView implements ConnectionExtension {
  readonly version = EXTENSION_VERSION
  readonly connectionId: number
  readonly streamId: number
  readonly httpVersion: "1.0" | "1.1" | "2"
  readonly pushedBy: number | null

  constructor(connectionId: number, streamId: number, httpVersion: "1.0" | "1.1" | "2", pushedBy: number | null) {
    this.connectionId = connectionId
    this.streamId = streamId
    this.httpVersion = httpVersion
    this.pushedBy = pushedBy
  }

  get pushedStreams(): Effect.Effect<ReadonlyArray<number>> {
    return Effect.sync(() => promised.get(this)?.slice() ?? [])
  }
}

/** Records that the stream of `view` promised stream `id` (RFC 9113 §8.4); `pushedStreams` lists it from then on. */
export const recordPush = (view: ConnectionView, id: number): void => {
  const list = promised.get(view)
  if (list === undefined) promised.set(view, [id])
  else list.push(id)
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
 * Extensions of an HTTP/2 stream. `pushedBy`: the stream that promised this
 * one, or null; a pushed stream cannot push (RFC 9113 §8.4), nor can a
 * client that sent SETTINGS_ENABLE_PUSH 0.
 */
export const h2Extensions = (
  stream: ServerHttp2Stream,
  connectionId: number,
  headers: Headers,
  pushedBy: number | null
): HttpExtensions => ({
  "http.response.push": pushedBy === null && stream.pushAllowed ? pushPromise : pushLink,
  "http.response.early_hint": plain,
  "http.request.trailers": plain,
  "http.response.trailers": plain,
  "http.response.reset": plain,
  "http.goaway": plain,
  "http.response.pathsend": plain,
  "http.response.zerocopysend": plain,
  "http.response.header_indexing": headerIndexing,
  "http.flow_control": new H2FlowControl(stream),
  "http.priority": priorityOf(headers),
  "http.connection": new ConnectionView(connectionId, stream.id ?? 0, "2", pushedBy)
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
