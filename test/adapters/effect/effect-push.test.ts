/**
 * examples/effect-push.ts on the wire (spec.md §12.1 with §7.1, §7.3): an
 * HttpRouter handler that pushes its stylesheet and sends a
 * `server-timing` trailer through `EgiHttp`, over h2c (node:http2 client)
 * and HTTP/1.1 (where the push becomes a preload link).
 */
import type * as http2 from "node:http2"
import { describe, expect, it } from "vitest"
import app, { css, layer, page } from "../../../examples/effect-push.ts"
import { rawHttp } from "../../support/clients.ts"
import { closeSession, collect, connect } from "../../support/h2client.ts"
import { useServer } from "../../support/server.ts"

const server = useServer(app, { accessLog: false }, layer)

/** GET `path` on `session` with `te: trailers`: the response and its trailers. */
const get = (session: http2.ClientHttp2Session, path: string) => {
  const stream = session.request({ ":path": path, te: "trailers" })
  let trailers: http2.IncomingHttpHeaders | undefined
  stream.on("trailers", (h) => void (trailers = h))
  return collect(stream).then((r) => ({ ...r, trailers }))
}

describe("examples/effect-push.ts over h2c", () => {
  it("HTTPAPP-25: the HttpRouter handler's push reaches the client as a PUSH_PROMISE, served by the same router", async () => {
    const session = await connect(server().url)
    try {
      const pushed = new Promise<{ path: string; accept: string; type: string; body: string }>((resolve) => {
        session.once("stream", (stream: http2.ClientHttp2Stream, headers: http2.IncomingHttpHeaders) => {
          let type = ""
          stream.once("push", (h: http2.IncomingHttpHeaders) => void (type = String(h["content-type"])))
          collect(stream).then((r) => resolve({ path: String(headers[":path"]), accept: String(headers["accept"]), type, body: r.body.toString() }))
        })
      })
      const res = await get(session, "/")
      expect(res.status).toBe(200)
      expect(res.body.toString()).toBe(page)
      expect(res.headers["link"]).toBeUndefined()
      expect(await pushed).toEqual({ path: "/style.css", accept: "text/css", type: "text/css", body: css })
    } finally {
      await closeSession(session)
    }
  })

  it("HTTPAPP-23: the server-timing trailer set in the handler arrives after the body (HEADERS with END_STREAM)", async () => {
    const session = await connect(server().url, { settings: { enablePush: false } })
    try {
      const res = await get(session, "/")
      expect(res.status).toBe(200)
      expect(res.body.toString()).toBe(page)
      expect(res.trailers?.["server-timing"]).toMatch(/^app;dur=\d+\.\d\d$/)
      // Without push, the push is a preload link (spec.md §7.1).
      expect(res.headers["link"]).toBe("</style.css>; rel=preload; as=style")
    } finally {
      await closeSession(session)
    }
  })
})

describe("examples/effect-push.ts over HTTP/1.1", () => {
  it("HTTPAPP-25: the push becomes a link preload field; the page and the stylesheet are served", async () => {
    const res = await fetch(`${server().url}/`)
    expect(res.status).toBe(200)
    expect(res.headers.get("link")).toBe("</style.css>; rel=preload; as=style")
    expect(await res.text()).toBe(page)
    const style = await fetch(`${server().url}/style.css`)
    expect(style.headers.get("content-type")).toBe("text/css")
    expect(await style.text()).toBe(css)
  })

  it("HTTPAPP-23: with te: trailers the response goes chunked and ends with the server-timing trailer", async () => {
    const res = await rawHttp(server().port, ["GET / HTTP/1.1\r\nhost: x\r\nte: trailers\r\nconnection: close\r\n\r\n"])
    const [head, rest] = res.text.split("\r\n\r\n", 2) as [string, string]
    expect(head).toMatch(/\r\ntransfer-encoding: chunked/i)
    expect(head).not.toMatch(/\r\ncontent-length:/i)
    expect(res.text).toMatch(/\r\n0\r\nserver-timing: app;dur=\d+\.\d\d\r\n\r\n$/)
    expect(rest).toContain("pushed by an HttpRouter")
  })
})
