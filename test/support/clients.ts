/**
 * Test support: small clients over real sockets (raw HTTP/1.1 bytes, a
 * node:http2 request that reports how its stream ended) and bounded waits.
 */
import * as http2 from "node:http2"
import * as net from "node:net"

import { sleep } from "./async.ts"

export { sleep }

/** Polls `cond` every 5 ms; rejects with `what` after `ms`. */
export const until = async (cond: () => boolean, what: string, ms = 3000): Promise<void> => {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await sleep(5)
  }
}

export interface RawResult {
  /** Every byte received, latin-1. */
  readonly text: string
  /** The server closed the connection (FIN or RST) before the deadline. */
  readonly closed: boolean
  /** A socket error seen (e.g. ECONNRESET), if any. */
  readonly error: string | undefined
}

/**
 * Writes `parts` to a fresh TCP connection (each after `gapMs`) and collects
 * the reply until the server closes, `done(text)` is true, or `timeoutMs`.
 */
export const rawHttp = (
  port: number,
  parts: ReadonlyArray<string | Uint8Array>,
  options: { readonly done?: (text: string) => boolean; readonly timeoutMs?: number; readonly gapMs?: number } = {}
): Promise<RawResult> =>
  new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1")
    let text = ""
    let error: string | undefined
    let settled = false
    const finish = (closed: boolean): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.destroy()
      resolve({ text, closed, error })
    }
    const timer = setTimeout(() => finish(false), options.timeoutMs ?? 3000)
    socket.on("data", (d: Buffer) => {
      text += d.toString("latin1")
      if (options.done?.(text) === true) finish(false)
    })
    socket.on("error", (e: NodeJS.ErrnoException) => void (error = e.code ?? e.message))
    socket.on("close", () => finish(true))
    socket.on("connect", async () => {
      for (let i = 0; i < parts.length; i++) {
        if (i > 0 && (options.gapMs ?? 0) > 0) await sleep(options.gapMs!)
        if (socket.destroyed) return
        socket.write(parts[i]!)
      }
    })
  })

/** True once `text` holds one whole HTTP/1.1 response with a content-length. */
export const completeResponse = (text: string): boolean => {
  const head = text.indexOf("\r\n\r\n")
  if (head < 0) return false
  const m = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, head))
  return m !== null && text.length >= head + 4 + Number(m[1])
}

/** The status code of the first response in `text`, or undefined. */
export const statusOf = (text: string): number | undefined => {
  const m = /^HTTP\/1\.[01] (\d{3}) /.exec(text)
  return m === null ? undefined : Number(m[1])
}

/** The body after the first head in `text`. */
export const bodyOf = (text: string): string => {
  const head = text.indexOf("\r\n\r\n")
  return head < 0 ? "" : text.slice(head + 4)
}

export interface H2Outcome {
  readonly status: number | undefined
  readonly headers: http2.IncomingHttpHeaders | undefined
  readonly body: string
  /** The RST_STREAM code the stream closed with (0 = closed normally). */
  readonly rstCode: number | undefined
  /** The stream's 'error', e.g. ERR_HTTP2_STREAM_ERROR. */
  readonly error: string | undefined
  /** The response ended normally (END_STREAM). */
  readonly ended: boolean
}

/** Runs one request on `session` and reports how the stream ended; never rejects. */
export const h2request = (
  session: http2.ClientHttp2Session,
  headers: http2.OutgoingHttpHeaders,
  body?: string | Uint8Array
): Promise<H2Outcome> =>
  new Promise((resolve) => {
    let status: number | undefined
    let head: http2.IncomingHttpHeaders | undefined
    let error: string | undefined
    let ended = false
    const chunks: Array<Buffer> = []
    let req: http2.ClientHttp2Stream
    try {
      req = session.request(headers, { endStream: body === undefined })
    } catch (e) {
      resolve({ status, headers: head, body: "", rstCode: undefined, error: (e as NodeJS.ErrnoException).code ?? String(e), ended })
      return
    }
    req.on("response", (h) => {
      head = h
      status = Number(h[":status"])
    })
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => void (ended = true))
    req.on("error", (e: NodeJS.ErrnoException) => void (error = e.code ?? e.message))
    req.on("close", () =>
      resolve({ status, headers: head, body: Buffer.concat(chunks).toString("latin1"), rstCode: req.rstCode, error, ended })
    )
    if (body !== undefined) req.end(body)
  })

/** node:http2 session helpers, one implementation (test/support/h2client.ts). */
export { closeSession as h2close, connect as h2connect } from "./h2client.ts"

/** A TCP port on 127.0.0.1 that was free a moment ago (bound to 0 and released). */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const probe = net.createServer()
    probe.once("error", reject)
    probe.listen(0, "127.0.0.1", () => {
      const port = (probe.address() as net.AddressInfo).port
      probe.close(() => resolve(port))
    })
  })
