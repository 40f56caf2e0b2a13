/**
 * The hand-off (`input_factory`): an async app reads and checks the first
 * 64 KiB of an upload without blocking anything, then hands the rest of the
 * request to a blocking classic hasher in a worker thread.
 *
 * - `POST /` whose body starts with the PNG signature → the classic hasher
 *   answers `{"bytes": N, "sha256": "…"}` for the bytes after the first
 *   64 KiB (its `egi.input` starts exactly there);
 * - any other body → 415, and no worker is involved.
 *
 *     npx egi serve examples/handoff.ts
 *     curl --http2-prior-knowledge --data-binary @image.png http://127.0.0.1:8000/
 */
import { createHash } from "node:crypto"
import { Effect } from "effect"
import { type ClassicApp, type EgiScope, fromClassic, handOff, type Receive, type Send, unsupportedScope } from "../src/index.ts"

/** How much the async part reads before handing off, bytes. */
export const HEAD_BYTES = 65_536

const PNG = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)

/** The blocking half: hashes whatever is left of the request body. */
export const hasher: ClassicApp = (environ, startResponse) => {
  const hash = createHash("sha256")
  let bytes = 0
  for (let chunk = environ["egi.input"].read(65536); chunk.length > 0; chunk = environ["egi.input"].read(65536)) {
    hash.update(chunk)
    bytes += chunk.length
  }
  startResponse("200 OK", [["Content-Type", "application/json"]])
  return [JSON.stringify({ bytes, sha256: hash.digest("hex") }) + "\n"]
}

const hashing = fromClassic({ module: import.meta.url, export: "hasher" }, { workers: 2 })

const reject = (send: Send, status: number, text: string) =>
  Effect.gen(function*() {
    yield* send({ type: "http.response.start", status, headers: [["content-type", "text/plain"]] })
    yield* send({ type: "http.response.body", body: new TextEncoder().encode(text + "\n") })
  })

export default Effect.fnUntraced(function*(scope: EgiScope, receive: Receive, send: Send) {
  if (scope.type === "lifespan") return yield* hashing(scope, receive, send) // starts and stops the workers
  if (scope.type !== "http") return yield* unsupportedScope(scope)
  if (scope.method !== "POST") return yield* reject(send, 405, "POST an upload")
  // Read until HEAD_BYTES are in, or the body ends.
  const parts: Array<Uint8Array> = []
  let have = 0
  let moreBody = true
  while (have < HEAD_BYTES && moreBody) {
    const event = yield* receive
    if (event.type !== "http.request") return // the client went away
    parts.push(event.body)
    have += event.body.length
    moreBody = event.moreBody
  }
  const head = Buffer.concat(parts)
  if (head.length < PNG.length || !PNG.every((b, i) => head[i] === b)) {
    return yield* reject(send, 415, "expected a PNG (89 50 4E 47 0D 0A 1A 0A)")
  }
  // The classic hasher's input begins at byte HEAD_BYTES: hand it what we read past that,
  // and say how much we used (its CONTENT_LENGTH is the declared length less that).
  const consumed = Math.min(HEAD_BYTES, head.length)
  return yield* handOff(hashing, scope, receive, send, { body: head.subarray(consumed), moreBody, consumed })
})
