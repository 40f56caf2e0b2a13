/**
 * The page and its static files. `GET /` announces the stylesheet and the
 * script twice before its own response: a 103 Early Hints (spec.md §7.2)
 * and a server push of each (§7.1). A browser that refuses push (Chromium
 * sends SETTINGS_ENABLE_PUSH 0) gets the runner's fallback instead, a
 * `link: <…>; rel=preload` field on the page's head. The page then "thinks"
 * for `THINK_MS` — the time a real page spends on its data — which is the
 * gap Early Hints exist to fill: the browser fetches both files meanwhile.
 */
import { Effect } from "effect"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import type { HttpScope, Send } from "../../src/index.ts"
import { notFound } from "./http.ts"

/** The static files, served as they are on disk. */
export const STATIC = fileURLToPath(new URL("./static/", import.meta.url))

/** What the page's head needs first: announced by 103 and by push. */
export const CRITICAL = ["/static/app.css", "/static/app.js"] as const

/** How long `GET /` waits between its hints and its response (ms; `?think=` overrides). */
export const THINK_MS = 150

const types: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".svg": "image/svg+xml"
}

/** A file under `STATIC` by its name, through `http.response.pathsend` (the runner answers Range and conditionals). */
const file = (send: Send, name: string) =>
  Effect.gen(function*() {
    const full = path.resolve(STATIC, name)
    if (!full.startsWith(STATIC)) return yield* notFound(send)
    yield* send({
      type: "http.response.start",
      status: 200,
      headers: [["content-type", types[path.extname(full)] ?? "application/octet-stream"], ["cache-control", "max-age=60"]]
    })
    yield* send({ type: "http.response.pathsend", path: full }).pipe(Effect.catchTag("FileSendError", () => notFound(send)))
  })

/** `GET /`: 103 with the critical files, a push of each (or its preload link), the think time, then index.html. */
export const index = (scope: HttpScope, send: Send) =>
  Effect.gen(function*() {
    const hints = CRITICAL.map((p) => `<${p}>; rel=preload; as=${p.endsWith(".css") ? "style" : "script"}`)
    if (scope.extensions["http.response.early_hint"] !== undefined) {
      yield* send({ type: "http.response.early_hint", links: hints })
    }
    for (const p of CRITICAL) yield* send({ type: "http.response.push", path: p })
    const asked = Number(new URLSearchParams(scope.queryString).get("think") ?? THINK_MS)
    yield* Effect.sleep(Number.isFinite(asked) && asked >= 0 ? Math.min(asked, 5000) : THINK_MS)
    yield* file(send, "index.html")
  })

/** `GET /static/<name>`. */
export const asset = (scope: HttpScope, send: Send) => file(send, scope.path.slice("/static/".length))
