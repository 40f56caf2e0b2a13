/**
 * What both fetch adapters share (spec.md §12.2): header lists between
 * EGI's `[name, value]` pairs and the Fetch API's `Headers`, and the
 * Promise-to-Effect step they take for every chunk.
 *
 * @since 0.5.0
 */
import * as Effect from "effect/Effect"
import type { Headers as EgiHeaders } from "../../protocol/headers.ts"

/**
 * An EGI header list as a Fetch `Headers`: each pair appended in order.
 * The Fetch API then lower-cases the names, iterates them sorted and joins
 * the values of one name with `", "` (`set-cookie` excepted) — the order
 * and the separate duplicates of the list are not kept (spec.md §12.2,
 * FETCH-3). Throws a `TypeError` for a value `Headers` refuses (CR, LF,
 * NUL), which an EGI list that keeps HTTP-6 never has.
 *
 * @since 0.5.0
 * @category conversions
 */
export const headersToWeb = (pairs: EgiHeaders, skip?: ReadonlySet<string>): Headers => {
  const headers = new Headers()
  for (const [name, value] of pairs) {
    if (skip === undefined || !skip.has(name)) headers.append(name, value)
  }
  return headers
}

/**
 * A Fetch `Headers` as an EGI header list, in the order `Headers` iterates
 * (names sorted): every name once with its combined value, except
 * `set-cookie`, one pair per cookie (`getSetCookie()`), at its sorted place
 * (spec.md §12.2, FETCH-4).
 *
 * @since 0.5.0
 * @category conversions
 */
export const headersFromWeb = (headers: Headers): Array<[string, string]> => {
  const out: Array<[string, string]> = []
  let cookies = false
  for (const [name, value] of headers) {
    if (name !== "set-cookie") out.push([name, value])
    else if (typeof headers.getSetCookie !== "function") out.push([name, value])
    else if (!cookies) {
      cookies = true
      for (const cookie of headers.getSetCookie()) out.push(["set-cookie", cookie])
    }
  }
  return out
}

/**
 * An Effect that waits for `promise`: its value, or `onReject(reason)` as
 * the failure. Interrupting it stops the wait (the promise runs on).
 */
export const awaitPromise = <A, E>(promise: PromiseLike<A>, onReject: (reason: unknown) => E): Effect.Effect<A, E> =>
  Effect.callback<A, E>((resume) => {
    promise.then((value) => resume(Effect.succeed(value)), (reason) => resume(Effect.fail(onReject(reason))))
  })

/** Swallows a rejection that nobody waits for any more. */
export const ignore = (): void => {}
