/**
 * `egi.upgrade` (spec.md §10.6, after PJE on Web-SIG, 2014): the tagged
 * response that asks the shim to run an async app on the stream.
 */
import { randomUUID } from "node:crypto"
import type { ClassicBody, ClassicHeaders, Upgrade } from "./classic.ts"
import type { ModuleRef } from "./wire.ts"

/** The status of a tagged response: what a client sees if a middleware altered it. */
export const UPGRADE_STATUS = "501 Not Implemented"

/** The header that carries the tag; the shim never sends it (spec.md §10.6, rule CLASSIC-14). */
export const UPGRADE_HEADER = "egi-upgrade"

/** What `egi.upgrade` registered for this request (spec.md §10.6). */
export interface UpgradeToken {
  readonly app: ModuleRef
  readonly status: string
  /** The tagged header list: its `egi-upgrade` field holds `marker`. */
  readonly headers: ClassicHeaders
  readonly marker: string
  readonly body: ClassicBody
  /** What `body` yields: a copy of the body counts as the body when it yields exactly these bytes. */
  readonly bytes: Uint8Array
}

const fallback = new TextEncoder().encode(
  "This resource needs the EGI async API; a middleware altered the upgrade response, so it was sent as is.\n"
)

/**
 * Makes `egi.upgrade` for one request: each call registers a token in
 * `tokens` (a middleware may run several sub-requests) and calls
 * `startResponse` with its status and headers. The body is an iterable that
 * yields the fallback text if anyone iterates it (a middleware that copies
 * it passes the copy on: the shim still recognises it by its bytes).
 */
export const makeUpgrade = (tokens: Array<UpgradeToken>): Upgrade => (app, startResponse) => {
  if (typeof app?.module !== "string" || typeof app.export !== "string") {
    throw new TypeError("egi.upgrade takes { module, export } naming an EGI app")
  }
  const marker = randomUUID()
  const headers = [["content-type", "text/plain; charset=utf-8"], [UPGRADE_HEADER, marker]] as const
  const body = { *[Symbol.iterator]() { yield fallback } }
  tokens.push({ app: { module: app.module, export: app.export }, status: UPGRADE_STATUS, headers, marker, body, bytes: fallback })
  startResponse(UPGRADE_STATUS, headers)
  return body
}
