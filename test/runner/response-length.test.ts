/**
 * HTTP-17: a response body matches the content-length the app declared;
 * the client never takes a truncated or padded body for a whole one.
 */
import { Effect } from "effect"
import * as http2 from "node:http2"
import { describe, expect, it } from "vitest"
import type { App } from "../../src/protocol/app.ts"
import { unsupportedScope } from "../../src/protocol/unsupported.ts"
import { bodyOf, rawHttp, statusOf } from "../support/clients.ts"
import { useServer } from "../support/server.ts"

const rules: Array<string> = []
const bytes = (n: number) => new Uint8Array(n).fill(97)

/** `/?declared=D&chunks=a,b,c`: declares D, sends the chunks, the last one final. */
const app: App = (scope, _receive, send) => {
  if (scope.type !== "http") return unsupportedScope(scope)
  const q = new URLSearchParams(scope.queryString)
  const chunks = (q.get("chunks") ?? "").split(",").filter((c) => c !== "").map(Number)
  return Effect.gen(function*() {
    yield* send({ type: "http.response.start", status: 200, headers: [["content-length", q.get("declared") ?? "0"]] })
    for (const [i, n] of chunks.entries()) {
      yield* send({ type: "http.response.body", body: bytes(n), moreBody: i < chunks.length - 1 })
    }
  }).pipe(Effect.tapError((e) => Effect.sync(() => void rules.push((e as { rule?: string }).rule ?? String(e)))))
}

const server = useServer(app)

const h2get = (path: string) =>
  new Promise<{ status: number | undefined; body: number; rstCode: number | undefined }>((resolve) => {
    const client = http2.connect(server().url)
    const req = client.request({ ":path": path })
    let status: number | undefined
    let body = 0
    req.on("response", (h) => (status = Number(h[":status"])))
    req.on("data", (d: Buffer) => (body += d.length))
    req.on("error", () => {})
    req.on("close", () => {
      resolve({ status, body, rstCode: req.rstCode })
      client.close()
    })
  })

describe("response length (spec.md §4.5)", () => {
  it("HTTP-17: a single body shorter or longer than the declared content-length gives 500, not a cut or padded 200", async () => {
    rules.length = 0
    expect(await h2get("/?declared=10&chunks=5")).toMatchObject({ status: 500 })
    expect(await h2get("/?declared=10&chunks=20")).toMatchObject({ status: 500 })
    const h1 = await rawHttp(server().port, ["GET /?declared=10&chunks=5 HTTP/1.1\r\nHost: x\r\nconnection: close\r\n\r\n"])
    expect(statusOf(h1.text)).toBe(500)
    expect(rules).toEqual(["HTTP-17", "HTTP-17", "HTTP-17"])
  })

  it("HTTP-17: a streamed body that would overrun its content-length resets the stream after the bytes that fit", async () => {
    rules.length = 0
    const r = await h2get("/?declared=10&chunks=6,6")
    expect(r.status).toBe(200)
    expect(r.body).toBe(6)
    expect(r.rstCode).toBe(http2.constants.NGHTTP2_INTERNAL_ERROR)
    expect(rules).toEqual(["HTTP-17"])
  })

  it("HTTP-17: an exact body and a malformed content-length value", async () => {
    rules.length = 0
    expect(await h2get("/?declared=10&chunks=4,6")).toMatchObject({ status: 200, body: 10 })
    const h1 = await rawHttp(server().port, ["GET /?declared=ten&chunks=3 HTTP/1.1\r\nHost: x\r\nconnection: close\r\n\r\n"])
    expect(statusOf(h1.text)).toBe(500)
    expect(bodyOf(h1.text)).toContain("Internal Server Error")
    expect(rules).toEqual(["HTTP-17"])
  })
})
