/**
 * `GET /?chunks=N&size=B&delay=MS` streams N chunks of B bytes, MS ms apart
 * (defaults: 10 chunks, 1024 bytes, 100 ms).
 *
 *     npx egi serve examples/stream.ts
 *     curl -N 'http://127.0.0.1:8000/?chunks=5&size=10&delay=500'
 */
import { Effect } from "effect"
import { type EgiScope, type Receive, type Send, unsupportedScope } from "../src/index.ts"

const param = (query: URLSearchParams, name: string, fallback: number, max: number): number => {
  const n = Number(query.get(name) ?? fallback)
  return Number.isInteger(n) && n >= 0 ? Math.min(n, max) : fallback
}

// One filler chunk per size, made once: the example streams, it does not
// exercise the allocator.
const chunks = new Map<number, Uint8Array>()
const chunkOf = (size: number): Uint8Array => {
  let chunk = chunks.get(size)
  if (chunk === undefined) {
    if (chunks.size >= 64) chunks.clear()
    chunk = new Uint8Array(size).fill(0x61) // "a"
    chunks.set(size, chunk)
  }
  return chunk
}

export default Effect.fnUntraced(function*(scope: EgiScope, _receive: Receive, send: Send) {
  if (scope.type !== "http") return yield* unsupportedScope(scope)
  const query = new URLSearchParams(scope.queryString)
  const chunks = param(query, "chunks", 10, 1_000_000)
  const size = param(query, "size", 1024, 16 * 1024 * 1024)
  const delay = param(query, "delay", 100, 60_000)
  const chunk = chunkOf(size)
  yield* send({ type: "http.response.start", status: 200, headers: [["content-type", "application/octet-stream"]] })
  for (let i = 0; i < chunks; i++) {
    if (i > 0 && delay > 0) yield* Effect.sleep(delay)
    yield* send({ type: "http.response.body", body: chunk, moreBody: true })
  }
  yield* send({ type: "http.response.body" })
})
