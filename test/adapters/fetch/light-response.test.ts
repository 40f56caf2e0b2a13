/**
 * FETCH-12: the light `Response` fromFetch installs. Each test file runs in
 * its own worker, so the global it replaces is this file's alone.
 */
import fc from "fast-check"
import * as http from "node:http"
import { describe, expect, it } from "vitest"
import { fromFetch } from "../../../src/adapters/fetch/index.ts"
import { LightResponse } from "../../../src/adapters/fetch/light-response.ts"
import { connect, request as h2request } from "../../support/h2client.ts"
import { useServers } from "../../support/server.ts"

const NativeResponse = globalThis.Response
const { serve } = useServers({ drainTimeout: 500 })

/** What a response shows, body included (read from a clone, then from the response itself). */
const observe = async (r: Response) => ({
  status: r.status,
  statusText: r.statusText,
  ok: r.ok,
  type: r.type,
  url: r.url,
  redirected: r.redirected,
  headers: [...r.headers],
  bodyNull: r.body === null,
  cloned: await r.clone().text(),
  text: await r.text(),
  usedAfter: r.bodyUsed
})

/** A view of a transferred (detached) ArrayBuffer. */
const detached = (): Uint8Array => {
  const bytes = new Uint8Array(4)
  structuredClone(bytes.buffer, { transfer: [bytes.buffer] })
  return bytes
}

/** The error `make` throws, as its class and message; undefined when it throws none. */
const thrown = (make: () => unknown): string | undefined => {
  try {
    make()
    return undefined
  } catch (e) {
    return `${(e as Error).constructor.name}: ${(e as Error).message}`
  }
}

describe("FETCH-12: the light Response", () => {
  it("FETCH-12: fromFetch makes globalThis.Response light (unless overrideGlobalResponse: false); instanceof holds both ways", () => {
    fromFetch(() => new Response(null), { overrideGlobalResponse: false })
    expect(globalThis.Response).toBe(NativeResponse)
    fromFetch(() => new Response(null))
    expect(globalThis.Response).toBe(LightResponse)
    const light = new Response("x")
    expect(light instanceof Response).toBe(true)
    expect(light instanceof NativeResponse).toBe(true)
    expect(Response.json({ a: 1 }) instanceof Response).toBe(true)
    expect(new NativeResponse("y") instanceof Response).toBe(true)
    expect(Object.prototype.toString.call(light)).toBe("[object Response]")
    expect(Response.error().status).toBe(0)
    expect(Response.redirect("http://127.0.0.1/", 302).headers.get("location")).toBe("http://127.0.0.1/")
    globalThis.Response = NativeResponse
  })

  const bodies = (): Array<string | Uint8Array | null | undefined> => ["héllo", new TextEncoder().encode("bytes"), new Uint8Array(0), "", null, undefined]
  const inits: ReadonlyArray<ResponseInit | undefined> = [
    undefined,
    {},
    { status: 201, statusText: "Created", headers: { "x-a": "1", "set-cookie": "a=1" } },
    { headers: [["content-type", "application/json"], ["x-b", "2"], ["x-b", "3"]] },
    { status: 404, headers: new Headers({ "x-c": "4" }) },
    { status: 599 }
  ]

  it("FETCH-12: for each body and init, the same fields and body as Node's Response", async () => {
    for (const body of bodies()) {
      for (const init of inits) {
        const expected = await observe(new NativeResponse(body, init))
        expect(await observe(new LightResponse(body, init) as unknown as Response), `${String(body)} ${JSON.stringify(init)}`).toEqual(expected)
      }
    }
  })

  it("FETCH-12: the constructor throws what Node's throws", () => {
    const cases: ReadonlyArray<readonly [unknown, ResponseInit]> = [
      ["x", { status: 99 }],
      ["x", { status: 600 }],
      ["x", { status: 204 }],
      ["x", { status: 304 }],
      [null, { status: 204 }],
      ["x", { statusText: "a\nb" }],
      ["x", { headers: { "x-a": "a\r\nb" } }],
      ["x", { headers: { "bad name": "1" } }],
      ["x", { status: 200.5 }],
      [new Uint8Array(new SharedArrayBuffer(4)), {}],
      ["x", { status: 204, headers: { "bad name": "1" } }],
      ["x", 5 as ResponseInit],
      ["x", "abc" as ResponseInit],
      [detached(), {}]
    ]
    for (const [body, init] of cases) {
      const native = thrown(() => new NativeResponse(body as string, init))
      expect(thrown(() => new LightResponse(body as string, init)), JSON.stringify(init)).toBe(native)
    }
    expect(LightResponse.name).toBe("Response")
    expect(LightResponse.length).toBe(NativeResponse.length)
    expect(thrown(() => new LightResponse("x", { status: 99 }))).toMatch(/^RangeError/)
  })

  it("FETCH-12: the bytes and the fields are copied at construction, a Buffer's too", async () => {
    const bytes = new TextEncoder().encode("abc")
    const fields = new Headers({ "x-a": "1" })
    const r = new LightResponse(bytes, { headers: fields }) as unknown as Response
    bytes[0] = 0x7a
    fields.set("x-a", "2")
    expect(r.headers.get("x-a")).toBe("1")
    expect(await r.text()).toBe("abc")
    const buffer = Buffer.from("def")
    const fromBuffer = new LightResponse(buffer) as unknown as Response
    buffer[0] = 0x7a
    expect(await fromBuffer.text()).toBe("def")
  })

  it("FETCH-12: fields changed after a clone, or a default content-type deleted, reach later clones, blob() and formData() as on Node's", async () => {
    for (const R of [NativeResponse, LightResponse as unknown as typeof Response]) {
      const r = new R("x", { headers: { a: "1" } })
      r.clone()
      r.headers.set("b", "2")
      expect([...r.clone().headers], R.name).toEqual([["a", "1"], ["b", "2"], ["content-type", "text/plain;charset=UTF-8"]])
    }
    const deleted = async (R: typeof Response) => {
      const r = new R("a=1")
      r.headers.delete("content-type")
      return { fields: [...r.clone().headers], type: (await r.blob()).type }
    }
    expect(await deleted(LightResponse as unknown as typeof Response)).toEqual(await deleted(NativeResponse))
  })

  it("FETCH-12: a subclass declared after the override tests instanceof as usual", () => {
    globalThis.Response = LightResponse as unknown as typeof Response
    try {
      class Mine extends Response {}
      expect(new Mine("a") instanceof Mine).toBe(true)
      expect(new Mine("a") instanceof Response).toBe(true)
      expect(new Response("z") instanceof Mine).toBe(false)
      expect(new NativeResponse("z") instanceof Mine).toBe(false)
    } finally {
      globalThis.Response = NativeResponse
    }
  })

  it("FETCH-12: a body read once is used: a second read and a clone fail as Node's do", async () => {
    const r = new LightResponse("once") as unknown as Response
    expect(await r.text()).toBe("once")
    expect(r.bodyUsed).toBe(true)
    await expect(r.text()).rejects.toThrow(TypeError)
    expect(() => r.clone()).toThrow(TypeError)
  })

  it("FETCH-12: fast-check: any text or bytes body, status and fields look the same as through Node's Response", async () => {
    const token = fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/)
    const value = fc.stringMatching(/^[\x21-\x7e]([\x20-\x7e]{0,18}[\x21-\x7e])?$/)
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.string({ unit: "grapheme" }), fc.uint8Array({ maxLength: 256 }), fc.constant(null)),
        fc.integer({ min: 200, max: 599 }).filter((s) => s !== 204 && s !== 205 && s !== 304),
        fc.array(fc.tuple(token, value), { maxLength: 6 }),
        async (body, status, fields) => {
          const expected = await observe(new NativeResponse(body, { status, headers: fields }))
          expect(await observe(new LightResponse(body, { status, headers: fields }) as unknown as Response)).toEqual(expected)
        }
      ),
      { numRuns: 200 }
    )
  })
})

describe("FETCH-12: light responses on the wire", () => {
  it("FETCH-12 FETCH-4: text goes out as UTF-8 with its default content-type and a content-length, without a stream; fields set after construction are sent; HEAD has no body", async () => {
    const sent: Array<Response> = []
    const server = await serve(fromFetch(async (request) => {
      const path = new URL(request.url).pathname
      if (path === "/bytes") return new Response(new Uint8Array([1, 2, 3]), { status: 201, headers: { "set-cookie": "a=1" } })
      // A middleware's pattern: the handler's response, then a field added to it.
      const res = new Response("héllo ✓", { headers: { "x-a": "1" } })
      res.headers.set("x-late", "yes")
      res.headers.append("set-cookie", "b=2")
      res.headers.append("set-cookie", "c=3")
      sent.push(res)
      return res
    }))
    const session = await connect(server.url)
    const text = await h2request(session, { ":path": "/" })
    expect(text.status).toBe(200)
    expect(text.headers["content-type"]).toBe("text/plain;charset=UTF-8")
    expect(text.headers["content-length"]).toBe(String(Buffer.byteLength("héllo ✓")))
    expect(text.headers["x-a"]).toBe("1")
    expect(text.headers["x-late"]).toBe("yes")
    expect(text.headers["set-cookie"]).toEqual(["b=2", "c=3"])
    expect(text.body.toString("utf8")).toBe("héllo ✓")
    // Taken whole: Node's Response (and its stream) was never made for it; its body is used up, as a read one is.
    expect(LightResponse.materialized(sent[0]!)).toBe(false)
    expect(sent[0]!.bodyUsed).toBe(true)
    await expect(sent[0]!.text()).rejects.toThrow(TypeError)
    const bytes = await h2request(session, { ":path": "/bytes" })
    expect(bytes.status).toBe(201)
    expect(bytes.headers["content-type"]).toBeUndefined()
    expect([...bytes.body]).toEqual([1, 2, 3])
    session.close()

    // HTTP/1.1: HEAD gets the head alone.
    const head = await new Promise<http.IncomingMessage & { text: string }>((resolve, reject) => {
      const req = http.request(`${server.url}/`, { method: "HEAD", agent: false }, (res) => {
        let body = ""
        res.on("data", (c: Buffer) => (body += c.toString()))
        res.on("end", () => resolve(Object.assign(res, { text: body })))
      })
      req.on("error", reject)
      req.end()
    })
    expect(head.statusCode).toBe(200)
    expect(head.headers["x-late"]).toBe("yes")
    expect(head.text).toBe("")
  })

  it("FETCH-12: a response sent a second time fails that request with 500, as Node's does; the first was whole", async () => {
    const once = new LightResponse("only once") as unknown as Response
    const server = await serve(fromFetch(() => once))
    const session = await connect(server.url)
    const first = await h2request(session, { ":path": "/" })
    expect(first.status).toBe(200)
    expect(first.body.toString()).toBe("only once")
    const second = await h2request(session, { ":path": "/" })
    expect(second.status).toBe(500)
    session.close()
  })

  it("FETCH-12: a response whose body the handler read (or cloned) still goes out whole, through Node's Response", async () => {
    const server = await serve(fromFetch(async () => {
      const res = new Response("read before", { headers: { "x-a": "1" } })
      const copy = res.clone()
      expect(await copy.text()).toBe("read before")
      return res
    }))
    const session = await connect(server.url)
    const got = await h2request(session, { ":path": "/" })
    expect(got.status).toBe(200)
    expect(got.headers["x-a"]).toBe("1")
    expect(got.body.toString()).toBe("read before")
    session.close()
  })
})
