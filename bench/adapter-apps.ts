/**
 * The hello of the adapter benchmark (bench/run.ts `adapters`), written once
 * per interface: `Routes`, an HttpRouter app (GET / → "Hello, world!"), and
 * `hono`, a Hono app answering the same. EGI serves them with
 * `egi serve bench/adapter-apps.ts:Routes` / `:hono`; bench/node-router.ts
 * and bench/hono-node.ts serve the same objects on their usual servers.
 */
import { Hono } from "hono"
import { Effect, Layer, Stream } from "effect"
import * as HttpRouter from "effect/http/HttpRouter"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as HttpServerResponse from "effect/http/HttpServerResponse"

/**
 * GET / → 200 text/plain "Hello, world!", and POST /upload → the number of
 * body bytes read through `request.stream` (bench/upload-rss.ts), as an
 * HttpRouter route Layer.
 */
export const Routes = Layer.mergeAll(
  HttpRouter.add("GET", "/", HttpServerResponse.text("Hello, world!")),
  HttpRouter.add(
    "POST",
    "/upload",
    Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const bytes = yield* Stream.runFold(request.stream, () => 0, (n, chunk) => n + chunk.length)
      return HttpServerResponse.text(String(bytes))
    })
  )
)

/** The same two routes as a Hono app (a fetch handler); the upload is read from `request.body`. */
export const hono = new Hono()
  .get("/", (c) => c.text("Hello, world!"))
  .post("/upload", async (c) => {
    let bytes = 0
    for await (const chunk of c.req.raw.body ?? []) bytes += chunk.length
    return c.text(String(bytes))
  })
