/**
 * A first-in first-out queue that keeps its oldest item in a field and only
 * the ones after it in an array. Most queues of the runner hold one item at
 * a time (a WebSocket's next message): pushing it and taking it back then
 * costs two field writes, where an array costs a `shift()` — a builtin call
 * of ~130 instructions — per item (bench/in-process.ts --instructions).
 */
export class Fifo<A> {
  private first: A | undefined = undefined
  private rest: Array<A> | undefined = undefined
  /** How many items are queued. */
  size = 0

  /** Queues `item` last. */
  push(item: A): void {
    if (this.size++ === 0) this.first = item
    else (this.rest ??= []).push(item)
  }

  /** Takes the oldest item; undefined when there is none. */
  shift(): A | undefined {
    if (this.size === 0) return undefined
    const item = this.first
    this.first = --this.size === 0 ? undefined : this.rest!.shift()
    return item
  }
}
