// The consumer's property test: its app, in memory, under egi/testing.
import { Effect } from "effect"
import fc from "fast-check"
import { chunked, request } from "egi/testing"

const echo = (scope, receive, send) =>
  Effect.gen(function*() {
    if (scope.type !== "http") return
    const parts = []
    while (true) {
      const event = yield* receive
      if (event.type !== "http.request") return
      parts.push(event.body)
      if (!event.moreBody) break
    }
    yield* send({ type: "http.response.start", status: 200 })
    yield* send({ type: "http.response.body", body: Buffer.concat(parts) })
  })

await fc.assert(
  fc.asyncProperty(fc.uint8Array({ maxLength: 4096 }).chain((bytes) => chunked(bytes).map((chunks) => ({ bytes, chunks }))), async ({ bytes, chunks }) => {
    const res = await Effect.runPromise(request(echo, { method: "POST", body: chunks }))
    if (res.status !== 200 || Buffer.compare(Buffer.from(res.body), Buffer.from(bytes)) !== 0) throw new Error("echo broke")
  }),
  { numRuns: 50 }
)
console.log("property ok")
