/**
 * The hello of the adapter benchmark (bench/run.ts `adapters`), written once
 * per interface: `Routes`, an HttpRouter app (GET / → "Hello, world!"), and
 * `hono`, a Hono app answering the same. EGI serves them with
 * `egi serve bench/adapter-apps.ts:Routes` / `:hono`; bench/node-router.ts
 * and bench/hono-node.ts serve the same objects on their usual servers.
 */
import { Hono } from "hono"
import * as HttpRouter from "effect/http/HttpRouter"
import * as HttpServerResponse from "effect/http/HttpServerResponse"

/** GET / → 200 text/plain "Hello, world!", as an HttpRouter route Layer. */
export const Routes = HttpRouter.add("GET", "/", HttpServerResponse.text("Hello, world!"))

/** GET / → 200 text/plain "Hello, world!", as a Hono app (a fetch handler). */
export const hono = new Hono().get("/", (c) => c.text("Hello, world!"))
