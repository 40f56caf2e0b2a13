/**
 * The upgrade escape: a classic app that hands one request to the async
 * API through `egi.upgrade`, under a classic middleware that passes
 * responses through.
 *
 * - `GET /` → a classic plain-text page;
 * - `GET /live` → escapes to `live`, an EGI app that gets the stream's real
 *   `receive`/`send`: it pushes `/style.css` (HTTP/2) and streams five
 *   lines, one every 100 ms.
 *
 *     npx egi serve examples/escape.ts
 *     curl --http2-prior-knowledge -N http://127.0.0.1:8000/live
 */
import { Effect } from "effect"
import { type ClassicApp, type EgiScope, Extension, fromClassic, type Receive, type Send } from "../src/index.ts"

/** The async app `/live` escapes to. */
export const live = Effect.fnUntraced(function*(scope: EgiScope, _receive: Receive, send: Send) {
  if (scope.type !== "http") return
  if (scope.path === "/style.css") {
    yield* send({ type: "http.response.start", status: 200, headers: [["content-type", "text/css"]] })
    return yield* send({ type: "http.response.body", body: new TextEncoder().encode("body { font: 16px serif }\n") })
  }
  if (scope.extensions[Extension.push] !== undefined) {
    yield* send({ type: "http.response.push", path: "/style.css" })
  }
  yield* send({ type: "http.response.start", status: 200, headers: [["content-type", "text/plain"]] })
  for (let i = 1; i <= 5; i++) {
    yield* send({ type: "http.response.body", body: new TextEncoder().encode(`tick ${i}\n`), moreBody: i < 5 })
    if (i < 5) yield* Effect.sleep("100 millis")
  }
})

/** The classic app. */
export const site: ClassicApp = (environ, startResponse) => {
  if (environ.PATH_INFO === "/live" || environ.PATH_INFO === "/style.css") {
    return environ["egi.upgrade"]({ module: import.meta.url, export: "live" }, startResponse)
  }
  startResponse("200 OK", [["Content-Type", "text/plain"]])
  return ["a classic page; see /live\n"]
}

/** A classic middleware that logs each request and passes the response through untouched. */
export const logged = (app: ClassicApp): ClassicApp => (environ, startResponse) => {
  environ["egi.errors"].write(`escape example: ${environ.REQUEST_METHOD} ${environ.PATH_INFO}\n`)
  return app(environ, (status, headers, excInfo) => startResponse(status, headers, excInfo))
}

export const app: ClassicApp = logged(site)

export default fromClassic({ module: import.meta.url, export: "app" }, { workers: 2 })
