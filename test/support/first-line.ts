/**
 * Test support: HTTP/1.1 exchanges on a raw socket (node:net), for
 * answers a client library would not show as sent (a 101, a refusal), and
 * a client that keeps its side open after the answer.
 */
import * as net from "node:net"

/** Sends `request` to 127.0.0.1:`port` and resolves with the first line of the answer (its status line); the socket is then destroyed. */
export const firstLine = (port: number, request: string): Promise<string> =>
  new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1", () => socket.write(request))
    let text = ""
    socket.on("data", (chunk) => {
      text += chunk.toString("latin1")
      const end = text.indexOf("\r\n")
      if (end >= 0) {
        resolve(text.slice(0, end))
        socket.destroy()
      }
    })
    socket.on("error", reject)
  })

/**
 * A client that keeps its side of the connection open after the answer
 * (half-open): resolves with the answer's first line once the server has
 * closed its side (FIN); `socket` stays open until the test destroys it.
 * `errors` lists the socket's errors (a reset from the server shows as
 * ECONNRESET); `closed` settles when the server ended the connection for
 * good (with `trickleMs`, the client writes a byte that often, so only a
 * reset can end it).
 */
export const halfOpenClient = (
  port: number,
  request: string | Uint8Array,
  trickleMs?: number
): { socket: net.Socket; answer: Promise<string>; errors: Array<string>; closed: Promise<void> } => {
  const socket = net.connect({ port, host: "127.0.0.1", allowHalfOpen: true }, () => socket.write(request))
  let text = ""
  const errors: Array<string> = []
  socket.on("error", (error: NodeJS.ErrnoException) => void errors.push(error.code ?? error.message))
  const closed = new Promise<void>((resolve) => socket.on("close", () => resolve()))
  const answer = new Promise<string>((resolve, reject) => {
    socket.on("data", (chunk) => void (text += chunk.toString("latin1")))
    socket.on("end", () => resolve(text.slice(0, text.indexOf("\r\n"))))
    socket.on("close", () => reject(new Error(`closed before its answer ended: ${errors.join(", ")}`)))
  })
  if (trickleMs !== undefined) {
    const timer = setInterval(() => void (socket.writable && socket.write("x")), trickleMs)
    socket.on("close", () => clearInterval(timer))
  }
  return { socket, answer, errors, closed }
}
