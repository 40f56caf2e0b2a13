/**
 * The hand-off (spec.md §10.6): an async app that read part of a request
 * gives the rest to a classic app, whose `egi.input` begins at the first
 * byte the async app did not use and whose `CONTENT_LENGTH` says how many
 * bytes that input yields (CLASSIC-13).
 *
 * @since 0.3.0
 */
import * as Effect from "effect/Effect"
import type { App, Receive, Send } from "../protocol/app.ts"
import type { HttpRequest } from "../protocol/events.ts"
import type { HttpScope } from "../protocol/scope.ts"
import { HandOffError } from "./errors.ts"

/**
 * A `Receive` that yields `first`, then goes on with `receive` (which, after
 * a last `http.request`, yields what the runner has next: `http.disconnect`
 * once the stream is over). What `handOff` uses to give a classic app the
 * bytes an async app took but did not use (spec.md §10.6); never fails.
 *
 * @since 0.3.0
 * @category classic
 */
export const pushBack = (receive: Receive, first: HttpRequest): Receive => {
  let given = false
  return Effect.suspend(() => {
    if (given) return receive
    given = true
    return Effect.succeed(first)
  })
}

/**
 * What an async app took from `receive` before a hand-off (spec.md §10.6).
 *
 * @since 0.3.0
 * @category classic
 */
export interface HandOffRest {
  /** What it took but did not use (the tail of its last chunk): the classic app's input begins with it. */
  readonly body: Uint8Array
  /** `moreBody` of the last `http.request` it took. */
  readonly moreBody: boolean
  /**
   * Body bytes it used: all it took from `receive`, less `body`. With it,
   * the classic app's `CONTENT_LENGTH` is the declared length less these;
   * without it the shim cannot tell what is left, and `CONTENT_LENGTH` is
   * absent (rule CLASSIC-13).
   */
  readonly consumed?: number
}

const DECIMAL = /^\d+$/

/**
 * The scope the classic side of a hand-off gets: its `content-length`
 * gives the bytes left after `consumed` (rule CLASSIC-13), or is dropped
 * when that is unknown (`consumed` undefined). A request without a
 * declared length keeps none.
 */
const restScope = (scope: HttpScope, consumed: number | undefined): Effect.Effect<HttpScope, HandOffError> => {
  if (consumed !== undefined && !(Number.isSafeInteger(consumed) && consumed >= 0)) {
    return Effect.fail(new HandOffError({ detail: `consumed must be a non-negative integer, got ${String(consumed)}` }))
  }
  const declared = scope.headers.filter((h) => h[0] === "content-length")
  if (declared.length === 0) return Effect.succeed(scope)
  const length = declared.length === 1 && DECIMAL.test(declared[0]![1]) ? Number(declared[0]![1]) : undefined
  if (consumed === undefined || length === undefined) {
    return Effect.succeed({ ...scope, headers: scope.headers.filter((h) => h[0] !== "content-length") })
  }
  if (consumed > length) {
    return Effect.fail(new HandOffError({ detail: `consumed ${consumed} bytes of a body whose content-length is ${length}` }))
  }
  if (consumed === 0) return Effect.succeed(scope)
  const left = String(length - consumed)
  return Effect.succeed({ ...scope, headers: scope.headers.map((h) => h[0] === "content-length" ? ["content-length", left] as const : h) })
}

/**
 * The hand-off (spec.md §10.6, `input_factory` from Web-SIG 2007): an
 * async app that has read part of the request body hands the rest of the
 * request to `classic`, whose `egi.input` begins at the first byte the
 * async app did not consume. `unread` is what the async app took from
 * `receive` (see {@link HandOffRest}); without it, the async app has taken
 * nothing and the classic app gets the whole body. The classic app's
 * `CONTENT_LENGTH` is the number of bytes its input yields: the declared
 * length less `unread.consumed`; absent when the request declared none, or
 * when `unread` is given without `consumed` (rule CLASSIC-13). The async
 * app must not have started the response (rule CLASSIC-10): the classic
 * app's response is the stream's.
 *
 * Fails with `HandOffError`, before `classic` runs, when `consumed` is not
 * a non-negative integer or exceeds the declared length.
 *
 * @since 0.3.0
 * @category classic
 */
export const handOff = (
  classic: App,
  scope: HttpScope,
  receive: Receive,
  send: Send,
  unread?: HandOffRest
): Effect.Effect<void, unknown> =>
  Effect.flatMap(restScope(scope, unread === undefined ? 0 : unread.consumed), (rest) =>
    classic(
      rest,
      unread === undefined ? receive : pushBack(receive, {
        type: "http.request",
        connectionId: scope.connectionId,
        streamId: scope.streamId,
        body: unread.body,
        moreBody: unread.moreBody
      }),
      send
    ))
