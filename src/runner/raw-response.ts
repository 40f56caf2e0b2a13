/**
 * A whole HTTP/1.1 response written on a raw socket, for the answers the
 * runner gives before or outside node:http's response object: a request
 * node's parser refused (400, 408, 431), a WebSocket handshake denied or
 * refused (RFC 9112 §4, §6.2). Always `connection: close`.
 */
import { STATUS_CODES } from "node:http"
import type { Headers } from "../protocol/headers.ts"

/**
 * Fields that frame the message or the connection: on HTTP/1.1 the
 * runner writes its own, whatever the app sent (RFC 9112 §6, §9.6; RFC
 * 9110 §7.6.1) — here and in its own codec's response head.
 */
export const FRAMING_FIELDS: ReadonlySet<string> = new Set(["content-length", "transfer-encoding", "connection", "keep-alive"])

/**
 * The response head: status line with the standard reason phrase, `headers`
 * without framing fields (`content-length`, `transfer-encoding`,
 * `connection`, `keep-alive`), then `content-length: bodyLength` and
 * `connection: close` — one of each, whatever `headers` held.
 */
export const rawHead = (status: number, headers: Headers, bodyLength: number): string =>
  `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? "Error"}\r\n` +
  headers.filter(([n]) => !FRAMING_FIELDS.has(n)).map(([n, v]) => `${n}: ${v}\r\n`).join("") +
  `content-length: ${bodyLength}\r\nconnection: close\r\n\r\n`

/** A complete plain-text error response: the head and the reason phrase as the body. */
export const rawErrorResponse = (status: number): string => {
  const body = `${STATUS_CODES[status] ?? "Error"}\n`
  return rawHead(status, [["content-type", "text/plain"]], Buffer.byteLength(body)) + body
}
