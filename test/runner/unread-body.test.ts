/**
 * A request body the app read only part of when its response was complete
 * (spec.md §4.3, HTTP-35): the client must not be left waiting to send the
 * rest. HTTP/2 ends the stream with RST_STREAM NO_ERROR after the complete
 * response (RFC 9113 §8.1); HTTP/1.1 closes the connection after the
 * response (`connection: close`), since the rest of the body was never
 * read. Raw frames and raw sockets.
 */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { rawHttp } from "../support/clients.ts"
import { ended, FrameType, frame, rawH2, requestHeaders, rstCode } from "../support/h2raw.ts"
import { httpApp } from "../support/outcome.ts"
import { listen } from "../support/server.ts"

const enc = new TextEncoder()

/** Reads one body chunk, then answers 200 "ok" and returns, the rest of the body unread. */
const readOnce = httpApp((_scope, receive, send) =>
  Effect.gen(function*() {
    yield* receive
    yield* send({ type: "http.response.start", status: 200, headers: [["content-length", "2"]] })
    yield* send({ type: "http.response.body", body: enc.encode("ok") })
  })
)

describe("HTTP-35: a body the app stopped reading", () => {
  it("HTTP-35: HTTP/2 — after the complete response the stream is reset with NO_ERROR, though the app read part of the body", async () => {
    const server = await listen(readOnce)
    try {
      const h2 = await rawH2(server.port, [
        requestHeaders(1, server.port, "/", [["content-length", "100000"]], false),
        frame(FrameType.DATA, 0, 1, new Uint8Array(1000))
      ])
      expect(await h2.until((f) => rstCode(f, 1) !== undefined, 3000)).toBe(true)
      expect(ended(h2.frames, 1)).toBe(true)
      expect(rstCode(h2.frames, 1)).toBe(0)
      h2.destroy()
    } finally {
      await server.close()
    }
  })

  it("HTTP-35: HTTP/1.1 — the response says connection: close and the server closes the connection, though the app read part of the body", async () => {
    const server = await listen(readOnce)
    try {
      const result = await rawHttp(server.port, ["POST / HTTP/1.1\r\nhost: h\r\ncontent-length: 100000\r\n\r\n" + "x".repeat(1000)])
      expect(result.text).toMatch(/^HTTP\/1\.1 200 /)
      expect(result.text.toLowerCase()).toContain("connection: close")
      expect(result.closed).toBe(true)
    } finally {
      await server.close()
    }
  })
})
