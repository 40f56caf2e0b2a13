/**
 * The head deadline (src/runner/head-deadline.ts, RUN-31): armed and
 * cleared once per request on a long keep-alive connection, it leaves no
 * listener behind on the socket.
 */
import { EventEmitter } from "node:events"
import type * as net from "node:net"
import { describe, expect, it } from "vitest"
import { armDeadline, clearDeadline, deadlineLeft } from "../../src/runner/head-deadline.ts"

describe("the head deadline", () => {
  it("RUN-31: armed and cleared 500 times (one per request), it keeps at most one close listener on the socket", () => {
    const socket = Object.assign(new EventEmitter(), { destroyed: false }) as unknown as net.Socket
    for (let i = 0; i < 500; i++) {
      armDeadline(socket, 10_000, () => {})
      clearDeadline(socket)
    }
    armDeadline(socket, 10_000, () => {})
    expect(socket.listenerCount("close")).toBe(1)
    expect(deadlineLeft(socket)).toBeGreaterThan(0)
    socket.emit("close")
    expect(deadlineLeft(socket)).toBeUndefined()
    expect(socket.listenerCount("close")).toBe(0)
  })
})
