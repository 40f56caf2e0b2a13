/**
 * Writes coalesced per turn of the event loop (src/runner/turn-cork.ts,
 * spec.md §8.7): a socket is corked once in a turn, however many writes
 * it gets, and uncorked at the turn's end with every other one; what was
 * written arrives whole and in order; a socket destroyed in between is
 * left alone.
 */
import { once } from "node:events"
import * as net from "node:net"
import { afterEach, describe, expect, it } from "vitest"
import { corkForTurn } from "../../src/runner/turn-cork.ts"

/** A connected pair of TCP sockets on 127.0.0.1, and what the far side reads. */
const pair = async (): Promise<{ readonly near: net.Socket; readonly received: () => string; readonly reads: () => number; readonly close: () => void }> => {
  const server = net.createServer()
  server.listen(0, "127.0.0.1")
  await once(server, "listening")
  const { port } = server.address() as net.AddressInfo
  const accepted = once(server, "connection")
  const near = net.connect(port, "127.0.0.1")
  await once(near, "connect")
  const [far] = (await accepted) as [net.Socket]
  let text = ""
  let reads = 0
  far.setEncoding("latin1")
  far.on("data", (d: string) => {
    text += d
    reads += 1
  })
  return {
    near,
    received: () => text,
    reads: () => reads,
    close: () => {
      near.destroy()
      far.destroy()
      server.close()
    }
  }
}

const turnEnd = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

const closers: Array<() => void> = []
afterEach(() => {
  for (const close of closers.splice(0)) close()
})

describe("corkForTurn", () => {
  it("corks a socket once in a turn and uncorks it at the turn's end; the writes arrive whole, in order", async () => {
    const a = await pair()
    const b = await pair()
    closers.push(a.close, b.close)
    corkForTurn(a.near)
    a.near.write("one,")
    corkForTurn(b.near)
    b.near.write("other")
    corkForTurn(a.near)
    a.near.write("two")
    // Held: nothing went to the kernel yet, and the second call did not cork again.
    expect(a.near.writableCorked).toBe(1)
    expect(b.near.writableCorked).toBe(1)
    expect(a.near.writableLength).toBe("one,two".length)
    await turnEnd()
    expect(a.near.writableCorked).toBe(0)
    expect(b.near.writableCorked).toBe(0)
    expect(a.near.writableLength).toBe(0)
    while (a.received().length < 7 || b.received().length < 5) await new Promise((r) => setTimeout(r, 5))
    expect(a.received()).toBe("one,two")
    expect(b.received()).toBe("other")
  })

  it("corks again in the next turn", async () => {
    const a = await pair()
    closers.push(a.close)
    corkForTurn(a.near)
    a.near.write("x")
    await turnEnd()
    corkForTurn(a.near)
    expect(a.near.writableCorked).toBe(1)
    a.near.write("y")
    await turnEnd()
    expect(a.near.writableCorked).toBe(0)
    while (a.received().length < 2) await new Promise((r) => setTimeout(r, 5))
    expect(a.received()).toBe("xy")
  })

  it("leaves a socket destroyed within the turn alone, and uncorks the others", async () => {
    const a = await pair()
    const b = await pair()
    closers.push(a.close, b.close)
    corkForTurn(a.near)
    a.near.write("lost")
    corkForTurn(b.near)
    b.near.write("kept")
    a.near.destroy()
    await turnEnd()
    expect(b.near.writableCorked).toBe(0)
    while (b.received().length < 4) await new Promise((r) => setTimeout(r, 5))
    expect(b.received()).toBe("kept")
  })

  it("end() within the turn flushes the socket at once", async () => {
    const a = await pair()
    closers.push(a.close)
    corkForTurn(a.near)
    a.near.write("last")
    a.near.end()
    expect(a.near.writableCorked).toBe(0)
    await turnEnd()
    while (a.received().length < 4) await new Promise((r) => setTimeout(r, 5))
    expect(a.received()).toBe("last")
  })
})
