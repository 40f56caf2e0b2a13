/**
 * The apps of Effect's floor (bench/effect-floor.ts, bench/in-process.ts):
 * one effect fiber per stream or WebSocket doing what EGI's example apps do,
 * on node's objects directly, with nothing of EGI in between. Each takes
 * only the methods it calls, so that the in-process benchmark's stand-ins
 * fit as node's streams and `ws` sockets do.
 */
import * as Effect from "effect/Effect"

/** examples/hello.ts's body, and the head raw node:http2 sends with it. */
export const hello = Buffer.from("Hello, world!")
export const helloHead = { ":status": 200, "content-type": "text/plain", "content-length": hello.length }
const first = Buffer.from("held\n")
const heldHead = { ":status": 200, "content-type": "text/plain" }

/** What the floor calls on an HTTP/2 server stream. */
export interface FloorStream {
  respond(headers: Record<string, string | number>): void
  write(chunk: Uint8Array): boolean
  end(chunk: Uint8Array): void
  once(event: "close", listener: () => void): unknown
}

/** examples/hello.ts's two events as two calls: the head, then the body that ends the stream. */
export const helloFiber = Effect.fnUntraced(function*(stream: FloorStream) {
  yield* Effect.sync(() => stream.respond(helloHead))
  yield* Effect.sync(() => stream.end(hello))
})

/** bench/hold-app.ts: the head and a first chunk, then a wait until the stream closes. */
export const holdFiber = Effect.fnUntraced(function*(stream: FloorStream) {
  yield* Effect.sync(() => stream.respond(heldHead))
  yield* Effect.sync(() => stream.write(first))
  yield* Effect.callback<void>((resume) => void stream.once("close", () => resume(Effect.void)))
})

/** What the floor calls on a `ws` WebSocket. */
export interface FloorSocket {
  on(event: "message", listener: (data: Buffer) => void): unknown
  on(event: "close", listener: () => void): unknown
  send(data: Buffer, options: { readonly binary: boolean }): void
}

/** examples/ws-echo.ts on one connection: each message waited for, then sent back; the close ends it. */
export const echoFiber = Effect.fnUntraced(function*(ws: FloorSocket) {
  const queued: Array<Buffer | undefined> = []
  let waiter: ((next: Effect.Effect<Buffer | undefined>) => void) | undefined
  const arrive = (message: Buffer | undefined): void => {
    const resume = waiter
    waiter = undefined
    if (resume === undefined) queued.push(message)
    else resume(Effect.succeed(message))
  }
  ws.on("message", (data: Buffer) => arrive(data))
  ws.on("close", () => arrive(undefined))
  const next = Effect.callback<Buffer | undefined>((resume) => {
    if (queued.length > 0) resume(Effect.succeed(queued.shift()))
    else waiter = resume
  })
  while (true) {
    const message = yield* next
    if (message === undefined) return
    yield* Effect.sync(() => ws.send(message, { binary: false }))
  }
})
