/**
 * `egi/fetch`: the fetch adapters (spec.md §12.2). `fromFetch` serves a
 * WinterTC fetch handler — `(request: Request) => Response`, a Hono app —
 * as an EGI app; `toFetch` runs an EGI app as a fetch handler on any
 * fetch-based runtime (Deno, Bun, Cloudflare Workers, `@hono/node-server`).
 *
 * ```ts
 * import { Hono } from "hono"
 * import { fromFetch } from "egi/fetch"
 *
 * const app = new Hono().get("/", (c) => c.text("hello"))
 * export default fromFetch(app)          // npx egi serve app.ts
 * ```
 *
 * @since 0.5.0
 */
export {
  type ExecutionContext,
  type FetchHandler,
  FetchHandlerError,
  fromFetch,
  type FromFetchOptions,
  scopeOf
} from "./from-fetch.ts"
export { type EgiFetchHandler, toFetch, type ToFetchOptions } from "./to-fetch.ts"
