/**
 * Test support: a thin promise layer over the node:http2 client, for tests
 * that talk to the runner over a real socket.
 */
import * as http2 from "node:http2"
import { addAbortSignal } from "node:stream"

/** What came back on one client stream. */
export interface H2Result {
  /** `:status`, or `undefined` when no response head arrived. */
  readonly status: number | undefined
  readonly headers: http2.IncomingHttpHeaders
  /** The response head as received, `[name, value, …]`. */
  readonly rawHeaders: ReadonlyArray<string>
  readonly body: Buffer
  /** The stream's RST_STREAM code once closed (0 = closed normally). */
  readonly rstCode: number | undefined
  /** The client stream's id (RFC 9113 stream identifier). */
  readonly streamId: number | undefined
}

/** Opens an HTTP/2 session and waits for the connection (and the server's SETTINGS). */
export const connect = (url: string, options: http2.SecureClientSessionOptions = {}): Promise<http2.ClientHttp2Session> =>
  new Promise((resolve, reject) => {
    const session = http2.connect(url, options)
    const onError = (err: Error) => reject(err)
    session.once("error", onError)
    session.once("remoteSettings", () => {
      session.off("error", onError)
      session.on("error", () => {})
      resolve(session)
    })
  })

/** Closes a session gracefully; destroys it if it does not close within `ms`. */
export const closeSession = (session: http2.ClientHttp2Session, ms = 1000): Promise<void> =>
  new Promise((resolve) => {
    if (session.destroyed) return resolve()
    // A session whose stream was answered before its upload finished can end
    // up destroyed without ever emitting 'close' (node:http2 client): give up
    // waiting after `ms`.
    const timer = setTimeout(() => {
      session.destroy()
      resolve()
    }, ms)
    session.once("close", () => {
      clearTimeout(timer)
      resolve()
    })
    session.close()
  })

/**
 * Reads a client stream to its close: status, headers, the whole body and
 * the RST_STREAM code. Never rejects: a reset stream resolves with its code.
 */
export const collect = (stream: http2.ClientHttp2Stream): Promise<H2Result> =>
  new Promise((resolve) => {
    let status: number | undefined
    let headers: http2.IncomingHttpHeaders = {}
    let rawHeaders: ReadonlyArray<string> = []
    const chunks: Array<Buffer> = []
    stream.on("response", (h, _flags, raw) => {
      status = Number(h[":status"])
      headers = h
      rawHeaders = raw
    })
    stream.on("data", (c: Buffer) => chunks.push(c))
    stream.on("error", () => {})
    stream.on("close", () =>
      resolve({ status, headers, rawHeaders, body: Buffer.concat(chunks), rstCode: stream.rstCode, streamId: stream.id })
    )
  })

/** Waits until `stream` can take more (or is gone). */
const drained = (stream: http2.ClientHttp2Stream): Promise<void> =>
  new Promise((resolve) => {
    const done = () => {
      stream.off("drain", done)
      stream.off("close", done)
      resolve()
    }
    stream.on("drain", done)
    stream.on("close", done)
  })

/** Writes each chunk as a separate `write` (honouring backpressure), then ends the stream. */
export const writeChunks = async (stream: http2.ClientHttp2Stream, chunks: ReadonlyArray<Uint8Array>): Promise<void> => {
  for (const chunk of chunks) {
    if (stream.destroyed) return
    if (!stream.write(chunk)) await drained(stream)
  }
  if (!stream.destroyed) stream.end()
}

/**
 * One request: sends `headers` (object or raw `[name, value, …]` form), then
 * `body` chunk by chunk (none: END_STREAM on HEADERS), and collects the response.
 */
export const request = async (
  session: http2.ClientHttp2Session,
  headers: http2.OutgoingHttpHeaders | ReadonlyArray<string>,
  body?: ReadonlyArray<Uint8Array>
): Promise<H2Result> => {
  const stream = session.request(headers as http2.OutgoingHttpHeaders, { endStream: body === undefined })
  const result = collect(stream)
  if (body !== undefined) await writeChunks(stream, body)
  return result
}

/** Resolves once the client stream has its id (its HEADERS went out). */
export const ready = (stream: http2.ClientHttp2Stream): Promise<number> =>
  new Promise((resolve) => {
    if (stream.id !== undefined) return resolve(stream.id)
    stream.once("ready", () => resolve(stream.id!))
  })

/**
 * Resets a client stream with RST_STREAM CANCEL alone. (`stream.close(code)`
 * on a stream whose request is not ended first sends an empty DATA frame with
 * END_STREAM, so the server would see a complete body before the reset;
 * `destroy()` resets with NO_ERROR.)
 */
export const cancel = (stream: http2.ClientHttp2Stream): void => {
  const abort = new AbortController()
  addAbortSignal(abort.signal, stream)
  abort.abort()
}
