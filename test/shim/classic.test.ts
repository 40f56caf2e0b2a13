/**
 * The sync shim over real sockets (spec.md §10): a classic app in worker
 * threads behind the runner, talked to with node:http2 and HTTP/1.1 clients.
 */
import { createHash } from "node:crypto"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import type * as http2 from "node:http2"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { fromClassic } from "../../src/shim/shim.ts"
import { rawHttp, statusOf, until } from "../support/clients.ts"
import { cancel, collect, request } from "../support/h2client.ts"
import { useServer, useSession } from "../support/server.ts"

const FIXTURE = new URL("./fixtures/classic-app.ts", import.meta.url).href
const quiet = { error: () => {}, info: () => {} }

let marksDir: string

const get = (path: string, headers: Record<string, string> = {}) =>
  request(session(), { ":method": "GET", ":path": path, ...headers })
const post = (path: string, chunks: ReadonlyArray<Uint8Array>, headers: Record<string, string> = {}) =>
  request(session(), { ":method": "POST", ":path": path, ...headers }, chunks)
const marks = (name: string): Array<string> => {
  try {
    return readFileSync(join(marksDir, name), "utf8").trim().split("\n")
  } catch {
    return []
  }
}

afterAll(() => rmSync(marksDir, { recursive: true, force: true }))
beforeAll(() => {
  marksDir = mkdtempSync(join(tmpdir(), "egi-shim-"))
})
const server = useServer(fromClassic({ module: FIXTURE, export: "app" }, { workers: 2, logger: quiet }))
const session = useSession(server)

describe("environ", () => {
  it("CLASSIC-12: CGI keys, HTTP_* joining, REQUEST_URI as received, egi.* flags", async () => {
    const r = await request(session(), [
      ":method", "GET", ":path", "/environ?a=1&b=%20", "x-dup", "one", "x-dup", "two",
      "cookie", "a=1", "cookie", "b=2", "x_under", "dropped", "content-type", "text/x"
    ])
    expect(r.status).toBe(200)
    const env = JSON.parse(r.body.toString())
    expect(env).toMatchObject({
      REQUEST_METHOD: "GET",
      SCRIPT_NAME: "",
      PATH_INFO: "/environ",
      QUERY_STRING: "a=1&b=%20",
      REQUEST_URI: "/environ?a=1&b=%20",
      RAW_URI: "/environ?a=1&b=%20",
      SERVER_PROTOCOL: "HTTP/2",
      SERVER_NAME: "127.0.0.1",
      SERVER_PORT: String(server().port),
      REMOTE_ADDR: "127.0.0.1",
      HTTP_X_DUP: "one, two",
      HTTP_COOKIE: "a=1; b=2",
      HTTP_HOST: `127.0.0.1:${server().port}`,
      CONTENT_TYPE: "text/x",
      "egi.url_scheme": "http",
      "egi.input_terminated": true,
      "egi.multithread": false,
      "egi.multiprocess": true,
      "egi.run_once": false,
      version: "0.1",
      "egi.spec_version": "0.4",
      correlator: { streamId: r.streamId }
    })
    expect(env.HTTP_X_UNDER).toBeUndefined()
    expect(env.CONTENT_LENGTH).toBeUndefined()
  })

  it("CLASSIC-12: over HTTP/1.1 too, with SERVER_PROTOCOL HTTP/1.1", async () => {
    const r = await rawHttp(server().port, ["GET /environ HTTP/1.1\r\nhost: example.test:81\r\nconnection: close\r\n\r\n"])
    expect(statusOf(r.text)).toBe(200)
    const env = JSON.parse(r.text.slice(r.text.indexOf("\r\n\r\n") + 4).replace(/^[0-9a-f]+\r\n|\r\n0\r\n\r\n$/g, ""))
    expect(env).toMatchObject({ SERVER_PROTOCOL: "HTTP/1.1", SERVER_NAME: "example.test", SERVER_PORT: "81", HTTP_HOST: "example.test:81" })
  })

  it("CLASSIC-12: each worker imports the app module once, however many requests it serves", async () => {
    const results = await Promise.all(Array.from({ length: 20 }, () => get("/environ")))
    const seen = results.map((r) => JSON.parse(r.body.toString()) as { threadId: number; imports: number })
    expect(new Set(seen.map((s) => s.threadId)).size).toBeLessThanOrEqual(2)
    expect(seen.every((s) => s.imports === 1)).toBe(true)
  })
})

describe("egi.file_wrapper", () => {
  it("CLASSIC-12: file_wrapper streams a file in blocks of the given size and closes it", async () => {
    const path = join(marksDir, "payload.bin")
    const bytes = Buffer.alloc(100_003)
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7) & 0xff
    writeFileSync(path, bytes)
    const r = await get(`/file?path=${encodeURIComponent(path)}&block=4096`, { "x-marks": join(marksDir, "file") })
    expect(r.status).toBe(200)
    expect(r.body.equals(bytes)).toBe(true)
    expect(marks("file")).toEqual(["file closed"])
  })
})

describe("start_response, write, close", () => {
  it("CLASSIC-1 CLASSIC-2: start_response misuse raises ClassicUsageError in the app, naming the rule", async () => {
    const cases = [
      ["status", "CLASSIC-1"],
      ["status-600", "CLASSIC-1"],
      ["reason-crlf", "CLASSIC-1"],
      ["name", "CLASSIC-1"],
      ["value", "CLASSIC-1"],
      ["pairs", "CLASSIC-1"],
      ["twice", "CLASSIC-2"]
    ] as const
    for (const [which, rule] of cases) {
      const r = await get(`/usage?case=${which}`)
      expect(JSON.parse(r.body.toString()), which).toEqual({ tag: "ClassicUsageError", rule })
    }
  })

  it("CLASSIC-2: a second start_response with excInfo before the head went out replaces status and headers", async () => {
    const r = await get("/excinfo-before")
    expect(r.status).toBe(503)
    expect(r.headers["x-second"]).toBe("1")
    expect(r.headers["x-first"]).toBeUndefined()
    expect(r.body.toString()).toBe("replaced")
  })

  it("CLASSIC-2: with excInfo after the head went out, excInfo is rethrown and the stream reset", async () => {
    const r = await get("/excinfo-after")
    expect(r.status).toBe(200)
    expect(r.rstCode).toBe(2) // INTERNAL_ERROR
    expect(server().lines.error.some((l) => l.includes("too late"))).toBe(true)
  })

  it("CLASSIC-3: a body without start_response, or a chunk that is not bytes or a string, fails with 500 / reset", async () => {
    const noStart = await get("/no-start")
    expect(noStart.status).toBe(500)
    const badChunk = await get("/bad-chunk")
    expect(badChunk.status).toBe(500)
    expect(server().lines.error.some((l) => l.includes("CLASSIC-3"))).toBe(true)
  })

  it("CLASSIC-4: write() output and the body go out in order; empty chunks send nothing", async () => {
    const r = await get("/write-then-body")
    expect(r.status).toBe(200)
    expect(r.body.toString()).toBe("one,two,three")
  })

  it("CLASSIC-4: the head waits for the first non-empty chunk", async () => {
    const stream = session().request({ ":method": "GET", ":path": "/slow-head?ms=400" })
    const started = Date.now()
    const head = await new Promise<number>((resolve) => stream.once("response", () => resolve(Date.now())))
    const r = await collect(stream)
    expect(head - started).toBeGreaterThanOrEqual(350)
    expect(r.body.toString()).toBe("late")
  })

  it("CLASSIC-4: each chunk reaches the client before the app is asked for the next", async () => {
    const stream = session().request({ ":method": "GET", ":path": "/two-chunks?ms=400" })
    const first = await new Promise<string>((resolve) => stream.once("data", (c: Buffer) => resolve(c.toString())))
    // "second" comes 400 ms later from a blocked worker: the first chunk was not held back for it.
    const rest = await collect(stream)
    expect(first).toBe("first")
    expect(rest.body.toString()).toBe("second")
  })

  it("CLASSIC-5: close() is called once when the body completes, raises, or the client goes away", async () => {
    const file = join(marksDir, "close")
    const ok = await get("/close?mode=ok", { "x-marks": file })
    expect(ok.body.toString()).toBe("ab")
    const raised = await get("/close?mode=raise", { "x-marks": file })
    expect(raised.rstCode).toBe(2)
    const stream = session().request({ ":method": "GET", ":path": "/close?mode=long", "x-marks": file })
    await new Promise((resolve) => stream.once("data", resolve))
    cancel(stream)
    await until(() => marks("close").length === 3, "close() after the client went away")
    expect(marks("close").sort()).toEqual(["close long", "close ok", "close raise"])
  })
})

describe("failures", () => {
  it("CLASSIC-8: an app that raises before the head gets 500; after the head, RST_STREAM INTERNAL_ERROR", async () => {
    const before = await get("/raise-before")
    expect(before.status).toBe(500)
    const after = await get("/raise-after")
    expect(after.status).toBe(200)
    expect(after.body.toString()).toBe("partial")
    expect(after.rstCode).toBe(2)
    expect(server().lines.error.some((l) => l.includes("boom before the head"))).toBe(true)
  })

  it("CLASSIC-8: a client that goes away mid-body makes the app's read raise ClientDisconnectedError", async () => {
    const file = join(marksDir, "read-disconnect")
    const stream = session().request({ ":method": "POST", ":path": "/read-disconnect", "x-marks": file })
    stream.write(new Uint8Array(1000))
    await new Promise((r) => setTimeout(r, 100))
    cancel(stream)
    await until(() => marks("read-disconnect").length > 0, "the app saw the disconnect")
    expect(marks("read-disconnect")).toEqual(["read ClientDisconnectedError"])
  })

  it("CLASSIC-9: a worker that exits fails only its request (500) and is replaced", async () => {
    const crashed = await get("/crash")
    expect(crashed.status).toBe(500)
    await until(() => server().lines.error.some((l) => l.includes("WorkerCrashError")), "the crash logged")
    const after = await Promise.all(Array.from({ length: 6 }, () => get("/environ")))
    expect(after.every((r) => r.status === 200)).toBe(true)
  })
})

describe("streaming and concurrency", () => {
  it("CLASSIC-7: a client that does not read stalls the worker's write(), not the heap", async () => {
    const file = join(marksDir, "flood")
    const stream = session().request({ ":method": "GET", ":path": "/flood", "x-marks": file })
    stream.pause()
    await until(() => marks("flood").length > 0, "the app started writing")
    await new Promise((r) => setTimeout(r, 500))
    const written = Number(marks("flood").at(-1)!.split(" ")[1])
    // 64 KiB client window + the runner's buffer + outputBuffer (256 KiB) + what is in the socket.
    expect(written).toBeLessThan(2 * 1024 * 1024)
    cancel(stream)
    await until(() => marks("flood").at(-1) === "stopped ClientDisconnectedError", "write() raised after the reset")
  })

  it("CLASSIC-6: 32 concurrent uploads on 2 workers each see exactly their own bytes", async () => {
    const bodies = Array.from({ length: 32 }, (_, i) => Buffer.alloc(10_000 + i * 997, i + 1))
    const results = await Promise.all(bodies.map((b) => post("/hash?sleep=10", [b.subarray(0, 5000), b.subarray(5000)])))
    for (const [i, r] of results.entries()) {
      const { bytes, sha256 } = JSON.parse(r.body.toString())
      expect(bytes).toBe(bodies[i]!.length)
      expect(sha256).toBe(createHash("sha256").update(bodies[i]!).digest("hex"))
    }
  })
})
