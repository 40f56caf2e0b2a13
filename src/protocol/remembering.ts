/**
 * A string test that remembers the strings it accepted, for the tests the
 * runner makes on every request and response where the same few strings
 * come back each time (field names and values such as `content-type` and
 * `text/plain`, a path such as `/`): a Set lookup costs a fraction of a
 * `RegExp#test` call (bench/in-process.ts --instructions, hello over
 * HTTP/2: ~950 instructions fewer per request for three tests). Bounded
 * whatever a peer or an app sends: strings of at most 64 characters, at
 * most 1,024 of them, forgotten all at once when full so that the common
 * ones come back.
 *
 * @since 0.9.0
 */

/** The longest string remembered, in UTF-16 code units. */
const LONGEST = 64
/** How many strings each test remembers before it forgets them all. */
const MOST = 1024

/**
 * `pattern.test`, remembering the strings it accepted; or, with `negate`,
 * the strings `pattern` does not match. Pure for the caller: the answer is
 * always `pattern`'s.
 *
 * @since 0.9.0
 * @category constructors
 */
export const remembering = (pattern: RegExp, negate = false): ((s: string) => boolean) => {
  const accepted = new Set<string>()
  return (s) => {
    if (accepted.has(s)) return true
    if (pattern.test(s) === negate) return false
    if (s.length <= LONGEST) {
      if (accepted.size >= MOST) accepted.clear()
      accepted.add(s)
    }
    return true
  }
}
