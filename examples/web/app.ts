/**
 * The web example: one page that shows what EGI's HTTP/2 gives a browser.
 *
 *     npx egi serve examples/web/app.ts \
 *       --tls-cert test/fixtures/localhost.crt --tls-key test/fixtures/localhost.key
 *     # open https://localhost:8000/ (a self-signed certificate: accept it)
 *
 * | route | what | module |
 * |---|---|---|
 * | `GET /` | 103 Early Hints + push (a preload link where push is refused), then the page | `page.ts` |
 * | `GET /static/*` | the page's files, by `http.response.pathsend` | `page.ts` |
 * | WebSocket `/chat` | examples/chat.ts's room (RFC 8441 over HTTP/2) | `../chat.ts` |
 * | `GET /download/sample.bin` | 64 MiB; Range and If-Range answered by the runner | `download.ts` |
 * | `POST /api/upload` | a streamed upload, hashed as it arrives | `upload.ts` |
 * | `GET /api/whoami` | the correlator (connection, stream) of the request | `api.ts` |
 * | `GET /api/fail?how=reset\|fail` | a reset stream, an app failure | `api.ts` |
 *
 * The module's `layer` provides the chat room and the download file; `egi
 * serve` builds it before the server starts and closes it after the drain.
 */
import { Effect, Layer } from "effect"
import { type EgiScope, type Receive, type Send, unsupportedScope } from "../../src/index.ts"
import chat, { ChatRoom } from "../chat.ts"
import { fail, whoami } from "./api.ts"
import { Download, download } from "./download.ts"
import { notAllowed, notFound } from "./http.ts"
import { asset, index } from "./page.ts"
import { upload } from "./upload.ts"

const app = (scope: EgiScope, receive: Receive, send: Send) =>
  Effect.gen(function*() {
    if (scope.type === "websocket") {
      if (scope.path === "/chat") return yield* chat(scope, receive, send)
      yield* receive // websocket.connect
      return yield* send({ type: "websocket.close" }) // 403
    }
    if (scope.type !== "http") return yield* unsupportedScope(scope)
    const { method, path } = scope
    const read = method === "GET" || method === "HEAD"
    if (path === "/api/upload") return yield* method === "POST" ? upload(scope, receive, send) : notAllowed(send, "POST")
    if (!read) return yield* notAllowed(send, "GET, HEAD")
    if (path === "/") return yield* index(scope, send)
    if (path.startsWith("/static/")) return yield* asset(scope, send)
    if (path === "/download/sample.bin") return yield* download(send)
    if (path === "/api/whoami") return yield* whoami(scope, send)
    if (path === "/api/fail") return yield* fail(scope, send)
    return yield* notFound(send)
  })

export default app

/** The services the app requires: the chat room and the download file. */
export const layer = Layer.mergeAll(ChatRoom.layer, Download.layer)
