/**
 * Writes coalesced per turn of the event loop (src/runner/turn-cork.ts,
 * spec.md §8.7): one socket written at a time goes out at once; two
 * sockets written within 1 ms make the turn count its sockets, and the
 * turns after one that wrote to more than one cork each socket once,
 * however many writes it gets, until the turn's end; a turn with one
 * socket, or a quiet millisecond, ends it. What was written arrives whole
 * and in order; a socket destroyed in between is left alone, and one the
 * runner destroys or hands over gets what the turn wrote first.
 */
import { once } from "node:events"
import * as net from "node:net"
import { Writable } from "node:stream"
import { afterEach, describe, expect, it } from "vitest"
import { corkForTurn, destroyFlushed, flushTurn } from "../../src/runner/turn-cork.ts"

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

/** A scratch Writable that takes everything. */
const sink = (): Writable => new Writable({ write: (_c, _e, done) => done() })

/** Idle again (a turn that wrote to one socket ends coalescing), and past the 1 ms window. */
const idle = async (): Promise<void> => {
  const s = sink()
  corkForTurn(s)
  s.write("x")
  await turnEnd()
  await new Promise((r) => setTimeout(r, 5))
}

/** Busy: a turn that wrote to two sockets within 1 ms; the turn after this one corks. */
const busy = async (): Promise<void> => {
  await idle()
  const [s, t] = [sink(), sink()]
  corkForTurn(s)
  corkForTurn(t)
  corkForTurn(s)
  await turnEnd()
}

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
  it("one socket written at a time goes out at once, never corked", async () => {
    const a = await tracked()
    await idle()
    for (let i = 0; i < 3; i++) {
      corkForTurn(a.near)
      expect(a.near.writableCorked).toBe(0)
      a.near.write(`${i}`)
      await turnEnd()
    }
    await arrives(a, "012")
  })

  it("two sockets written within 1 ms: that turn counts its sockets and corks none; the turns after one that wrote to more than one cork every socket once until their end; the writes arrive whole, in order", async () => {
    const a = await tracked()
    const b = await tracked()
    await idle()
    corkForTurn(a.near)
    a.near.write("one,")
    corkForTurn(b.near)
    b.near.write("other,")
    corkForTurn(a.near)
    a.near.write("two,")
    expect(a.near.writableCorked + b.near.writableCorked).toBe(0)
    await turnEnd()
    // That turn wrote to two: this one corks both, once each.
    corkForTurn(a.near)
    a.near.write("three")
    expect(a.near.writableCorked).toBe(1)
    corkForTurn(a.near)
    expect(a.near.writableCorked).toBe(1)
    expect(a.near.writableLength).toBe("three".length)
    corkForTurn(b.near)
    b.near.write("again")
    expect(b.near.writableCorked).toBe(1)
    await turnEnd()
    expect(a.near.writableCorked + b.near.writableCorked).toBe(0)
    expect(a.near.writableLength).toBe(0)
    // A turn that writes to one socket still corks, and ends the coalescing: the turn after writes at once.
    corkForTurn(a.near)
    expect(a.near.writableCorked).toBe(1)
    await turnEnd()
    corkForTurn(a.near)
    expect(a.near.writableCorked).toBe(0)
    await arrives(a, "one,two,three")
    await arrives(b, "other,again")
  })

  it("one connection alone stays uncorked, turn after turn, however close its writes, after another connection wrote once", async () => {
    const a = await tracked()
    const b = await tracked()
    await idle()
    let corkedTurns = 0
    for (let i = 0; i < 60; i++) {
      corkForTurn(a.near)
      if (i > 12) corkedTurns += a.near.writableCorked
      a.near.write(".")
      // One write on another connection, between two of this one's: at most a turn or two may cork, never the rest.
      if (i === 10) {
        corkForTurn(b.near)
        b.near.write("!")
      }
      await turnEnd()
    }
    expect(corkedTurns).toBe(0)
  })

  it("flushTurn hands over what the turn corked at once; the socket stays open", async () => {
    const a = await tracked()
    await busy()
    corkForTurn(a.near)
    a.near.write("before the hand-off")
    expect(a.near.writableCorked).toBe(1)
    flushTurn(a.near)
    expect(a.near.writableCorked).toBe(0)
    await arrives(a, "before the hand-off")
    await turnEnd()
  })

  it("leaves a socket destroyed within the turn alone, and uncorks the others", async () => {
    const a = await tracked()
    const b = await tracked()
    await busy()
    corkForTurn(a.near)
    a.near.write("lost")
    corkForTurn(b.near)
    b.near.write("kept")
    expect(b.near.writableCorked).toBe(1)
    a.near.destroy()
    await turnEnd()
    expect(b.near.writableCorked).toBe(0)
    await arrives(b, "kept")
  })

  it("end() within the turn flushes the socket at once", async () => {
    const a = await tracked()
    await busy()
    corkForTurn(a.near)
    a.near.write("last")
    expect(a.near.writableCorked).toBe(1)
    a.near.end()
    expect(a.near.writableCorked).toBe(0)
    await turnEnd()
    await arrives(a, "last")
  })

  it("destroyFlushed hands the kernel what the turn corked before it destroys the socket", async () => {
    const a = await tracked()
    await busy()
    corkForTurn(a.near)
    a.near.write("complete response;")
    a.near.write("cut")
    expect(a.near.writableCorked).toBe(1)
    destroyFlushed(a.near)
    expect(a.near.destroyed).toBe(true)
    await arrives(a, "complete response;cut")
    // The turn's end finds it gone from the set: nothing to uncork, nothing thrown.
    await turnEnd()
  })

  it("a socket whose uncork throws is destroyed alone: the others of its turn, and the next turn's, are flushed", async () => {
    const broken = sink()
    broken.on("error", () => {})
    broken.uncork = () => {
      throw new Error("uncork failed")
    }
    const a = await tracked()
    const b = await tracked()
    await busy()
    corkForTurn(broken)
    broken.write("x")
    corkForTurn(a.near)
    a.near.write("this turn")
    expect(a.near.writableCorked).toBe(1)
    await turnEnd()
    expect(broken.destroyed).toBe(true)
    expect(a.near.writableCorked).toBe(0)
    corkForTurn(b.near)
    b.near.write("next turn")
    corkForTurn(a.near)
    expect(b.near.writableCorked).toBe(1)
    await turnEnd()
    expect(b.near.writableCorked).toBe(0)
    await arrives(a, "this turn")
    await arrives(b, "next turn")
  })
})
