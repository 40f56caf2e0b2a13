/**
 * Writes coalesced per turn of the event loop (spec.md §8.7): while the
 * server is busy, the first write a socket gets in a turn corks it, and
 * every socket corked so far is uncorked at the turn's end (one
 * `setImmediate`, after the poll phase has run the callbacks of every
 * socket that was readable). What a turn wrote to one socket goes out as
 * one write, in order, and the writes to all sockets go out back to back
 * instead of one between the handling of each request and the next.
 *
 * Why: a write to a socket whose peer sleeps pays for waking it, and on
 * the shared machines EGI is measured on that costs more than the request.
 * Back-to-back writes wake a peer once. Measured (pinned A/B, HTTP/1.1
 * hello, h2load -c 16, 7 rounds, same run): server CPU per request 25.0
 * → 22.0 µs (raw node:http 23.25); an HttpRouter app 29.75 → 24.25 µs.
 * Uncorking at the next tick instead (as node:http does for a response)
 * gains nothing: 25.75 µs against 25.75 before (same run). HTTP/2 sessions
 * batch their frames per turn in nghttp2; uWebSockets corks per turn.
 *
 * Only while the server is busy. When two sockets are written within 1 ms
 * of each other, the turn counts the sockets it writes to (corking none);
 * the next turn corks if that one wrote to more than one, and so on, turn
 * by turn, until a turn writes to one socket only (after a quiet spell
 * the first turn that writes is that turn: corked, at the cost of one
 * check phase, and the last). A server writing to one socket at
 * a time (one client, or one connection's pipelined responses) writes at
 * once: there is nothing to coalesce, and the response would wait for the
 * check phase, and the loop turn once more, for nothing (one sequential
 * client, h2load -c 1: mean 52 µs a request when every turn corked, 49
 * as here, 48 before the cork).
 *
 * A corked response waits at most for the rest of its turn — which
 * includes the synchronous work the turn's other callbacks do, for other
 * connections too (node:http's own cork ends with the current callback).
 * Backpressure is unchanged: `write` still returns false past the
 * high-water mark, and `drain` follows the flush. `end()` flushes a corked
 * socket at once; a socket the runner destroys goes through
 * {@link destroyFlushed}, so that what the turn wrote before reaches the
 * kernel first, as it did when each write went out at once.
 *
 * @since 0.9.0
 */
import type { Writable } from "node:stream"
import { performance } from "node:perf_hooks"

const corked = new Set<Writable>()
/**
 * `idle`: writes go out at once. `probing`: two sockets were written
 * within 1 ms; this turn counts its sockets and corks none. `busy`: the
 * last turn wrote to more than one socket; this one corks.
 */
let mode: "idle" | "probing" | "busy" = "idle"
/** The socket written last (kept across turns, so that one connection alone never looks like a switch). */
let lastWritten: Writable | undefined = undefined
/** Idle: when the written socket last changed (`performance.now()`, ms). */
let lastAt = -Infinity
/** Probing or busy: the turn's end is scheduled, and the sockets written to in this turn, counted while they change (A, B, A counts 3: more than one is all that matters). */
let turnOpen = false
let written = 0

/**
 * The turn's end: uncorks the turn's sockets, and corks the next turn only
 * if this one wrote to more than one. Each socket leaves the set before
 * its uncork, so that a socket whose flush throws (none is known to) is
 * destroyed alone and cannot leave the others, or the next turns'
 * sockets, corked.
 */
const endTurn = (): void => {
  turnOpen = false
  mode = written > 1 ? "busy" : "idle"
  written = 0
  for (const socket of corked) {
    corked.delete(socket)
    if (socket.destroyed) continue
    try {
      socket.uncork()
    } catch (error) {
      try {
        socket.destroy(error instanceof Error ? error : new Error(String(error)))
      } catch {
        // Nothing more can be done for this socket; the others still get their flush.
      }
    }
  }
}

/** Opens the current turn for counting: its end is scheduled, `socket` is its first. */
const openTurn = (): void => {
  turnOpen = true
  written = 1
  setImmediate(endTurn)
}

/**
 * Call before writing to `socket`: while the server is busy, corks it
 * until the end of the current turn of the event loop, once per turn
 * however often it is called.
 *
 * @since 0.9.0
 * @category writing
 */
export const corkForTurn = (socket: Writable): void => {
  if (socket !== lastWritten) {
    lastWritten = socket
    if (turnOpen) written += 1
    else if (mode === "idle") {
      const now = performance.now()
      if (now - lastAt < 1) {
        mode = "probing"
        openTurn()
      }
      lastAt = now
    }
  }
  if (mode !== "busy") return
  if (!turnOpen) openTurn()
  if (corked.has(socket)) return
  socket.cork()
  corked.add(socket)
}

/**
 * Hands the kernel now what this turn corked on `socket`: before the
 * socket changes hands (the own HTTP/1.1 codec giving a connection to
 * node:http, whose own paths destroy it with a plain `destroy()`).
 *
 * @since 0.9.0
 * @category writing
 */
export const flushTurn = (socket: Writable): void => {
  if (corked.delete(socket) && !socket.destroyed) socket.uncork()
}

/**
 * Destroys `socket` after handing the kernel what this turn corked on it:
 * the runner's way to cut a connection (a reset, a client gone mid-request,
 * the idle timeout) without dropping the responses written before the cut
 * in the same turn — a pipelined response already complete, or the head
 * and first bytes that tell the client a response was cut short.
 *
 * @since 0.9.0
 * @category writing
 */
export const destroyFlushed = (socket: Writable): void => {
  flushTurn(socket)
  socket.destroy()
}
