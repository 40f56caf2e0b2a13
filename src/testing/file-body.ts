/**
 * A file body in memory (spec.md §7.9), for the in-memory client: the file
 * of a `http.response.pathsend` (opened and closed here) or the descriptor
 * of a `http.response.zerocopysend` (left open), the response planned as the
 * Node runner plans it (`planFile`: validators, conditional requests, a
 * single byte range), and the planned bytes read.
 */
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import { FileSendError } from "../protocol/errors.ts"
import type { HttpResponsePathsend, HttpResponseZerocopysend } from "../protocol/events.ts"
import type { Headers } from "../protocol/headers.ts"
import { type FilePlan, planFile } from "../protocol/file-plan.ts"

/** A `FileSendError` from a node:fs error (its errno code, else `EIO`). */
const fileError = (file: string | number, cause: unknown): FileSendError => {
  const err = cause as NodeJS.ErrnoException | null
  return new FileSendError({ file, code: err?.code ?? "EIO", detail: err?.message ?? String(cause) })
}

const open = (path: string) =>
  Effect.callback<number, FileSendError>((resume) => {
    fs.open(path, "r", (err, fd) => resume(err === null ? Effect.succeed(fd) : Effect.fail(fileError(path, err))))
  })

const fstat = (fd: number, file: string | number) =>
  Effect.callback<fs.Stats, FileSendError>((resume) => {
    fs.fstat(fd, (err, stat) => resume(err === null ? Effect.succeed(stat) : Effect.fail(fileError(file, err))))
  })

const close = (fd: number) => Effect.callback<void>((resume) => fs.close(fd, () => resume(Effect.void)))

/** `length` bytes of `fd` from byte `position`; fails with `EOF` when the file ends first (it shrank). */
const readExactly = (fd: number, file: string | number, position: number, length: number) =>
  Effect.callback<Uint8Array, FileSendError>((resume) => {
    const buffer = Buffer.alloc(length)
    const step = (done: number): void => {
      if (done === length) return resume(Effect.succeed(buffer))
      fs.read(fd, buffer, done, length - done, position + done, (err, n) => {
        if (err !== null) return resume(Effect.fail(fileError(file, err)))
        if (n === 0) {
          return resume(Effect.fail(new FileSendError({ file, code: "EOF", detail: `the file ended after ${done} of ${length} bytes` })))
        }
        step(done + n)
      })
    }
    step(0)
  })

/**
 * The response a file body gets — `plan` (status, header list, byte range;
 * spec.md §7.9) and its `bytes` — for a request (`method`, `headers`) whose
 * app started with `status` and `headers`. Fails with `FileSendError`
 * (`ENOENT`, `EACCES`, `EISDIR`, `EBADF`, `ERANGE` for an offset past the
 * end, `EOF` when the file shrank while read) as the runner's `send` does.
 *
 * @since 0.3.0
 * @category testing
 */
export const fileBody = (
  request: { readonly method: string; readonly headers: Headers },
  status: number,
  headers: Headers,
  event: HttpResponsePathsend | HttpResponseZerocopysend
): Effect.Effect<{ readonly plan: FilePlan; readonly bytes: Uint8Array }, FileSendError> => {
  const respond = (fd: number, name: string | number, base: number, size: number, mtimeMs: number) => {
    const plan = planFile(request, status, headers, { size, mtimeMs })
    return Effect.map(readExactly(fd, name, base + plan.offset, plan.length), (bytes) => ({ plan, bytes }))
  }
  if (event.type === "http.response.pathsend") {
    const path = event.path
    return Effect.acquireUseRelease(open(path), (fd) =>
      Effect.flatMap(fstat(fd, path), (stat) =>
        stat.isFile()
          ? respond(fd, path, 0, stat.size, stat.mtimeMs)
          : Effect.fail(new FileSendError({ file: path, code: "EISDIR", detail: "not a regular file" }))), close)
  }
  const fd = event.file
  const offset = event.offset ?? 0
  return Effect.flatMap(fstat(fd, fd), (stat) => {
    if (!stat.isFile()) return Effect.fail(new FileSendError({ file: fd, code: "EISDIR", detail: "not a regular file" }))
    if (offset > stat.size) return Effect.fail(new FileSendError({ file: fd, code: "ERANGE", detail: `offset ${offset} past the end (${stat.size} bytes)` }))
    return respond(fd, fd, offset, Math.min(event.count ?? stat.size - offset, stat.size - offset), stat.mtimeMs)
  })
}
