/**
 * The receive side of an `http` stream without I/O (spec.md §4.3, §4.4,
 * §4.7 table 2): which event may be delivered next, and the request body
 * against its declared `content-length` (HTTP-7). The Node runner steps it
 * as it delivers events; `validate(app)` steps it to check a server. One
 * copy of table 2's order and of the length rule.
 *
 * @since 0.4.0
 */
import type { LocalProtocolError } from "./errors.ts"
import { type RequestInput, type RequestState, requestTable, step } from "./state.ts"

/**
 * What a body chunk or the body's end does to the length rule (HTTP-7):
 * `ok`; `overrun` — more bytes than the declared `content-length`;
 * `underrun` — the body ended short of it.
 *
 * @since 0.4.0
 * @category models
 */
export type LengthCheck = "ok" | "overrun" | "underrun"

/**
 * The receive-side state of one `http` stream.
 *
 * @since 0.4.0
 * @category models
 */
export class RequestSide {
  /** Table 2's state (spec.md §4.7). */
  state: RequestState = "receiving"
  /** Body bytes counted so far (delivered, or about to be). */
  received = 0
  /** The request's declared `content-length` in bytes; -1 when none. */
  readonly declared: number

  constructor(declared: number) {
    this.declared = declared
  }

  /**
   * Steps table 2 for an event being delivered: moves to the next state, or
   * returns the violation (rule HTTP-8, HTTP-14 or HTTP-23) and moves
   * nothing.
   */
  deliver(input: RequestInput): LocalProtocolError | undefined {
    const next = step(requestTable, this.state, input)
    if (typeof next !== "string") return next
    this.state = next
    return undefined
  }

  /** Counts a body chunk of `bytes` (HTTP-7): `overrun` once past the declared length. */
  chunk(bytes: number): LengthCheck {
    this.received += bytes
    return this.declared >= 0 && this.received > this.declared ? "overrun" : "ok"
  }

  /** The body ended (HTTP-7): `underrun` short of the declared length. */
  end(): LengthCheck {
    return this.declared >= 0 && this.received !== this.declared ? (this.received > this.declared ? "overrun" : "underrun") : "ok"
  }
}

/**
 * The table-2 input of an inbound `http` event (spec.md §4.7).
 *
 * @since 0.4.0
 * @category models
 */
export const requestInputOf = (
  event: { readonly type: string; readonly moreBody?: boolean; readonly trailers?: boolean }
): RequestInput =>
  event.type === "http.request"
    ? event.moreBody === true ? "more" : event.trailers === true ? "lastThenTrailers" : "last"
    : event.type === "http.request.trailers"
    ? "trailers"
    : "disconnect"
