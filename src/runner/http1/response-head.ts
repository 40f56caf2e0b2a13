/**
 * The HTTP/1.1 response head and body framing, as bytes for the socket
 * (RFC 9112 §4, §6, §7.1): the third piece of the runner's own HTTP/1.1
 * codec. Pure: the status line, the app's fields, the framing fields the
 * runner owns, and the chunked coding's frames.
 *
 * @since 0.7.0
 */
import { STATUS_CODES } from "node:http"
import type { Headers } from "../../protocol/headers.ts"
import { FRAMING_FIELDS } from "../raw-response.ts"

/**
 * How a response body is delimited on the wire (RFC 9112 §6.3): not at all
 * (1xx, 204, 304, or a HEAD's), by `content-length`, by the chunked coding
 * (HTTP/1.1 without a length), or by closing the connection (HTTP/1.0
 * without a length).
 *
 * @since 0.7.0
 * @category models
 */
export type ResponseFraming =
  | { readonly kind: "none"; readonly length: number }
  | { readonly kind: "length"; readonly length: number }
  | { readonly kind: "chunked" }
  | { readonly kind: "close" }


/**
 * The framing of a response to a `method` request over `httpVersion`, with
 * the body's length in bytes when the app declared it or sent it whole
 * (`length`, else -1). A HEAD response and a 304 keep the length a GET
 * would get (RFC 9110 §8.6) but carry no body; 1xx and 204 have neither.
 *
 * @since 0.7.0
 */
export const responseFraming = (status: number, method: string, httpVersion: "1.0" | "1.1", length: number): ResponseFraming => {
  if (status < 200 || status === 204) return { kind: "none", length: -1 }
  if (method === "HEAD" || status === 304) return { kind: "none", length }
  if (length >= 0) return { kind: "length", length }
  return httpVersion === "1.1" ? CHUNKED : CLOSE
}

const CHUNKED: ResponseFraming = Object.freeze({ kind: "chunked" })
const CLOSE: ResponseFraming = Object.freeze({ kind: "close" })

/**
 * The app asked for the connection to close after this response (its own
 * `connection: close`, RFC 9112 §9.6).
 *
 * @since 0.7.0
 */
export const asksToClose = (headers: Headers): boolean => {
  for (let i = 0; i < headers.length; i++) {
    const h = headers[i]!
    if (h[0] === "connection" && h[1].toLowerCase().split(",").some((o) => o.trim() === "close")) return true
  }
  return false
}

/**
 * The response head as a latin1 string: the status line with its standard
 * reason phrase (an interim 1xx response: only that and the app's fields), the app's fields (names lower-case, values checked by the
 * protocol core, spec.md §5) but the runner's own (`content-length`,
 * `transfer-encoding`, `connection`, `keep-alive`), a `date` unless the
 * app sent one (RFC 9110 §6.6.1), then the framing and the connection's
 * fate: `content-length` or `transfer-encoding: chunked`, and
 * `connection: keep-alive` with `keep-alive: timeout=N` (`keepAliveS`,
 * seconds) or `connection: close`.
 *
 * @since 0.7.0
 */
export const responseHead = (
  status: number,
  headers: Headers,
  framing: ResponseFraming,
  keepAlive: boolean,
  keepAliveS: number,
  date: string
): string => {
  let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? "Unknown"}\r\n`
  let dated = false
  for (let i = 0; i < headers.length; i++) {
    const h = headers[i]!
    const name = h[0]
    if (FRAMING_FIELDS.has(name)) continue
    if (name === "date") dated = true
    head += `${name}: ${h[1]}\r\n`
  }
  // An interim response (103 Early Hints) is only its fields.
  if (status < 200) return head + "\r\n"
  if (!dated) head += `date: ${date}\r\n`
  switch (framing.kind) {
    case "length":
      head += `content-length: ${framing.length}\r\n`
      break
    case "none":
      if (framing.length >= 0) head += `content-length: ${framing.length}\r\n`
      break
    case "chunked":
      head += "transfer-encoding: chunked\r\n"
      break
    case "close":
      keepAlive = false
      break
  }
  head += keepAlive
    ? keepAliveS > 0 ? `connection: keep-alive\r\nkeep-alive: timeout=${keepAliveS}\r\n` : "connection: keep-alive\r\n"
    : "connection: close\r\n"
  return head + "\r\n"
}

/**
 * The frame of one chunk of `size` bytes (RFC 9112 §7.1): the size line to
 * write before the data; `CRLF` goes after it. No frame for an empty chunk
 * (it would end the body).
 *
 * @since 0.7.0
 */
export const chunkHeader = (size: number): string => `${size.toString(16)}\r\n`

/** What follows a chunk's data. */
export const CRLF = "\r\n"

/**
 * The end of a chunked body: the last chunk, the trailer fields
 * (`trailers`, names lower-case, checked by the protocol core) and the
 * empty line (RFC 9112 §7.1.2).
 *
 * @since 0.7.0
 */
export const lastChunk = (trailers: Headers): string => {
  let out = "0\r\n"
  for (let i = 0; i < trailers.length; i++) out += `${trailers[i]![0]}: ${trailers[i]![1]}\r\n`
  return out + "\r\n"
}
