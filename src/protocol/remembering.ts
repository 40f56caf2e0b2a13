/**
 * A string test that remembers the strings it accepted, for the tests the
 * runner makes on every response where the same few strings come back each
 * time (field names and values such as `content-type` and `text/plain`): a
 * Set lookup costs a fraction of a `RegExp#test` call (bench/in-process.ts
 * --instructions, hello over HTTP/2: ~750 instructions fewer per request
 * for its two field checks).
 *
 * Bounded whatever a peer or an app sends: at most 1,024 strings of at most
 * 64 characters each, after which nothing more is remembered. Each is kept
 * as a copy of its own: V8 makes a slice of 13 characters or more a view
 * that keeps its whole parent alive, and a remembered slice of a large
 * string (a request target, a cookie) would keep that string for the life
 * of the process. Not used for request targets: they vary too much for a
 * memo to pay, and every miss would copy.
 *
 * @since 0.9.0
 */

/** The longest string remembered, in UTF-16 code units. */
const LONGEST = 64
/** How many strings each test remembers; after that it only looks up. */
const MOST = 1024
/** V8's shortest sliced string (SlicedString::kMinLength): a shorter string is never a view of another. */
const SLICE_MIN = 13

/** `s` in memory of its own: a flat copy where `s` might be a view into a larger string. */
const ownCopy = (s: string): string => (s.length < SLICE_MIN ? s : s.split("").join(""))

/**
 * `pattern.test`, remembering the strings it accepted. Pure for the caller:
 * the answer is always `pattern`'s (`pattern` has no `g` or `y` flag).
 *
 * @since 0.9.0
 * @category constructors
 */
export const remembering = (pattern: RegExp): ((s: string) => boolean) => {
  const accepted = new Set<string>()
  return (s) => {
    if (accepted.has(s)) return true
    if (!pattern.test(s)) return false
    if (s.length <= LONGEST && accepted.size < MOST) accepted.add(ownCopy(s))
    return true
  }
}
