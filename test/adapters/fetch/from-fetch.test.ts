/**
 * `fromFetch` on the wire (spec.md §12.2): the request body's read credit,
 * `request.signal` when the client leaves (the other streams of the
 * connection untouched), the Fetch API's view of the fields beside the raw
 * ones (`scopeOf`), what a handler's failure becomes, and the requests that
 * cannot be a `Request`.
 */
import { Effect } from "effect"
import { once } from "node:events"
import * as http from "node:http"
import { describe, expect, it } from "vitest"
import { fromFetch, scopeOf } from "../../../src/adapters/fetch/index.ts"
import { request as memoryRequest } from "../../../src/testing/index.ts"
import { deferred, settle, sleep, within } from "../../support/async.ts"
import { rawHttp, statusOf, until } from "../../support/clients.ts"
import { cancel, closeSession, collect, connect, request as h2request, writeChunks } from "../../support/h2client.ts"
import { useServers } from "../../support/server.ts"
import { sha256, uploadChunks } from "./support.ts"

const KiB = 1024
const MiB = 1024 * KiB
const { serve, defer } = useServers({ drainTimeout: 500 })

const hello = () => new Response("hello\n")

describe("FETCH-1: the Request body pulls receive", () => {
  it("FETCH-1 HTTP-11: a handler that read one chunk and waits bounds a 16 MiB h2 upload under 1 MiB on the wire; then it completes intact", async () => {
    const total = 16 * MiB
    const { chunks, sha256: expected } = uploadChunks(total)
    const go = deferred()
    const started = deferred()
    defer(() => go.resolve())
    const server = await serve(fromFetch(async (request) => {
      const reader = request.body!.getReader()
      const hash = (await import("node:crypto")).createHash("sha256")
      let length = 0
      const first = await reader.read()
      if (!first.done) {
        hash.update(first.value)
        length += first.value.length
      }
      started.resolve()
      await go.promise
      for (let r = await reader.read(); !r.done; r = await reader.read()) {
        hash.update(r.value)
        length += r.value.length
      }
      return Response.json({ length, sha256: hash.digest("hex") })
    }))
    const session = await connect(server.url)
    defer(() => closeSession(session))
    const socket = session.socket
    const before = socket.bytesWritten
    const stream = session.request({ ":method": "POST", ":path": "/upload" })
    const result = collect(stream)
    const writer = writeChunks(stream, chunks)
    await within(started.promise, 5000, "the handler's first read")
    const [a, b] = await settle(() => socket.bytesWritten - before)
    expect(b).toBe(a)
    expect(a).toBeLessThan(1 * MiB)
    go.resolve()
    await within(writer, 10_000, "the upload")
    const r = await within(result, 10_000, "the response")
    expect(r.status).toBe(200)
    expect(JSON.parse(r.body.toString())).toEqual({ length: total, sha256: expected })
  })

  it("FETCH-1: GET and HEAD get a null body; other methods a ReadableStream with duplex half", async () => {
    const seen: Array<string> = []
    const app = fromFetch((request) => {
      seen.push(`${request.method} ${request.body === null ? "null" : "stream"} ${request.duplex}`)
      return new Response(null, { status: 204 })
    })
    for (const method of ["GET", "HEAD", "POST", "DELETE"]) {
      const r = await Effect.runPromise(memoryRequest(app, { method }))
      expect(r.status).toBe(204)
    }
    expect(seen).toEqual(["GET null half", "HEAD null half", "POST stream half", "DELETE stream half"])
  })
})

describe("FETCH-2: request.signal aborts when the client leaves", () => {
  it("FETCH-2 RUN-5: h2: a client reset mid-upload aborts the signal and errors the body; another stream on the connection is unaffected", async () => {
    const aborted = deferred<string>()
    const readFailed = deferred<string>()
    const server = await serve(fromFetch(async (request) => {
      if (request.method === "GET") return hello()
      request.signal.addEventListener("abort", () => aborted.resolve(String((request.signal.reason as DOMException).name)))
      try {
        const reader = request.body!.getReader()
        while (!(await reader.read()).done) { /* read on */ }
      } catch (e) {
        readFailed.resolve((e as DOMException).name)
      }
      return new Response("never seen")
    }))
    const session = await connect(server.url)
    defer(() => closeSession(session))
    const upload = session.request({ ":method": "POST", ":path": "/up" })
    upload.on("error", () => {})
    upload.write(Buffer.alloc(256 * KiB, 1))
    await sleep(100)
    cancel(upload)
    expect(await within(aborted.promise, 3000, "the signal")).toBe("AbortError")
    expect(await within(readFailed.promise, 3000, "the body read to fail")).toBe("AbortError")
    const other = await h2request(session, { ":path": "/" })
    expect(other.status).toBe(200)
    expect(other.body.toString()).toBe("hello\n")
  })

  it("FETCH-2 RUN-5: h2: a client reset mid-response aborts the signal of a streaming handler and cancels its body; another stream is unaffected", async () => {
    const aborted = deferred()
    const cancelled = deferred()
    const server = await serve(fromFetch((request) => {
      if (request.url.endsWith("/hello")) return hello()
      request.signal.addEventListener("abort", () => aborted.resolve())
      let timer: ReturnType<typeof setInterval> | undefined
      return new Response(new ReadableStream({
        start: (c) => void (timer = setInterval(() => c.enqueue(new TextEncoder().encode("tick\n")), 20)),
        cancel: () => {
          clearInterval(timer)
          cancelled.resolve()
        }
      }))
    }))
    const session = await connect(server.url)
    defer(() => closeSession(session))
    const stream = session.request({ ":path": "/ticks" }, { endStream: true })
    stream.on("error", () => {})
    await once(stream, "data")
    cancel(stream)
    await within(aborted.promise, 3000, "the signal")
    await within(cancelled.promise, 3000, "the body's cancel")
    const other = await h2request(session, { ":path": "/hello" })
    expect(other.status).toBe(200)
  })

  it("FETCH-2: HTTP/1.1: the client closing its connection while the handler waits aborts the signal", async () => {
    const aborted = deferred()
    const started = deferred()
    const server = await serve(fromFetch(async (request) => {
      started.resolve()
      await new Promise<void>((resolve) => request.signal.addEventListener("abort", () => resolve()))
      aborted.resolve()
      return hello()
    }))
    const req = http.request({ host: "127.0.0.1", port: server.port, path: "/wait", agent: false })
    req.on("error", () => {})
    req.end()
    await within(started.promise, 3000, "the handler")
    req.destroy()
    await within(aborted.promise, 3000, "the signal")
  })

  it("FETCH-2 FETCH-3: a signal first read after the client left is already aborted; a clone has the same signal and scope; the Request is a real Request", async () => {
    const seen = deferred<unknown>()
    const server = await serve(fromFetch(async (request) => {
      const copy = request.clone()
      const derived = new Request(request.clone(), { headers: { "x-derived": "1" }, duplex: "half" } as RequestInit)
      try {
        const reader = request.body!.getReader()
        while (!(await reader.read()).done) { /* read on */ }
      } catch {
        // The signal is read only now, after the disconnect.
        seen.resolve({
          aborted: request.signal.aborted,
          reason: (request.signal.reason as DOMException).name,
          clone: [copy.signal.aborted, scopeOf(copy) === scopeOf(request)],
          instance: request instanceof Request && copy instanceof Request,
          derived: [derived.method, derived.url === request.url, scopeOf(derived)]
        })
      }
      return hello()
    }))
    const req = http.request({ host: "127.0.0.1", port: server.port, method: "POST", path: "/up", agent: false })
    req.on("error", () => {})
    req.write(Buffer.alloc(64 * KiB, 1))
    await sleep(100)
    req.destroy()
    expect(await within(seen.promise, 3000, "the handler")).toEqual({
      aborted: true,
      reason: "AbortError",
      clone: [true, true],
      instance: true,
      derived: ["POST", true, undefined]
    })
  })
})

describe("FETCH-3: the Request's URL and fields", () => {
  it("FETCH-3 HTTP-12: Headers joins and sorts the fields; scopeOf(request) keeps them as sent; a percent-encoded target is kept", async () => {
    let seen: unknown
    const server = await serve(fromFetch((request) => {
      const url = new URL(request.url)
      seen = {
        pathname: url.pathname,
        search: url.search,
        host: url.host === `127.0.0.1:${server.port}`,
        xa: request.headers.get("x-a"),
        names: [...request.headers.keys()].filter((n) => n.startsWith("x-")),
        raw: scopeOf(request)!.headers.filter(([n]) => n.startsWith("x-")),
        rawPath: scopeOf(request)!.rawPath
      }
      return hello()
    }))
    const r = await rawHttp(server.port, [
      `GET /caf%C3%A9/x?q=1&r=1 HTTP/1.1\r\nhost: 127.0.0.1:${server.port}\r\nX-Z: last\r\nX-A: 1\r\nx-b: 2\r\nx-a: 3\r\nconnection: close\r\n\r\n`
    ])
    expect(statusOf(r.text)).toBe(200)
    expect(seen).toEqual({
      pathname: "/caf%C3%A9/x",
      search: "?q=1&r=1",
      host: true,
      xa: "1, 3",
      names: ["x-a", "x-b", "x-z"],
      raw: [["x-z", "last"], ["x-a", "1"], ["x-b", "2"], ["x-a", "3"]],
      rawPath: "/caf%C3%A9/x"
    })
  })

  it("FETCH-3 HTTP-13: raw octets 0x80-0xFF of the target reach the URL percent-encoded, once (in memory: node:http refuses them)", async () => {
    let url = ""
    const app = fromFetch((request) => {
      url = request.url
      return hello()
    })
    expect((await Effect.runPromise(memoryRequest(app, { path: "/caf\xe9/%41?q=\xff&a#b" }))).status).toBe(200)
    expect(url).toBe("http://test.invalid/caf%E9/%41?q=%FF&a%23b")
  })

  it("FETCH-3: h2: the Request has a host field from :authority, and scopeOf is undefined for other Requests", async () => {
    let host: string | null = null
    const server = await serve(fromFetch((request) => {
      host = request.headers.get("host")
      return hello()
    }))
    const session = await connect(server.url)
    defer(() => closeSession(session))
    expect((await h2request(session, { ":path": "/", ":authority": "example.test:8443" })).status).toBe(200)
    expect(host).toBe("example.test:8443")
    expect(scopeOf(new Request("http://x/"))).toBeUndefined()
  })
})

describe("FETCH-5: a handler's failure is the app's", () => {
  const cases: Array<[string, () => unknown]> = [
    ["throws", () => {
      throw new Error("boom")
    }],
    ["rejects", () => Promise.reject(new Error("boom"))],
    ["returns a string", () => "not a response"],
    ["resolves undefined", () => Promise.resolve(undefined)],
    ["returns Response.error()", () => Response.error()]
  ]
  it.each(cases)("FETCH-5 RUN-2: a handler that %s → 500, and the connection serves on", async (_name, handler) => {
    const server = await serve(fromFetch((request) => (new URL(request.url).pathname === "/ok" ? hello() : handler()) as Response))
    const session = await connect(server.url)
    defer(() => closeSession(session))
    expect((await h2request(session, { ":path": "/bad" })).status).toBe(500)
    expect((await h2request(session, { ":path": "/ok" })).status).toBe(200)
    await until(() => server.lines.error.some((l) => l.includes("FetchHandlerError")), "the error line")
  })

  it("FETCH-5 RUN-3: a body stream that errors after its first chunk resets the h2 stream (INTERNAL_ERROR)", async () => {
    const server = await serve(fromFetch(() =>
      new Response(new ReadableStream({
        start: (c) => c.enqueue(new TextEncoder().encode("partial")),
        pull: async (c) => {
          await sleep(20)
          c.error(new Error("the source broke"))
        }
      }))
    ))
    const session = await connect(server.url)
    defer(() => closeSession(session))
    const r = await h2request(session, { ":path": "/" })
    expect(r.status).toBe(200)
    expect(r.rstCode).toBe(2)
  })
})

describe("FETCH-6: requests that cannot be a Request", () => {
  it("FETCH-6: OPTIONS * and TRACE get 501, without calling the handler", async () => {
    let calls = 0
    const server = await serve(fromFetch(() => {
      calls++
      return hello()
    }))
    for (const line of ["OPTIONS * HTTP/1.1", "TRACE / HTTP/1.1"]) {
      const r = await rawHttp(server.port, [`${line}\r\nhost: x\r\nconnection: close\r\n\r\n`])
      expect(statusOf(r.text), line).toBe(501)
    }
    expect(calls).toBe(0)
  })

  it("FETCH-6: CONNECT and TRACK get 501 and a target that is not a path 400, without calling the handler (in memory)", async () => {
    let calls = 0
    const app = fromFetch(() => {
      calls++
      return hello()
    })
    expect((await Effect.runPromise(memoryRequest(app, { method: "CONNECT", path: "" }))).status).toBe(501)
    expect((await Effect.runPromise(memoryRequest(app, { method: "TRACK", path: "/" }))).status).toBe(501)
    expect((await Effect.runPromise(memoryRequest(app, { method: "GET", path: "*" }))).status).toBe(400)
    expect(calls).toBe(0)
  })
})

describe("FETCH-4: the Response", () => {
  it("FETCH-4: the echo body and the one-chunk body round-trip; 204 drops content-length; HEAD sends no body", async () => {
    const app = fromFetch(async (request) => {
      const path = new URL(request.url).pathname
      if (path === "/echo") return new Response(await request.arrayBuffer())
      if (path === "/204") return new Response(null, { status: 204, headers: { "content-length": "0", "x-k": "v" } })
      return new Response("body for GET", { headers: { "content-length": "12" } })
    })
    const echo = await Effect.runPromise(memoryRequest(app, { method: "POST", path: "/echo", body: ["ab", "", "cd"] }))
    expect(echo.text).toBe("abcd")
    const nc = await Effect.runPromise(memoryRequest(app, { path: "/204" }))
    expect(nc.status).toBe(204)
    expect(nc.headers).toEqual([["x-k", "v"]])
    const head = await Effect.runPromise(memoryRequest(app, { method: "HEAD", path: "/" }))
    expect(head.headers).toContainEqual(["content-length", "12"])
    expect(head.body.length).toBe(0)
    const sums = sha256(Buffer.from("abcd"))
    expect(sums).toHaveLength(64)
  })
})
