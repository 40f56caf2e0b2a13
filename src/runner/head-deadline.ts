/**
 * A connection's first-request deadline (spec.md §8.3, rules RUN-30,
 * RUN-31): one timer per accepted connection, armed at accept, that bounds
 * everything before its first request head is complete — the TLS handshake,
 * the cleartext protocol detection and the first HTTP/1.1 request head —
 * by the header timeout, counted from the accept. A total, not an
 * inactivity timer: trickling bytes does not push it back.
 *
 * HTTP/2 connections leave it once the protocol is known (their streams are
 * bounded by the idle rule, spec.md §8.3); HTTP/1.1 connections at their
 * first request (or upgrade, or CONNECT). Later HTTP/1.1 heads get the
 * same deadline from their first byte on the runner's own codec
 * (http1/connection.ts), and node:http's own header timeout once it serves
 * the connection.
 */
import type * as net from "node:net"

interface Deadline {
  readonly at: number
  readonly timer: NodeJS.Timeout
  /** Its listener on the socket's close, removed with it (a connection may arm one per request). */
  readonly onClose: () => void
}

const deadlines = new WeakMap<net.Socket, Deadline>()

/**
 * Arms `socket`'s deadline: `onExpire(socket)` runs `ms` milliseconds from
 * now unless `clearDeadline` runs first or the socket closes. `ms` ≤ 0:
 * no deadline. A deadline already armed is replaced.
 */
export const armDeadline = (socket: net.Socket, ms: number, onExpire: (socket: net.Socket) => void): void => {
  clearDeadline(socket)
  if (ms <= 0) return
  const timer = setTimeout(() => {
    deadlines.delete(socket)
    if (!socket.destroyed) onExpire(socket)
  }, ms)
  timer.unref()
  const onClose = (): void => clearDeadline(socket)
  deadlines.set(socket, { at: Date.now() + ms, timer, onClose })
  socket.once("close", onClose)
}

/** Ms left of `socket`'s deadline (at least 1), or undefined when none is armed. */
export const deadlineLeft = (socket: net.Socket): number | undefined => {
  const d = deadlines.get(socket)
  return d === undefined ? undefined : Math.max(1, d.at - Date.now())
}

/** Disarms `socket`'s deadline, if any. */
export const clearDeadline = (socket: net.Socket): void => {
  const d = deadlines.get(socket)
  if (d === undefined) return
  clearTimeout(d.timer)
  socket.off("close", d.onClose)
  deadlines.delete(socket)
}

/**
 * Moves a deadline from one socket to another that wraps it (the TLS
 * socket over its TCP socket, after the handshake) with what is left of
 * it; nothing when `from` has none.
 */
export const moveDeadline = (from: net.Socket, to: net.Socket, onExpire: (socket: net.Socket) => void): void => {
  const left = deadlineLeft(from)
  clearDeadline(from)
  if (left !== undefined) armDeadline(to, left, onExpire)
}
