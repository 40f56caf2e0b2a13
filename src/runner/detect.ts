/**
 * Protocol detection on a cleartext listener (spec.md §8.1): HTTP/2 with
 * prior knowledge starts with the connection preface (RFC 9113 §3.4), which
 * no HTTP/1.x request line can start with.
 *
 * The bytes read to decide are put back with `unshift`. node:http2 drains a
 * socket's readable buffer into its native session (`receive`) right after it
 * takes the socket, and node:http's parser reads them through `data` once the
 * socket is resumed, so both protocols keep the native socket handle: no JS
 * Duplex in the data path, native speed after the first read.
 */
import type * as net from "node:net"

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1")

/** `h2c` when `bytes` start the preface, `http/1.1` when they cannot, `undefined` while undecided. */
export const decide = (bytes: Uint8Array): "h2c" | "http/1.1" | undefined => {
  const n = Math.min(bytes.length, PREFACE.length)
  for (let i = 0; i < n; i++) if (bytes[i] !== PREFACE[i]) return "http/1.1"
  return n === PREFACE.length ? "h2c" : undefined
}

/**
 * Reads from a socket created with `pauseOnConnect` until its protocol is
 * known, puts the bytes back, pauses it and calls `then`. A socket that
 * closes, errors, or sends too few bytes to decide within `timeoutMs` is
 * destroyed and `then` is not called.
 */
export const classify = (socket: net.Socket, timeoutMs: number, then: (protocol: "h2c" | "http/1.1") => void): void => {
  let seen: Buffer | undefined
  const onData = (chunk: Buffer): void => {
    seen = seen === undefined ? chunk : Buffer.concat([seen, chunk])
    const protocol = decide(seen)
    if (protocol === undefined) return
    socket.pause()
    cleanup()
    socket.unshift(seen)
    then(protocol)
  }
  const onGone = (): void => {
    cleanup()
    socket.destroy()
  }
  const timer = timeoutMs > 0 ? setTimeout(onGone, timeoutMs) : undefined
  const cleanup = (): void => {
    if (timer !== undefined) clearTimeout(timer)
    socket.off("data", onData)
    socket.off("error", onGone)
    socket.off("end", onGone)
  }
  socket.on("data", onData)
  socket.on("error", onGone)
  socket.on("end", onGone)
  socket.resume()
}
