/**
 * The `date` field the runner adds to a response head that has none
 * (spec.md §8.2), on HTTP/1.1 and HTTP/2 alike.
 */

/**
 * The `date` field's value (IMF-fixdate, RFC 9110 §5.6.7), made at most
 * once per second of the clock: kept until a timer forgets it at the next
 * second, so that a response does not read the clock (`Date.now()` is a
 * call into V8's runtime, ~200 instructions). The timer runs only while
 * responses are made, and never keeps the process alive. As node:http's
 * own cache of it, the value can lag the clock by as long as the event
 * loop is held past the second's end.
 *
 * @since 0.7.0
 * @category fields
 */
export class HttpDate {
  private value: string | undefined = undefined
  private readonly forget = (): void => {
    this.value = undefined
  }

  /** The date now. */
  now(): string {
    if (this.value === undefined) {
      const ms = Date.now()
      const intoSecond = ms % 1000
      this.value = new Date(ms - intoSecond).toUTCString()
      setTimeout(this.forget, 1000 - intoSecond).unref()
    }
    return this.value
  }
}

/**
 * The runner's one `date` clock: every response head either protocol puts
 * on the wire reads it (one clock read a second for the process).
 *
 * @since 0.9.0
 * @category fields
 */
export const responseDate: HttpDate = new HttpDate()
