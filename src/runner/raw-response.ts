/**
 * A whole HTTP/1.1 response written on a raw socket, for the answers the
 * runner gives before or outside node:http's response object: a request
 * node's parser refused (400, 408, 431), a WebSocket handshake denied or
 * refused (RFC 9112 §4, §6.2). Always `connection: close`.
 */
import { STATUS_CODES } from "node:http"
import type { Socket } from "node:net"
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

const ignore = (): void => {}

/**
 * Writes `response` (a whole raw response, Latin-1 text or bytes) on a
 * socket node:http let go of, and closes the connection: what the client
 * sends meanwhile is read and dropped, so that the close is a FIN and not a
 * reset that could cost a slow reader the end of the response (RFC 9112
 * §9.6). Once the response is handed to the kernel, the client has
 * `lingerMs` (ms) to close its side, however much it keeps sending; then
 * the connection is closed (the kernel still delivers what it holds).
 * Until then no timer runs: a response larger than the socket's buffers
 * waits for a client that reads it, however slowly.
 */
export const endRaw = (socket: Socket, response: string | Uint8Array, lingerMs: number): void => {
  socket.on("error", ignore)
  socket.resume()
  socket.end(typeof response === "string" ? Buffer.from(response, "latin1") : response, () => {
    const deadline = setTimeout(() => socket.destroy(), lingerMs)
    deadline.unref()
    socket.once("close", () => clearTimeout(deadline))
  })
}

/** How long (ms) a connection the runner closed after a raw response may stay open on the client's side: `headerTimeout`, else 30 s. */
export const lingerOf = (opts: { readonly headerTimeout: number }): number => (opts.headerTimeout > 0 ? opts.headerTimeout : 30_000)
