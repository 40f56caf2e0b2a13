/**
 * examples/hono.ts on the wire, over h2c and HTTP/1.1 (spec.md §12.2):
 * `fromFetch(hono)` served by the runner — routing, JSON both ways, the
 * streamed upload echo (a multi-MiB body, byte-exact), a streamed response,
 * two `set-cookie` fields that stay two.
 */
import { describe, expect, it } from "vitest"
import app from "../../../examples/hono.ts"
import { useServer, useSession } from "../../support/server.ts"
import { fieldValues, type Protocol, send, sha256, uploadChunks } from "./support.ts"

const MiB = 1024 * 1024
const server = useServer(app)
const session = useSession(server)
const target = { get port() { return server().port }, session }

describe.each<Protocol>(["h2c", "http/1.1"])("examples/hono.ts over %s", (protocol) => {
  it("FETCH-4: GET / answers the text with a content-length (one chunk goes out as one last body)", async () => {
    const r = await send(protocol, target, "GET", "/")
    expect(r.status).toBe(200)
    expect(r.body.toString()).toBe("hello from Hono on EGI\n")
    expect(fieldValues(r, "content-type")[0]).toMatch(/^text\/plain;/)
    expect(fieldValues(r, "content-length")).toEqual([String(r.body.length)])
  })

  it("FETCH-3: routing and JSON: GET /hello/:name?query", async () => {
    const r = await send(protocol, target, "GET", "/hello/ada?lang=en&x=1")
    expect(r.status).toBe(200)
    expect(fieldValues(r, "content-type")[0]).toMatch(/^application\/json/)
    expect(JSON.parse(r.body.toString())).toEqual({ hello: "ada", query: { lang: "en", x: "1" } })
  })

  it("FETCH-1: POST /json parses the request body; malformed JSON gets 400; unknown route 404", async () => {
    const ok = await send(protocol, target, "POST", "/json", [Buffer.from('{"a":[1,'), Buffer.from('2,3]}')], { "content-type": "application/json" })
    expect(ok.status).toBe(201)
    expect(JSON.parse(ok.body.toString())).toEqual({ received: { a: [1, 2, 3] } })
    const bad = await send(protocol, target, "POST", "/json", [Buffer.from("{nope")], { "content-type": "application/json" })
    expect(bad.status).toBe(400)
    const missing = await send(protocol, target, "GET", "/nowhere")
    expect(missing.status).toBe(404)
  })

  it("FETCH-1 FETCH-4 HTTP-14: POST /echo streams an 8 MiB upload back byte-exact, with its content-type", async () => {
    const { chunks, sha256: expected } = uploadChunks(8 * MiB)
    const r = await send(protocol, target, "POST", "/echo", chunks, { "content-type": "application/x-test" })
    expect(r.status).toBe(200)
    expect(fieldValues(r, "content-type")).toEqual(["application/x-test"])
    expect(r.body.length).toBe(8 * MiB)
    expect(sha256(r.body)).toBe(expected)
  })

  it("FETCH-4: GET /stream streams its lines as they are written (no content-length)", async () => {
    const r = await send(protocol, target, "GET", "/stream?chunks=4&delay=20")
    expect(r.status).toBe(200)
    expect(r.body.toString()).toBe("chunk 0\nchunk 1\nchunk 2\nchunk 3\n")
    expect(fieldValues(r, "content-length")).toEqual([])
  })

  it("FETCH-4: GET /cookies: two set-cookie fields stay two fields", async () => {
    const r = await send(protocol, target, "GET", "/cookies")
    expect(r.status).toBe(200)
    expect(fieldValues(r, "set-cookie")).toEqual(["session=abc; Path=/; HttpOnly", "theme=dark; Path=/"])
  })

  it("FETCH-1: HEAD / gets the head and no body", async () => {
    const r = await send(protocol, target, "HEAD", "/")
    expect(r.status).toBe(200)
    expect(r.body.length).toBe(0)
  })
})
