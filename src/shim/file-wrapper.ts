/**
 * `egi.file_wrapper` (spec.md §10.2, PEP 3333 "Optional Platform-Specific
 * File Handling"): a body that reads a file block by block, in the worker.
 */
import { closeSync, openSync, readSync } from "node:fs"
import type { ClassicBody, FileWrapper } from "./classic.ts"

/** Default block size, bytes. */
export const DEFAULT_BLOCK_SIZE = 65_536

/**
 * Opens `file` (a path; or takes over a descriptor) lazily and yields
 * blocks of at most `blockSize` bytes; `close()` closes the descriptor.
 * Errors from `open`/`read` are raised into the iteration, like any body's.
 */
export const fileWrapper: FileWrapper = (file, blockSize = DEFAULT_BLOCK_SIZE) => {
  let fd: number | undefined = typeof file === "number" ? file : undefined
  const size = Math.max(1, Math.floor(blockSize))
  const body: ClassicBody = {
    *[Symbol.iterator]() {
      fd ??= openSync(file as string, "r")
      while (true) {
        const block = new Uint8Array(size)
        const n = readSync(fd, block, 0, size, null)
        if (n === 0) return
        yield n === size ? block : block.subarray(0, n)
      }
    },
    close() {
      if (fd !== undefined) closeSync(fd)
      fd = undefined
    }
  }
  return body
}
