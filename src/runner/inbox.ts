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
 * Receivers waiting for items that `poll` produces.
 *
 * @since 0.4.0
 * @category models
 */
export class Inbox<A> {
  /**
   * The receiver waiting longest, if any; the others wait in `rest`, oldest
   * first. One waiter is the rule (an app awaiting `receive`), and a field
   * holds it for nothing where an array grown by `push` holds 17 slots: a
   * held stream's memory is mostly what it keeps (issue 19).
   */
  private first: Resume<A> | undefined = undefined
  private rest: Array<Resume<A>> | undefined = undefined
  private readonly source: InboxSource<A>

  constructor(source: InboxSource<A>) {
    this.source = source
  }

  /**
   * The next item: at once when one is ready and nobody waits before us,
   * else when `wake()` finds one. Its register function and each wait's
   * leave are methods bound to the inbox, not closures: a bound function
   * is 48 bytes where a closure with its context is 96, and a held stream
   * keeps both (issue 19).
   */
  readonly take: Effect.Effect<A> = Effect.callback<A>(this.register.bind(this))

  private register(resume: Resume<A>): Effect.Effect<void> | void {
    if (this.first === undefined) {
      const item = this.source.poll()
      if (item !== undefined) return resume(Effect.succeed(item))
      this.first = resume
      this.source.onWait?.()
      return (this.leaveFirst ??= Effect.sync(this.leaveAsFirst.bind(this)))
    }
    ;(this.rest ??= []).push(resume)
    this.source.onWait?.()
    return Effect.sync(this.leave.bind(this, resume))
  }

  /**
   * The canceler of a receiver that started waiting as `first`, one per
   * inbox, not one per wait: a receiver leaves `first` only when served,
   * and a served receiver is no longer suspended, so its canceler can only
   * run while it is still `first` (an interrupted fiber runs its canceler
   * before anything else). A WebSocket waits once per message (issue 19).
   */
  private leaveFirst: Effect.Effect<void> | undefined = undefined

  private leaveAsFirst(): void {
    this.first = this.rest?.shift()
  }

  /** An interrupted receiver leaves its place (its item, if one was ready, stays for the next). */
  private leave(resume: Resume<A>): void {
    if (this.first === resume) this.first = this.rest?.shift()
    else if (this.rest !== undefined) {
      const i = this.rest.indexOf(resume)
      if (i >= 0) this.rest.splice(i, 1)
    }
  }

  /** Hands ready items to waiting receivers, oldest first, while the source's `poll` has any. */
  wake(): void {
    while (this.first !== undefined) {
      const item = this.source.poll()
      if (item === undefined) return
      const resume = this.first
      this.first = this.rest?.shift()
      resume(Effect.succeed(item))
    }
  }

  /** A receiver is waiting. */
  get waiting(): boolean {
    return this.first !== undefined
  }
}
