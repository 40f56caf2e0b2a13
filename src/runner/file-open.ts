/**
 * Opening the file of a file body (spec.md §7.9): the descriptor, the byte
 * region to serve and the metadata the response is planned from, without
 * reading a byte of the content.
 */
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import { FileSendError } from "../protocol/errors.ts"
import type { HttpResponsePathsend, HttpResponseZerocopysend } from "../protocol/events.ts"
import type { FileStat } from "../protocol/file-plan.ts"

/**
 * An open file region: `fd`, the region's first byte in the file (`base`),
 * its size and modification time (`stat`, relative to the region), whether
 * the runner opened it (and so closes it, once, with `close`), and `name`
 * for errors (the path, or the app's descriptor).
 */
export interface OpenedFile {
  readonly fd: number
  readonly name: string | number
  readonly base: number
  readonly stat: FileStat
  readonly owned: boolean
  readonly close: () => void
}

/** A `FileSendError` from a node:fs error (its errno code, else `EIO`). */
export const fileError = (file: string | number, cause: unknown): FileSendError => {
  const err = cause as NodeJS.ErrnoException
  return new FileSendError({ file, code: err?.code ?? "EIO", detail: err?.message ?? String(cause) })
}

const fstat = (fd: number, file: string | number): Effect.Effect<fs.Stats, FileSendError> =>
  Effect.callback<fs.Stats, FileSendError>((resume) => {
    fs.fstat(fd, (err, stat) => resume(err === null ? Effect.succeed(stat) : Effect.fail(fileError(file, err))))
  })

const closer = (fd: number): (() => void) => {
  let closed = false
  return () => {
    if (closed) return
    closed = true
    fs.close(fd, () => {})
  }
}

/**
 * Opens the file of a `http.response.pathsend` (read-only; closed by the
 * runner) or takes the descriptor of a `http.response.zerocopysend` (left
 * open). Fails with `FileSendError` (ENOENT, EACCES, EISDIR, EBADF, or
 * ERANGE for an offset past the end) before anything is sent.
 */
export const openFile = (event: HttpResponsePathsend | HttpResponseZerocopysend): Effect.Effect<OpenedFile, FileSendError> => {
  if (event.type === "http.response.pathsend") {
    const path = event.path
    return Effect.callback<number, FileSendError>((resume) => {
      fs.open(path, "r", (err, fd) => resume(err === null ? Effect.succeed(fd) : Effect.fail(fileError(path, err))))
    }).pipe(
      Effect.flatMap((fd) =>
        fstat(fd, path).pipe(
          Effect.flatMap((stat): Effect.Effect<OpenedFile, FileSendError> =>
            stat.isFile()
              ? Effect.succeed({ fd, name: path, base: 0, stat: { size: stat.size, mtimeMs: stat.mtimeMs }, owned: true, close: closer(fd) })
              : Effect.fail(new FileSendError({ file: path, code: "EISDIR", detail: "not a regular file" }))
          ),
          Effect.tapError(() => Effect.sync(() => fs.close(fd, () => {})))
        )
      )
    )
  }
  const fd = event.file
  const offset = event.offset ?? 0
  return fstat(fd, fd).pipe(
    Effect.flatMap((stat): Effect.Effect<OpenedFile, FileSendError> => {
      if (!stat.isFile()) return Effect.fail(new FileSendError({ file: fd, code: "EISDIR", detail: "not a regular file" }))
      if (offset > stat.size) {
        return Effect.fail(new FileSendError({ file: fd, code: "ERANGE", detail: `offset ${offset} past the end (${stat.size} bytes)` }))
      }
      const size = Math.min(event.count ?? stat.size - offset, stat.size - offset)
      return Effect.succeed({ fd, name: fd, base: offset, stat: { size, mtimeMs: stat.mtimeMs }, owned: false, close: () => {} })
    })
  )
}
