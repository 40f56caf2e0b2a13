/**
 * examples/effect-router.ts on the wire (spec.md §12.1), over h2c and
 * HTTP/1.1: routes, JSON, a streamed response, a streamed upload echo of a
 * multi-MiB body, and a file download that goes out as pathsend.
 */
import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import app, { downloadPath, layer } from "../../../examples/effect-router.ts"
import { pseudoRandomBytes } from "../../support/bytes.ts"
import { request } from "../../support/h2client.ts"
import { useServer, useSession } from "../../support/server.ts"

const server = useServer(app, { accessLog: false }, layer)
const session = useSession(server)

const h2 = (path: string, method = "GET", body?: ReadonlyArray<Uint8Array>, extra: Record<string, string> = {}) =>
  request(session(), { ":method": method, ":path": path, ...extra }, body)

describe("examples/effect-router.ts over h2c", () => {
  it("routes, path parameters and JSON", async () => {
    const root = await h2("/")
    expect(root.status).toBe(200)
    expect(root.body.toString()).toBe("hello from an HttpRouter on EGI\n")
    const user = await h2("/users/42")
    expect(user.headers["content-type"]).toBe("application/json")
    expect(JSON.parse(user.body.toString())).toEqual({ id: "42", name: "user 42" })
    expect((await h2("/nope")).status).toBe(404)
  })

  it("HTTPAPP-4 a streamed response arrives whole", async () => {
    const res = await h2("/stream")
    expect(res.status).toBe(200)
    expect(res.body.toString()).toBe([1, 2, 3, 4, 5].map((n) => `line ${n}\n`).join(""))
  })

  it("HTTPAPP-2 a 6 MiB upload is echoed byte-exact, streamed", async () => {
    const bytes = pseudoRandomBytes(6 * 1024 * 1024 + 17, 7)
    const chunks = Array.from({ length: Math.ceil(bytes.length / 65536) }, (_, i) => bytes.subarray(i * 65536, (i + 1) * 65536))
    const res = await h2("/upload", "POST", chunks, { "content-type": "application/x-test" })
    expect(res.status).toBe(200)
    expect(res.headers["content-type"]).toBe("application/x-test")
    expect(res.body.equals(bytes)).toBe(true)
  })

  it("HTTPAPP-6 HttpServerResponse.file goes out as pathsend: byte-exact, with the runner's accept-ranges and Range answer", async () => {
    const file = readFileSync(downloadPath)
    const res = await h2("/file")
    expect(res.status).toBe(200)
    expect(res.headers["content-length"]).toBe(String(file.length))
    expect(res.headers["accept-ranges"]).toBe("bytes") // added by the runner's file plan (spec.md §7.9), not by effect
    expect(res.body.equals(file)).toBe(true)
    const range = await h2("/file", "GET", undefined, { range: "bytes=3-12" })
    expect(range.status).toBe(206)
    expect(range.body.equals(file.subarray(3, 13))).toBe(true)
    const head = await h2("/file", "HEAD")
    expect(head.status).toBe(200)
    expect(head.headers["content-length"]).toBe(String(file.length))
    expect(head.body.length).toBe(0)
    const etag = res.headers["etag"] as string
    const notModified = await h2("/file", "GET", undefined, { "if-none-match": etag })
    expect(notModified.status).toBe(304)
  })
})

describe("examples/effect-router.ts over HTTP/1.1", () => {
  it("routes, JSON and the streamed response", async () => {
    const root = await fetch(`${server().url}/`)
    expect(await root.text()).toBe("hello from an HttpRouter on EGI\n")
    const json = await fetch(`${server().url}/json`)
    expect(await json.json()).toEqual({ server: "egi", interface: "effect-http" })
    const stream = await fetch(`${server().url}/stream`)
    expect(await stream.text()).toBe([1, 2, 3, 4, 5].map((n) => `line ${n}\n`).join(""))
  })

  it("a 6 MiB upload is echoed byte-exact", async () => {
    const bytes = pseudoRandomBytes(6 * 1024 * 1024 + 5, 11)
    const res = await fetch(`${server().url}/upload`, { method: "POST", body: bytes })
    expect(res.status).toBe(200)
    expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true)
  })

  it("HTTPAPP-6 the file download is byte-exact with content-length, via pathsend", async () => {
    const file = readFileSync(downloadPath)
    const res = await fetch(`${server().url}/file`)
    expect(res.headers.get("content-length")).toBe(String(file.length))
    expect(res.headers.get("accept-ranges")).toBe("bytes")
    expect(Buffer.from(await res.arrayBuffer()).equals(file)).toBe(true)
  })
})
