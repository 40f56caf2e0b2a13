/**
 * `POST /api/upload`: reads the body as it arrives (the pull model: the
 * runner reads no further ahead than the app takes, spec.md §7.6) and
 * answers its size and SHA-256, so the page can check the upload arrived
 * byte for byte. The page sends it as `fetch` with a `ReadableStream` body
 * (`duplex: "half"`), which Chromium streams only over HTTP/2.
 */
import { Effect } from "effect"
import { createHash } from "node:crypto"
import type { HttpScope, Receive, Send } from "../../src/index.ts"
import { json } from "./http.ts"

export const upload = (scope: HttpScope, receive: Receive, send: Send) =>
  Effect.gen(function*() {
    const hash = createHash("sha256")
    const started = performance.now()
    let bytes = 0
    let chunks = 0
    while (true) {
      const event = yield* receive
      if (event.type === "http.disconnect") return
      if (event.type !== "http.request") continue
      hash.update(event.body)
      bytes += event.body.length
      chunks++
      if (!event.moreBody) break
    }
    const seconds = (performance.now() - started) / 1000
    yield* json(send, {
      bytes,
      chunks,
      sha256: hash.digest("hex"),
      seconds,
      connectionId: scope.connectionId,
      streamId: scope.streamId
    })
  })
