/**
 * Server push (spec.md §7.1): GET / pushes /style.css before its own
 * response head, so the PUSH_PROMISE precedes the page's HEADERS; GET
 * /style.css serves the stylesheet (the pushed stream runs this same app).
 * Where push is impossible (HTTP/1.1, a client with push disabled) the page
 * carries `link: </style.css>; rel=preload; as=style` instead — the app does not check.
 *
 *     npx egi serve examples/push.ts
 *     nghttp -v http://127.0.0.1:8000/            # PUSH_PROMISE, then both responses
 *     curl -si http://127.0.0.1:8000/ | grep link  # HTTP/1.1: the preload link
 */
import { Effect } from "effect"
import { type EgiScope, type Receive, type Send, unsupportedScope } from "../src/index.ts"

const encoder = new TextEncoder()
const page = encoder.encode(`<!doctype html><link rel="stylesheet" href="/style.css"><h1>pushed</h1>\n`)
const css = encoder.encode("h1 { color: rebeccapurple }\n")

export default Effect.fnUntraced(function*(scope: EgiScope, _receive: Receive, send: Send) {
  if (scope.type !== "http") return yield* unsupportedScope(scope)
  if (scope.path === "/style.css") {
    yield* send({ type: "http.response.start", status: 200, headers: [["content-type", "text/css"]] })
    return yield* send({ type: "http.response.body", body: css })
  }
  if (scope.path !== "/") {
    yield* send({ type: "http.response.start", status: 404, headers: [["content-type", "text/plain"]] })
    return yield* send({ type: "http.response.body", body: encoder.encode("not found\n") })
  }
  yield* send({ type: "http.response.push", path: "/style.css", headers: [["accept", "text/css"]] })
  yield* send({ type: "http.response.start", status: 200, headers: [["content-type", "text/html; charset=utf-8"]] })
  yield* send({ type: "http.response.body", body: page })
})
