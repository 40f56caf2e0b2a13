/**
 * A Hono app served by EGI through `fromFetch` (spec.md §12.2): routing,
 * JSON both ways, a streamed upload echo and a streamed response. The same
 * `hono` object runs unchanged on `@hono/node-server`, Deno, Bun or
 * Workers; on EGI it gets HTTP/2 (h2c and TLS h2) beside HTTP/1.1.
 *
 *     npx egi serve examples/hono.ts
 *     curl --http2-prior-knowledge http://127.0.0.1:8000/hello/ada
 *     curl -T big.bin http://127.0.0.1:8000/echo -o copy.bin
 *     curl -N 'http://127.0.0.1:8000/stream?chunks=5&delay=200'
 *
 * - `GET /` — a text greeting;
 * - `GET /hello/:name` — JSON `{ hello, query }`;
 * - `POST /json` — parses a JSON body and answers `{ received }` with 201
 *   (400 on malformed JSON);
 * - `POST /echo` — streams the request body back as it arrives, never
 *   whole in memory (the response body *is* the request's stream), with
 *   the request's `content-type`;
 * - `GET /stream?chunks=N&delay=MS` — N lines, MS ms apart (defaults 5,
 *   100), stopping when the client goes away (`request.signal`);
 * - `GET /cookies` — two `set-cookie` fields.
 */
import { Hono } from "hono"
import { setCookie } from "hono/cookie"
import { stream } from "hono/streaming"
import { fromFetch } from "../src/adapters/fetch/index.ts"

const int = (value: string | undefined, fallback: number, max: number): number => {
  const n = Number(value ?? fallback)
  return Number.isInteger(n) && n >= 0 ? Math.min(n, max) : fallback
}

export const hono = new Hono()

hono.get("/", (c) => c.text("hello from Hono on EGI\n"))

hono.get("/hello/:name", (c) => c.json({ hello: c.req.param("name"), query: c.req.query() }))

hono.post("/json", async (c) => {
  let body: unknown
  try {
    body = await c.req.json()
  } catch {
    return c.json({ error: "malformed JSON" }, 400)
  }
  return c.json({ received: body }, 201)
})

hono.post("/echo", (c) =>
  new Response(c.req.raw.body, {
    headers: { "content-type": c.req.header("content-type") ?? "application/octet-stream" }
  }))

hono.get("/stream", (c) => {
  const chunks = int(c.req.query("chunks"), 5, 10_000)
  const delay = int(c.req.query("delay"), 100, 60_000)
  return stream(c, async (s) => {
    for (let i = 0; i < chunks && !s.aborted; i++) {
      if (i > 0) await s.sleep(delay)
      await s.write(`chunk ${i}\n`)
    }
  })
})

hono.get("/cookies", (c) => {
  setCookie(c, "session", "abc", { path: "/", httpOnly: true })
  setCookie(c, "theme", "dark", { path: "/" })
  return c.text("two cookies\n")
})

export default fromFetch(hono)
