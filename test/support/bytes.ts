/**
 * Test support: deterministic pseudo-random bytes (xorshift32), so a failing
 * property case can be replayed from its seed.
 */

/**
 * `size` bytes from `seed`. With `lineFeeds`, about one byte in 32 is a
 * line feed (0x0A), so line readers have lines to find.
 */
export const pseudoRandomBytes = (size: number, seed: number, lineFeeds = false): Buffer => {
  const out = Buffer.allocUnsafe(size)
  let x = seed | 0 || 0x2545f491
  for (let i = 0; i < size; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[i] = lineFeeds && (x & 0x1f) === 0 ? 0x0a : x & 0xff
  }
  return out
}
