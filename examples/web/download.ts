/**
 * The download: a file of random bytes (64 MiB unless `EGI_WEB_DOWNLOAD_MIB`
 * says otherwise), written to a temporary directory at the first download
 * and removed after the server stops — an Effect service built by the
 * module's `layer`. `GET /download/sample.bin` sends it with
 * `http.response.pathsend`: the runner answers `Range` (206, 416) and the
 * conditional fields itself (spec.md §7.9). The app gives the file a strong
 * `etag` (its SHA-256), so a client resuming with `If-Range` gets a 206 —
 * the runner's own etag is weak and would never match an If-Range.
 */
import { Context, Effect, Layer } from "effect"
import { createHash, randomBytes } from "node:crypto"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import type { Send } from "../../src/index.ts"

/** The file's size in bytes. */
export const DOWNLOAD_SIZE = Number(process.env["EGI_WEB_DOWNLOAD_MIB"] ?? 64) * 1024 * 1024

/** Where the file is, what it is. */
export interface DownloadFile {
  readonly path: string
  readonly size: number
  readonly sha256: string
}

/** Writes `size` random bytes to `file`, hashing them on the way. */
const write = (file: string, size: number): DownloadFile => {
  const hash = createHash("sha256")
  const chunks: Array<Buffer> = []
  for (let left = size; left > 0; left -= 1024 * 1024) {
    const chunk = randomBytes(Math.min(left, 1024 * 1024))
    hash.update(chunk)
    chunks.push(chunk)
  }
  writeFileSync(file, Buffer.concat(chunks))
  return { path: file, size, sha256: hash.digest("hex") }
}

/**
 * The file, as a service: its directory is made when the server starts and
 * removed after it stops; the file itself is written at the first download
 * (once), so the server starts at once.
 */
export class Download extends Context.Service<Download, Effect.Effect<DownloadFile>>()("examples/web/Download") {
  static readonly layer = Layer.effect(Download)(
    Effect.gen(function*() {
      const dir = yield* Effect.acquireRelease(
        Effect.sync(() => mkdtempSync(path.join(tmpdir(), "egi-web-"))),
        (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
      )
      return yield* Effect.cached(Effect.sync(() => write(path.join(dir, "sample.bin"), DOWNLOAD_SIZE)))
    })
  )
}

/** `GET /download/sample.bin` (and HEAD). */
export const download = (send: Send) =>
  Effect.gen(function*() {
    const file = yield* yield* Download
    yield* send({
      type: "http.response.start",
      status: 200,
      headers: [
        ["content-type", "application/octet-stream"],
        ["content-disposition", `attachment; filename="sample.bin"`],
        ["etag", `"${file.sha256}"`],
        ["x-sha256", file.sha256],
        ["cache-control", "no-store"]
      ]
    })
    yield* send({ type: "http.response.pathsend", path: file.path })
  })
