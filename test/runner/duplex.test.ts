/**
 * HTTP-28: a stream is full duplex. With examples/duplex.ts, a client that
 * sends each chunk only after it has read the echo of the one before gets
 * through: the response head and every echo arrive while the request body is
 * still open — over HTTP/2 (node:http2) and HTTP/1.1 (node:http, chunked).
 */
import * as http from "node:http"
import type * as http2 from "node:http2"
import { describe, expect, it } from "vitest"
import duplex from "../../examples/duplex.ts"
import type { App } from "../../src/protocol/app.ts"
import { closeSession, connect } from "../support/h2client.ts"
import { useServer } from "../support/server.ts"

const server = useServer(duplex as App)

/** Resolves with the next `data` chunk of `readable`. */
const nextData = (readable: NodeJS.ReadableStream): Promise<string> =>
  new Promise((resolve) => readable.once("data", (c: Buffer) => resolve(c.toString())))

describe("full duplex (spec.md §4.6)", () => {
  it("HTTP-28: on one HTTP/2 stream, each chunk is echoed before the client sends the next", async () => {
    const session: http2.ClientHttp2Session = await connect(server().url)
    const stream = session.request({ ":method": "POST", ":path": "/" })
    const status = await new Promise<number>((resolve) => stream.once("response", (h) => resolve(Number(h[":status"]))))
    expect(status).toBe(200) // before any request body was sent
    const echoes: Array<string> = []
    for (let i = 1; i <= 5; i++) {
      const echoed = nextData(stream)
      stream.write(`chunk ${i};`)
      echoes.push(await echoed)
    }
    expect(echoes).toEqual(["chunk 1;", "chunk 2;", "chunk 3;", "chunk 4;", "chunk 5;"])
    const closed = new Promise((resolve) => stream.once("close", resolve))
    stream.end()
    stream.resume()
    await closed
    expect(stream.rstCode).toBe(0)
    await closeSession(session)
  })

  it("HTTP-28: on HTTP/1.1 too, the response streams while the chunked request is still open", async () => {
    const req = http.request({ host: "127.0.0.1", port: server().port, method: "POST", path: "/", headers: { "transfer-encoding": "chunked" } })
    req.flushHeaders()
    const res = await new Promise<http.IncomingMessage>((resolve) => req.once("response", resolve))
    expect(res.statusCode).toBe(200)
    const echoes: Array<string> = []
    for (let i = 1; i <= 3; i++) {
      const echoed = nextData(res)
      req.write(`h1 ${i};`)
      echoes.push(await echoed)
    }
    expect(echoes).toEqual(["h1 1;", "h1 2;", "h1 3;"])
    const ended = new Promise((resolve) => res.once("end", resolve))
    req.end()
    res.resume()
    await ended
  })
})
