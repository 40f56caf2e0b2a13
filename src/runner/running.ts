/**
 * The apps running now (spec.md §5): each item (an exchange, a WebSocket
 * session) with its app's fiber, for the drain, the sweeps and the counts.
 *
 * Two arrays and a swap-remove, each item holding its own index, rather
 * than a `Map` from fiber to item: with a Map, a request whose app waited
 * (for a timer, a database) was kept through the young-generation GCs and
 * promoted whole — measured with HTTP/1.1 keep-alive, 16 connections, an
 * app that waits once: 2,860 bytes promoted per request, 24 with this
 * registry (raw node:http with the same wait: 5). A removed item's slot is
 * emptied at once (`pop`), so nothing of a finished request is left in a
 * table that lives in the old generation.
 */
import type { Exit, Fiber } from "effect"

/** What the registry needs of an item: where it stands (−1 when not running). */
export interface RunningItem {
  runningSlot: number
}

/** Items whose app's fiber runs, with their fibers. */
export class Running<T extends RunningItem> {
  private readonly items: Array<T> = []
  private readonly fibers: Array<Fiber.Fiber<void, unknown>> = []
  /**
   * The fibers' observer, made once: `watch` binds it to each item (`this`
   * is the item). A bound function is 48 bytes; a closure over the item,
   * the registry and `onExit`, with its context, was 112, and a held stream
   * keeps it (issue 19).
   */
  private readonly exited: (this: T, exit: Exit.Exit<void, unknown>) => void
  private readonly onExit: (item: T, exit: Exit.Exit<void, unknown>) => void

  /** `onExit` runs once for each watched item, with its fiber's exit, after the item left the registry. */
  constructor(onExit: (item: T, exit: Exit.Exit<void, unknown>) => void) {
    this.onExit = onExit
    const registry = this
    this.exited = function(exit) {
      registry.remove(this)
      registry.onExit(this, exit)
    }
  }

  /**
   * Keeps `item` while `fiber` runs; when it ends, removes it and calls
   * `onExit`. A fiber that already ended (most responses complete at once)
   * is never registered and gets no observer: `onExit` runs now, and the
   * result is false.
   */
  watch(item: T, fiber: Fiber.Fiber<void, unknown>): boolean {
    const exit = fiber.pollUnsafe()
    if (exit !== undefined) {
      this.onExit(item, exit)
      return false
    }
    this.add(item, fiber)
    fiber.addObserver(this.exited.bind(item))
    return true
  }

  /** How many run. */
  get size(): number {
    return this.items.length
  }

  private add(item: T, fiber: Fiber.Fiber<void, unknown>): void {
    item.runningSlot = this.items.length
    this.items.push(item)
    this.fibers.push(fiber)
  }

  /** Removes `item` (nothing when it is not here). */
  remove(item: T): void {
    const i = item.runningSlot
    const last = this.items.length - 1
    if (i < 0 || i > last || this.items[i] !== item) return
    if (i !== last) {
      const moved = this.items[last]!
      this.items[i] = moved
      this.fibers[i] = this.fibers[last]!
      moved.runningSlot = i
    }
    this.items.pop()
    this.fibers.pop()
    item.runningSlot = -1
  }

  /** A copy of the items, safe to iterate while some are removed. */
  list(): Array<T> {
    return this.items.slice()
  }

  /** A copy of the fibers and their items, safe to iterate while some are removed. */
  entries(): Array<readonly [Fiber.Fiber<void, unknown>, T]> {
    return this.items.map((item, i) => [this.fibers[i]!, item] as const)
  }
}
