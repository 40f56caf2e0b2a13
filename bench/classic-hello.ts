/**
 * Hello as a classic app, for the shim benchmark (bench/run.ts):
 * `egi serve bench/classic-hello.ts:hello --sync-workers 2`.
 */
import type { ClassicApp } from "../src/shim/classic.ts"

const body = new TextEncoder().encode("Hello, world!")

export const hello: ClassicApp = (_environ, startResponse) => {
  startResponse("200 OK", [["content-type", "text/plain"]])
  return [body]
}
