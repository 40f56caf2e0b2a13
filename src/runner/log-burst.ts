/**
 * Rate-limited log lines (spec.md §8.5, rule RUN-38): of a run of events of
 * the same sort, the first is logged at once, in full, by its caller; the
 * ones that follow are only counted, by key, and summed up in one line at
 * most once per period; a period without any ends the run. Used by
 * admission control (RUN-22, RUN-23) and the clients' errors (RUN-36,
 * RUN-37), so that no flood of requests or connections can flood the log.
 */

/** The period between two summary lines, ms. */
const SUMMARY_MS = 1000

/**
 * One run of events: `note(key)` says whether the caller logs this one
 * itself (the first of a run) or it was counted; `summarize` gets the counts
 * by key once a second while events keep coming; `close` sums up what
 * is pending at once and stops the timer (a server's drain).
 */
export class LogBurst<K extends string> {
  private readonly summarize: (counts: ReadonlyMap<K, number>) => void
  private pending = new Map<K, number>()
  private timer: ReturnType<typeof setTimeout> | undefined = undefined

  constructor(summarize: (counts: ReadonlyMap<K, number>) => void) {
    this.summarize = summarize
  }

  /** True: the first event of a run, for the caller to log in full; false: counted for the next summary line. */
  note(key: K): boolean {
    if (this.timer === undefined) {
      this.arm()
      return true
    }
    this.pending.set(key, (this.pending.get(key) ?? 0) + 1)
    return false
  }

  private arm(): void {
    this.timer = setTimeout(() => this.tick(), SUMMARY_MS)
    this.timer.unref()
  }

  /** A period is over: what it counted goes into one line, and the next period starts; a period without events ends the run. */
  private tick(): void {
    this.timer = undefined
    if (this.pending.size === 0) return
    const counts = this.pending
    this.pending = new Map()
    this.summarize(counts)
    this.arm()
  }

  /** Sums up what is pending (if anything) now and stops the timer. */
  close(): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    if (this.pending.size === 0) return
    const counts = this.pending
    this.pending = new Map()
    this.summarize(counts)
  }
}
