/**
 * Reading a file body's bytes (spec.md §7.9, HTTP-29): one positioned read
 * at a time, which the runner awaits — also when it is interrupted — so
 * that it always knows whether a read on the descriptor is still under way.
 */
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import type { FileSendError } from "../protocol/errors.ts"
import { fileError } from "./file-open.ts"

/**
 * Reads up to `length` bytes of descriptor `fd` at byte `position` into a
 * new buffer (the previous one may still sit in the stream's write queue).
 * Yields the bytes read: fewer than `length` only at the end of the file,
 * none when `position` is at or past it. Fails with `FileSendError` (the
 * errno code: `EBADF`, `EIO`, …; `file` names it in the error).
 *
 * Interrupting the Effect does not abandon the read: interruption completes
 * only once node:fs has answered, so the caller may close or recycle the
 * descriptor as soon as it continues.
 */
export const readAt = (fd: number, file: string | number, position: number, length: number): Effect.Effect<Uint8Array, FileSendError> =>
  Effect.callback<Uint8Array, FileSendError>((resume) => {
    const buffer = Buffer.allocUnsafe(length)
    let settled = false
    let onSettled: (() => void) | undefined
    fs.read(fd, buffer, 0, length, position, (err, n) => {
      settled = true
      if (onSettled !== undefined) return onSettled()
      resume(err !== null ? Effect.fail(fileError(file, err)) : Effect.succeed(n === length ? buffer : buffer.subarray(0, n)))
    })
    // On interruption: wait for the read in flight.
    return Effect.callback<void>((done) => {
      if (settled) done(Effect.void)
      else onSettled = () => done(Effect.void)
    })
  })
