/**
 * Serves a directory with zero-copy file bodies (spec.md §7.9): the runner
 * answers Range (206/416) and conditional requests (304/412) from the
 * file's metadata, without reading it. The directory is `$FILES_ROOT`, else
 * the current directory. Paths that leave it get 404, and so do missing
 * files (the app catches `FileSendError` and sends a 404 instead).
 *
 *     FILES_ROOT=. npx egi serve examples/files.ts
 *     curl -si --http2-prior-knowledge -H 'range: bytes=0-99' http://127.0.0.1:8000/README.md
 *     curl -si -H 'if-none-match: W/"…"' http://127.0.0.1:8000/README.md   # 304
 */
import { Effect } from "effect"
import * as path from "node:path"
import { type EgiScope, type Receive, type Send, unsupportedScope } from "../src/index.ts"

const root = path.resolve(process.env["FILES_ROOT"] ?? ".")

const types: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".css": "text/css",
  ".js": "text/javascript",
  ".json": "application/json",
  ".md": "text/markdown; charset=utf-8",
  ".txt": "text/plain; charset=utf-8",
  ".ts": "text/plain; charset=utf-8",
  ".png": "image/png"
}

const notFound = (send: Send) =>
  Effect.gen(function*() {
    yield* send({ type: "http.response.start", status: 404, headers: [["content-type", "text/plain"]] })
    yield* send({ type: "http.response.body", body: new TextEncoder().encode("not found\n") })
  })

export default Effect.fnUntraced(function*(scope: EgiScope, _receive: Receive, send: Send) {
  if (scope.type !== "http") return yield* unsupportedScope(scope)
  if (scope.method !== "GET" && scope.method !== "HEAD") {
    yield* send({ type: "http.response.start", status: 405, headers: [["allow", "GET, HEAD"]] })
    return yield* send({ type: "http.response.body" })
  }
  const file = path.resolve(root, `.${scope.path}`)
  if (file !== root && !file.startsWith(root + path.sep)) return yield* notFound(send)
  yield* send({
    type: "http.response.start",
    status: 200,
    headers: [["content-type", types[path.extname(file)] ?? "application/octet-stream"]]
  })
  yield* send({ type: "http.response.pathsend", path: file }).pipe(
    Effect.catchTag("FileSendError", () => notFound(send))
  )
})
