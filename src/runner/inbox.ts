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
  private waiters: Array<Resume<A>> | undefined = undefined
  private readonly source: InboxSource<A>

  constructor(source: InboxSource<A>) {
    this.source = source
  }

  /** The next item: at once when one is ready and nobody waits before us, else when `wake()` finds one. */
  readonly take: Effect.Effect<A> = Effect.callback<A>((resume) => {
    const waiters = this.waiters
    if (waiters === undefined || waiters.length === 0) {
      const item = this.source.poll()
      if (item !== undefined) return resume(Effect.succeed(item))
    }
    ;(this.waiters ??= []).push(resume)
    this.source.onWait?.()
    return Effect.sync(() => {
      const list = this.waiters!
      const i = list.indexOf(resume)
      if (i >= 0) list.splice(i, 1)
    })
  })

  /** Hands ready items to waiting receivers, oldest first, while the source's `poll` has any. */
  wake(): void {
    const waiters = this.waiters
    if (waiters === undefined) return
    while (waiters.length > 0) {
      const item = this.source.poll()
      if (item === undefined) return
      waiters.shift()!(Effect.succeed(item))
    }
  }

  /** A receiver is waiting. */
  get waiting(): boolean {
    return this.waiters !== undefined && this.waiters.length > 0
  }
}
