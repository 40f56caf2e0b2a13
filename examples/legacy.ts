/**
 * A classic (PEP 3333-style) blocking app, served through the sync shim:
 *
 * - `GET /` (or HEAD) → the environ's plain keys as JSON;
 * - `POST /upload` → reads `egi.input` with `read(65536)` in a loop and
 *   answers `{"bytes": N, "sha256": "…"}`;
 * - anything else → 404.
 *
 *     npx egi serve examples/legacy.ts
 *     curl --http2-prior-knowledge -T big.iso http://127.0.0.1:8000/upload
 *
 * The default export runs `legacy` in a pool of worker threads; each worker
 * imports this module once. `egi serve examples/legacy.ts:legacy
 * --sync-workers 8` serves the same function with 8 workers.
 */
import { createHash } from "node:crypto"
import { type ClassicApp, fromClassic } from "../src/index.ts"

export const legacy: ClassicApp = (environ, startResponse) => {
  const json = (status: string, value: unknown) => {
    startResponse(status, [["Content-Type", "application/json"]])
    return [JSON.stringify(value) + "\n"]
  }
  if ((environ.REQUEST_METHOD === "GET" || environ.REQUEST_METHOD === "HEAD") && environ.PATH_INFO === "/") {
    const plain = Object.fromEntries(
      Object.entries(environ).filter(([, v]) => v === null || typeof v !== "object" && typeof v !== "function")
    )
    return json("200 OK", plain)
  }
  if (environ.REQUEST_METHOD === "POST" && environ.PATH_INFO === "/upload") {
    const hash = createHash("sha256")
    let bytes = 0
    for (let chunk = environ["egi.input"].read(65536); chunk.length > 0; chunk = environ["egi.input"].read(65536)) {
      hash.update(chunk)
      bytes += chunk.length
    }
    return json("200 OK", { bytes, sha256: hash.digest("hex") })
  }
  return json("404 Not Found", { error: "not found" })
}

export default fromClassic({ module: import.meta.url, export: "legacy" })
