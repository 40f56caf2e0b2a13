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
import { Writable } from "node:stream"
import { corkForTurn, destroyFlushed } from "../../src/runner/turn-cork.ts"

/** A connected pair of TCP sockets on 127.0.0.1, and what the far side reads. */
const pair = async (): Promise<{ readonly near: net.Socket; readonly received: () => string; readonly close: () => void }> => {
  const server = net.createServer()
  server.listen(0, "127.0.0.1")
  await once(server, "listening")
  const { port } = server.address() as net.AddressInfo
  const accepted = once(server, "connection")
  const near = net.connect(port, "127.0.0.1")
  await once(near, "connect")
  const [far] = (await accepted) as [net.Socket]
  let text = ""
  far.setEncoding("latin1")
  far.on("data", (d: string) => {
    text += d
  })
  return {
    near,
    received: () => text,
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

/** A socket pair closed after the test. */
const tracked = async () => {
  const p = await pair()
  closers.push(p.close)
  return p
}

/** Waits until `p`'s far side has read `text.length` characters, then checks them. */
const arrives = async (p: { readonly received: () => string }, text: string): Promise<void> => {
  while (p.received().length < text.length) await new Promise((r) => setTimeout(r, 5))
  expect(p.received()).toBe(text)
}

describe("corkForTurn", () => {
  it("corks a socket once in a turn and uncorks it at the turn's end; the writes arrive whole, in order", async () => {
    const a = await tracked()
    const b = await tracked()
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
    await arrives(a, "one,two")
    await arrives(b, "other")
  })

  it("corks again in the next turn", async () => {
    const a = await tracked()
    corkForTurn(a.near)
    a.near.write("x")
    await turnEnd()
    corkForTurn(a.near)
    expect(a.near.writableCorked).toBe(1)
    a.near.write("y")
    await turnEnd()
    expect(a.near.writableCorked).toBe(0)
    await arrives(a, "xy")
  })

  it("leaves a socket destroyed within the turn alone, and uncorks the others", async () => {
    const a = await tracked()
    const b = await tracked()
    corkForTurn(a.near)
    a.near.write("lost")
    corkForTurn(b.near)
    b.near.write("kept")
    a.near.destroy()
    await turnEnd()
    expect(b.near.writableCorked).toBe(0)
    await arrives(b, "kept")
  })

  it("end() within the turn flushes the socket at once", async () => {
    const a = await tracked()
    corkForTurn(a.near)
    a.near.write("last")
    a.near.end()
    expect(a.near.writableCorked).toBe(0)
    await turnEnd()
    await arrives(a, "last")
  })

  it("destroyFlushed hands the kernel what the turn corked before it destroys the socket", async () => {
    const a = await tracked()
    corkForTurn(a.near)
    a.near.write("complete response;")
    a.near.write("cut")
    destroyFlushed(a.near)
    expect(a.near.destroyed).toBe(true)
    await arrives(a, "complete response;cut")
    // The turn's end finds it gone from the set: nothing to uncork, nothing thrown.
    await turnEnd()
  })

  it("a socket whose uncork throws is destroyed alone: the others of its turn, and the next turn's, are flushed", async () => {
    const broken = new Writable({ write: (_c, _e, done) => done() })
    broken.on("error", () => {})
    broken.uncork = () => {
      throw new Error("uncork failed")
    }
    const a = await tracked()
    corkForTurn(broken)
    broken.write("x")
    corkForTurn(a.near)
    a.near.write("this turn")
    await turnEnd()
    expect(broken.destroyed).toBe(true)
    const b = await tracked()
    corkForTurn(b.near)
    b.near.write("next turn")
    await turnEnd()
    expect(b.near.writableCorked).toBe(0)
    await arrives(a, "this turn")
    await arrives(b, "next turn")
  })
})
