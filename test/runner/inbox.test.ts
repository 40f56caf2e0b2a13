/**
 * The waiting-receiver primitive behind every `receive` (src/runner/inbox.ts),
 * against a model: receivers get items in the order they started waiting,
 * one each; an interrupted receiver leaves its place and takes nothing, so
 * no item is lost; an item ready when nobody waits is taken at once.
 */
import { Deferred, Effect, Exit, Fiber } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { Inbox } from "../../src/runner/inbox.ts"

/**
 * `put` queues n items, waking the inbox after each; with `offer` each item
 * is offered first while the queue is empty, and only an item not taken is
 * queued and woken for (as a WebSocket session does).
 */
type Op =
  | { readonly op: "wait" }
  | { readonly op: "put"; readonly n: number; readonly offer: boolean }
  | { readonly op: "interrupt"; readonly k: number }

const ops = fc.array(
  fc.oneof(
    fc.constant<Op>({ op: "wait" }),
    fc.tuple(fc.integer({ min: 1, max: 3 }), fc.boolean()).map(([n, offer]): Op => ({ op: "put", n, offer })),
    fc.nat(5).map((k): Op => ({ op: "interrupt", k }))
  ),
  { maxLength: 60 }
)

/**
 * `take` as a fiber whose interrupts the inbox cannot see (its fiber lacks
 * effect 4's `_interruptedCause`, as another effect's would): it waits with
 * a canceler instead.
 */
const hiddenTake = <A>(inbox: Inbox<A>): Effect.Effect<A> =>
  Effect.suspend(() => {
    delete (Fiber.getCurrent() as { _interruptedCause?: unknown })._interruptedCause
    return inbox.take
  })

describe.each([
  ["seen", <A>(inbox: Inbox<A>) => inbox.take],
  ["not seen (a canceler)", hiddenTake]
])("Inbox, interrupts %s", (_, takeOf) => {
  it("hands items to waiting receivers oldest first, one each; an interrupted receiver loses nothing", () => {
    fc.assert(fc.property(ops, (script) => {
      const queue: Array<number> = []
      let waits = 0
      const inbox = new Inbox<number>({ poll: () => queue.shift(), onWait: () => void waits++ })
      const fibers: Array<Fiber.Fiber<number>> = []
      const got = new Map<number, number | "interrupted">()
      // The model: who waits, in order, and what each receiver got.
      const modelWaiting: Array<number> = []
      const modelQueue: Array<number> = []
      const modelGot = new Map<number, number | "interrupted">()
      let nextItem = 0
      let modelWaits = 0
      for (const step of script) {
        if (step.op === "wait") {
          const id = fibers.length
          const fiber = Effect.runFork(takeOf(inbox))
          fibers.push(fiber)
          fiber.addObserver((exit) => got.set(id, Exit.isSuccess(exit) ? exit.value : "interrupted"))
          if (modelWaiting.length === 0 && modelQueue.length > 0) modelGot.set(id, modelQueue.shift()!)
          else {
            modelWaiting.push(id)
            modelWaits++
          }
        } else if (step.op === "put") {
          for (let i = 0; i < step.n; i++) {
            modelQueue.push(nextItem)
            if (!(step.offer && queue.length === 0 && inbox.offer(nextItem))) {
              queue.push(nextItem)
              inbox.wake()
            }
            nextItem++
          }
          while (modelWaiting.length > 0 && modelQueue.length > 0) modelGot.set(modelWaiting.shift()!, modelQueue.shift()!)
        } else if (modelWaiting.length > 0) {
          const id = modelWaiting.splice(step.k % modelWaiting.length, 1)[0]!
          fibers[id]!.interruptUnsafe()
          modelGot.set(id, "interrupted")
        }
        expect(got).toEqual(modelGot)
        expect(queue).toEqual(modelQueue)
        expect(inbox.waiting).toBe(modelWaiting.length > 0)
        expect(waits).toBe(modelWaits)
      }
    }), { numRuns: 500 })
  })
})

/**
 * A receiver whose wait is interrupted (by the test) and which then waits in
 * its finalizer: its fiber has not ended, and its resume is spent. `end`
 * lets it end, and checks that it ended interrupted.
 */
const slowToEnd = <A>(inbox: Inbox<A>) => {
  const release = Deferred.makeUnsafe<void>()
  const fiber = Effect.runFork(inbox.take.pipe(Effect.onInterrupt(() => Deferred.await(release))))
  const end = (): void => {
    Deferred.doneUnsafe(release, Exit.void)
    expect(Exit.hasInterrupts(fiber.pollUnsafe()!)).toBe(true)
  }
  return { fiber, end }
}

/** A new receiver gets `item` at once. */
const takenAtOnce = <A>(inbox: Inbox<A>, item: A): void => expect(Effect.runFork(inbox.take).pollUnsafe()).toEqual(Exit.succeed(item))

describe("Inbox", () => {

  it("a receiver interrupted but not yet ended (its finalizer still runs) waits no more: nothing is taken from the source for it, and the next receiver gets the item", () => {
    const queue: Array<number> = []
    let polls = 0
    const inbox = new Inbox<number>({ poll: () => (polls++, queue.shift()) })
    const a = slowToEnd(inbox)
    a.fiber.interruptUnsafe()
    expect(a.fiber.pollUnsafe()).toBeUndefined()
    expect(inbox.waiting).toBe(false)
    queue.push(1)
    const before = polls
    inbox.wake()
    expect(polls).toBe(before)
    expect(queue).toEqual([1])
    takenAtOnce(inbox, 1)
    a.end()
  })

  it("offer passes over a receiver interrupted but not yet ended: to the next receiver if one waits, else not taken (the source queues it)", () => {
    const queue: Array<number> = []
    const inbox = new Inbox<number>({ poll: () => queue.shift() })
    const a = slowToEnd(inbox)
    const b = Effect.runFork(inbox.take)
    a.fiber.interruptUnsafe()
    expect(a.fiber.pollUnsafe()).toBeUndefined()
    expect(inbox.offer(1)).toBe(true)
    expect(b.pollUnsafe()).toEqual(Exit.succeed(1))
    // Nobody waits now but A, which is gone: the item is not taken, and nothing is held for a later receiver.
    expect(inbox.offer(2)).toBe(false)
    queue.push(2)
    takenAtOnce(inbox, 2)
    a.end()
  })

  it("an item offered before its receiver has run (from the source's onWait, while the receiver registers) is held for it, and taken when it runs", () => {
    let offered: Array<boolean> = []
    const inbox: Inbox<number> = new Inbox<number>({
      poll: () => undefined,
      onWait: () => {
        if (offered.length === 0) offered = [inbox.offer(1), inbox.offer(2)]
      }
    })
    const a = Effect.runFork(inbox.take)
    // The first is A's; the second finds the first still held (A has not run yet) and is not taken.
    expect(offered).toEqual([true, false])
    expect(a.pollUnsafe()).toEqual(Exit.succeed(1))
    expect(inbox.waiting).toBe(false)
  })

  it("receivers that lose a race to a timeout leave nothing waiting, and the next receiver gets the next item", async () => {
    const queue: Array<number> = []
    const inbox = new Inbox<number>({ poll: () => queue.shift() })
    for (let i = 0; i < 100; i++) {
      const lost = await Effect.runPromise(Effect.timeoutOption(inbox.take, 0))
      expect(lost._tag).toBe("None")
      expect(inbox.waiting).toBe(false)
    }
    const next = Effect.runFork(inbox.take)
    queue.push(7)
    inbox.wake()
    expect(next.pollUnsafe()).toEqual(Exit.succeed(7))
  })
})
