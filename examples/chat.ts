/**
 * A chat room: every text message a WebSocket sends goes to every connected
 * WebSocket, whether it came over HTTP/1.1 Upgrade or HTTP/2 (RFC 8441) —
 * one room for both. `GET /` answers with the number of members.
 *
 *     npx egi serve examples/chat.ts
 *     # connect several clients to ws://127.0.0.1:8000/ and type
 *
 * The room is an Effect service (`ChatRoom`). The module exports its Layer
 * as `layer`: `egi serve` builds it once before the server starts and
 * closes it after the shutdown, so every connection's fiber sees the same
 * room, and the room's finalizer — it says goodbye to whoever is left and
 * shuts every mailbox — runs after the drain, not before. Each member has
 * a sliding mailbox: a member that does not keep up loses its oldest
 * messages instead of slowing the room down.
 */
import { Context, Effect, Fiber, Layer, Queue } from "effect"
import { type EgiScope, type Receive, type Send, unsupportedScope } from "../src/index.ts"

/** How many undelivered messages a member may have before the oldest are dropped. */
const MAILBOX = 256

/** The room's interface: join (a mailbox for this member), leave, broadcast. */
export interface Room {
  readonly join: Effect.Effect<Queue.Queue<string>>
  readonly leave: (mailbox: Queue.Queue<string>) => Effect.Effect<void>
  readonly broadcast: (text: string) => Effect.Effect<void>
  readonly size: Effect.Effect<number>
}

/** The shared room, as a service. */
export class ChatRoom extends Context.Service<ChatRoom, Room>()("examples/ChatRoom") {
  /** One room for the whole server; closing it says goodbye to the members left and shuts their mailboxes. */
  static readonly layer = Layer.effect(ChatRoom)(
    Effect.gen(function*() {
      const members = new Set<Queue.Queue<string>>()
      yield* Effect.addFinalizer(() =>
        Effect.gen(function*() {
          yield* Effect.forEach(members, (m) => Effect.andThen(Queue.offer(m, "* the room is closing"), Queue.shutdown(m)), { discard: true })
          yield* Effect.logInfo(`chat room closed (${members.size} still here)`)
        })
      )
      const room: Room = {
        join: Effect.tap(Queue.sliding<string>(MAILBOX), (mailbox) => Effect.sync(() => void members.add(mailbox))),
        leave: (mailbox) => Effect.andThen(Effect.sync(() => void members.delete(mailbox)), Queue.shutdown(mailbox)),
        broadcast: (text) => Effect.forEach(members, (m) => Queue.offer(m, text), { discard: true }),
        size: Effect.sync(() => members.size)
      }
      return room
    })
  )
}

/** One connection: forwards its mailbox to the client while it broadcasts what the client says. */
const member = (receive: Receive, send: Send) =>
  Effect.gen(function*() {
    const room = yield* ChatRoom
    const mailbox = yield* room.join
    const forward = yield* Effect.forkChild(
      Effect.forever(Effect.flatMap(Queue.take(mailbox), (text) => send({ type: "websocket.send", text })))
    )
    yield* room.broadcast(`* someone joined (${yield* room.size} here)`)
    while (true) {
      const event = yield* receive
      if (event.type === "websocket.disconnect") break
      if (event.type === "websocket.receive" && event.text !== undefined) yield* room.broadcast(event.text)
    }
    yield* Fiber.interrupt(forward)
    yield* room.leave(mailbox)
    yield* room.broadcast(`* someone left (${yield* room.size} here)`)
  })

/** The app: requires the `ChatRoom` service, which `layer` provides. */
const app = (scope: EgiScope, receive: Receive, send: Send) =>
  Effect.gen(function*() {
    if (scope.type === "http") {
      const room = yield* ChatRoom
      yield* send({ type: "http.response.start", status: 200, headers: [["content-type", "text/plain"]] })
      return yield* send({ type: "http.response.body", body: new TextEncoder().encode(`${yield* room.size} in the room\n`) })
    }
    if (scope.type !== "websocket") return yield* unsupportedScope(scope)
    yield* receive // websocket.connect
    yield* send({ type: "websocket.accept" })
    yield* member(receive, send)
  })

export default app

/** What the app requires: `egi serve` provides it (built once per server run, closed after the shutdown). */
export const layer = ChatRoom.layer
