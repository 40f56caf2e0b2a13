/**
 * The one waiting-receiver primitive behind every `receive` the runner and
 * the shim hand out (the http exchange, the WebSocket session, lifespan,
 * the shim's worker mail): `take` yields the next item `poll` has ready, or
 * waits; `wake()` hands ready items to the waiting receivers, oldest first.
 * An interrupted `take` leaves its place and loses nothing (its item stays
 * for the next receiver). Items are pulled, never pushed: `poll` decides
 * what is ready, so a producer that reads only when asked (the request
 * body's read credit, spec.md HTTP-11) keeps its backpressure.
 *
 * @since 0.4.0
 */
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"

type Resume<A> = (effect: Effect.Effect<A>) => void

/**
 * Where an inbox's items come from. `poll` returns the next ready item (and
 * consumes it) or `undefined`; `onWait`, when present, runs each time a
 * receiver starts waiting (e.g. to start listening to the source lazily).
 * An object rather than two callbacks, so that a long-lived owner (an
 * exchange, a session) can be its own source and a held stream keeps no
 * closures for it.
 *
 * @since 0.6.0
 * @category models
 */
export interface InboxSource<A> {
  poll(): A | undefined
  onWait?(): void
}

/**
 * A receiver waiting behind the first: its resume; the fiber that waits,
 * when its interrupts can be seen (below), to tell when it is gone; and
 * whether the wait was interruptible.
 */
interface Waiter<A> {
  readonly resume: Resume<A>
  readonly fiber: FiberState | undefined
  readonly interruptible: boolean
}

/**
 * What the inbox reads of a waiting fiber beyond effect's public API:
 * effect 4's fiber (FiberImpl) keeps an interrupt that has not ended it yet
 * in `_interruptedCause` and whether it can be interrupted now in
 * `interruptible`. A fiber without them (another effect) waits with a
 * canceler instead, as every fiber did before (the same guarantees, some
 * 300–400 instructions more per wait).
 */
type FiberState = Fiber.Fiber<unknown, unknown> & { readonly _interruptedCause: unknown; readonly interruptible: boolean }

const visible = (fiber: Fiber.Fiber<unknown, unknown> | undefined): fiber is FiberState =>
  fiber !== undefined && "_interruptedCause" in fiber && typeof (fiber as { interruptible?: unknown }).interruptible === "boolean"

/**
 * A waiting receiver that will never take an item: its fiber has ended, or
 * an interrupt is pending on it and its wait was interruptible — a fiber
 * interrupted while it waits leaves the wait, though it may go on running
 * its finalizers (a lost race, a timeout, an app's cleanup).
 */
const gone = (fiber: FiberState | undefined, interruptible: boolean): boolean =>
  fiber !== undefined && (fiber.pollUnsafe() !== undefined || (interruptible && fiber._interruptedCause !== undefined))

/** A receiver is passed over: it is gone, or its fiber is `waiting` now (a fiber waits in one place at a time, so its earlier wait is over). */
const passedOver = (fiber: FiberState | undefined, interruptible: boolean, waiting: FiberState | undefined): boolean =>
  (waiting !== undefined && fiber === waiting) || gone(fiber, interruptible)

/** Past this many receivers waiting behind the first, those that are gone are dropped before another joins. */
const REST_SWEEP = 16

/**
 * Receivers waiting for items that `poll` produces.
 *
 * A wait has no canceler. Effect gives a cancelable wait a finalizer of its
 * own each time (a closure and a primitive pushed on the fiber's stack and
 * popped at resumption: ~730 instructions per WebSocket message, a tenth
 * of it; bench/in-process.ts --instructions). Instead, a receiver that was
 * interrupted is known to be gone (see `gone`), or when the same fiber
 * waits again (a fiber waits in one place at a time), and it is passed
 * over then; and an item is handed over by resuming the receiver with an
 * Effect that takes it when the receiver's fiber runs it — Effect runs a
 * resumed fiber there and then, so the item is taken before `resume`
 * returns, or, when the receiver was gone all the same, stays `held` for
 * the next one. Either way nothing is lost.
 *
 * @since 0.4.0
 * @category models
 */
export class Inbox<A> {
  /**
   * The receiver waiting longest, if any, and its fiber; the others wait in
   * `rest`, oldest first. One waiter is the rule (an app awaiting
   * `receive`), and fields hold it for nothing where an array grown by
   * `push` holds 17 slots: a held stream's memory is mostly what it keeps
   * (issue 19).
   */
  private first: Resume<A> | undefined = undefined
  private firstFiber: FiberState | undefined = undefined
  private firstInterruptible = false
  private rest: Array<Waiter<A>> | undefined = undefined
  /** An item taken from the source for a receiver that turned out to be gone: the next receiver's. */
  private held: A | undefined = undefined
  private readonly source: InboxSource<A>

  constructor(source: InboxSource<A>) {
    this.source = source
  }

  /**
   * The next item: at once when one is ready and nobody waits before us,
   * else when `wake()` finds one. Its register function is a method bound
   * to the inbox, not a closure: a bound function is 48 bytes where a
   * closure with its context is 96, and a held stream keeps it (issue 19).
   */
  readonly take: Effect.Effect<A> = Effect.callback<A>(this.register.bind(this))

  /**
   * What a resumed receiver runs: the held item, or — should the fiber run
   * it later than its resumption, after another receiver took the item —
   * a new wait. Made at the first hand-over, kept for the next ones.
   */
  private handOver: Effect.Effect<A> | undefined = undefined

  private register(resume: Resume<A>): Effect.Effect<void> | void {
    // Effect calls a register function with the waiting fiber as the current one.
    const current = Fiber.getCurrent()
    const fiber = visible(current) ? current : undefined
    const interruptible = fiber !== undefined && fiber.interruptible
    this.passGone(fiber)
    if (this.first === undefined) {
      const item = this.next()
      if (item !== undefined) return resume(Effect.succeed(item))
      this.first = resume
      this.firstFiber = fiber
      this.firstInterruptible = interruptible
    } else {
      const rest = (this.rest ??= [])
      // A receiver that lost a race to a timeout is the last: a loop of timeouts beside a waiting receiver keeps none.
      for (let last = rest.at(-1); last !== undefined && passedOver(last.fiber, last.interruptible, fiber); last = rest.at(-1)) rest.pop()
      if (rest.length >= REST_SWEEP) this.rest = rest.filter((w) => !passedOver(w.fiber, w.interruptible, fiber))
      this.rest.push({ resume, fiber, interruptible })
    }
    this.source.onWait?.()
    // A fiber whose interrupts cannot be seen leaves its place when interrupted.
    if (fiber === undefined) return Effect.sync(() => this.leave(resume))
  }

  /** An interrupted receiver (whose interrupts cannot be seen) leaves its place; its item, if one was ready, stays for the next. */
  private leave(resume: Resume<A>): void {
    if (this.first === resume) this.shiftFirst()
    else if (this.rest !== undefined) {
      const i = this.rest.findIndex((w) => w.resume === resume)
      if (i >= 0) this.rest.splice(i, 1)
    }
  }

  /** The held item, else the source's next. */
  private next(): A | undefined {
    const held = this.held
    if (held === undefined) return this.source.poll()
    this.held = undefined
    return held
  }

  /** Passes over the first receivers while they are passed over (`waiting`: the fiber that waits now, if any). */
  private passGone(waiting: FiberState | undefined): void {
    while (this.first !== undefined && passedOver(this.firstFiber, this.firstInterruptible, waiting)) this.shiftFirst()
  }

  private shiftFirst(): void {
    const next = this.rest?.shift()
    this.first = next?.resume
    this.firstFiber = next?.fiber
    this.firstInterruptible = next?.interruptible ?? false
  }

  private takeHeld(): Effect.Effect<A> {
    const item = this.held
    if (item === undefined) return this.take
    this.held = undefined
    return Effect.succeed(item)
  }

  /** Hands ready items to waiting receivers, oldest first, while the source's `poll` has any. */
  wake(): void {
    for (;;) {
      this.passGone(undefined)
      const resume = this.first
      if (resume === undefined) return
      const item = this.next()
      if (item === undefined) return
      this.shiftFirst()
      this.held = item
      // Taken while `resume` runs; a receiver gone since leaves it held, and the loop offers it to the next.
      resume(this.handOver ??= Effect.suspend(this.takeHeld.bind(this)))
    }
  }

  /**
   * Hands `item` to the receiver waiting longest, as `wake` would once
   * `poll` returned it, without the source queuing it first: for a source
   * with nothing queued before `item` (a WebSocket's next message while
   * the app waits for it), which saves the queue's writes and `poll`'s
   * reads (measured: bench/in-process.ts --only ws). `false` when no
   * receiver waits: `item` is not taken, and the source queues it as
   * usual. (An item held already is never passed: a receiver that
   * registers takes it at once, so one is held only while none waits.)
   * A receiver that turned out to be gone leaves `item` held for the next.
   */
  offer(item: A): boolean {
    if (!this.waiting) return false
    this.held = item
    this.wake()
    return true
  }

  /** A receiver is waiting. */
  get waiting(): boolean {
    this.passGone(undefined)
    return this.first !== undefined
  }
}
