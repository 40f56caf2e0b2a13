/**
 * GET anything → 200 `Hello, world!` (text/plain).
 *
 *     npx egi serve examples/hello.ts
 *
 * Effect is imported by module path, not from the `effect` barrel: the
 * barrel loads every module of effect (~6 MiB more idle RSS per process).
 */
import * as Effect from "effect/Effect"
import { type EgiScope, type Receive, type Send, unsupportedScope } from "../src/index.ts"

const body = new TextEncoder().encode("Hello, world!")

export default Effect.fnUntraced(function*(scope: EgiScope, _receive: Receive, send: Send) {
  if (scope.type !== "http") return yield* unsupportedScope(scope)
  yield* send({ type: "http.response.start", status: 200, headers: [["content-type", "text/plain"]] })
  yield* send({ type: "http.response.body", body })
})
