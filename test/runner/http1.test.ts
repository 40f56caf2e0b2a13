/**
 * The runner against real command-line clients: curl over HTTP/1.1 and with
 * HTTP/2 prior knowledge, and nghttp, on the examples and on small inline apps.
 */
import { Effect } from "effect"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import echo from "../../examples/echo.ts"
import hello from "../../examples/hello.ts"
import stream from "../../examples/stream.ts"
import type { EgiScope, Receive, Send } from "../../src/index.ts"
import { unsupportedScope } from "../../src/protocol/unsupported.ts"
import { run } from "../support/async.ts"
import { useServer } from "../support/server.ts"

// ---------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------

interface Response {
  /** The status line, e.g. `HTTP/1.1 200 OK` or `HTTP/2 200`. */
  readonly statusLine: string
  readonly status: number
  /** Header fields in order, names lower-cased. */
  readonly headers: ReadonlyArray<readonly [string, string]>
  readonly body: Buffer
}

const header = (r: Response, name: string): Array<string> => r.headers.filter(([n]) => n === name).map(([, v]) => v)

/** Parses `curl -i` output (one response; a leading `100 Continue` head is skipped). */
const parseResponse = (out: Buffer): Response => {
  let rest = out
  for (let i = 0; i < 4; i++) {
    const end = rest.indexOf("\r\n\r\n")
    if (end < 0) throw new Error(`no end of head in ${JSON.stringify(rest.toString("latin1").slice(0, 200))}`)
    const lines = rest.subarray(0, end).toString("latin1").split("\r\n")
    const statusLine = lines[0]!
    const status = Number(statusLine.split(" ")[1])
    const body = rest.subarray(end + 4)
    if (status === 100) {
      rest = body
      continue
    }
    const headers = lines.slice(1).map((l): readonly [string, string] => {
      const colon = l.indexOf(":")
      return [l.slice(0, colon).toLowerCase(), l.slice(colon + 1).trim()]
    })
    return { statusLine: statusLine.trimEnd(), status, headers, body }
  }
  throw new Error("too many interim responses")
}

const curl = async (args: ReadonlyArray<string>) => {
  const r = await run("curl", ["-sS", "--max-time", "5", ...args])
  return r
}

/** `curl -i` that must succeed; returns the parsed response. */
const curlOk = async (args: ReadonlyArray<string>): Promise<Response> => {
  const r = await curl(["-i", ...args])
  expect(r.stderr).toBe("")
  expect(r.code).toBe(0)
  return parseResponse(r.stdout)
}

const H1 = "--http1.1"
const H2 = "--http2-prior-knowledge"

/** An app that answers with what the scope says about the request, as JSON. */
const scopeApp = Effect.fnUntraced(function*(scope: EgiScope, _receive: Receive, send: Send) {
  if (scope.type !== "http") return yield* unsupportedScope(scope)
  yield* send({ type: "http.response.start", status: 200, headers: [["content-type", "application/json"]] })
  yield* send({
    type: "http.response.body",
    body: new TextEncoder().encode(
      JSON.stringify({
        httpVersion: scope.httpVersion,
        connectionId: scope.connectionId,
        streamId: scope.streamId,
        headers: scope.headers.filter(([n]) => n.startsWith("x-") || n === "cookie"),
        rawPath: scope.rawPath,
        queryString: scope.queryString,
        path: scope.path
      }) + "\n"
    )
  })
})

const parseLines = (out: Buffer): Array<any> =>
  out.toString("utf8").trim().split("\n").map((l) => JSON.parse(l))

// ---------------------------------------------------------------------------
// hello, on the auto (h2c + HTTP/1.1) listener
// ---------------------------------------------------------------------------

describe("examples/hello.ts with curl and nghttp", () => {
  const server = useServer(hello)

  it("RUN-9, RUN-10: curl over HTTP/1.1 gets 200 Hello, world! with content-length 13, not chunked", async () => {
    const r = await curlOk([H1, `${server().url}/`])
    expect(r.statusLine).toBe("HTTP/1.1 200 OK")
    expect(header(r, "content-type")).toEqual(["text/plain"])
    expect(header(r, "content-length")).toEqual(["13"])
    expect(header(r, "transfer-encoding")).toEqual([])
    expect(r.body.toString()).toBe("Hello, world!")
  })

  it("RUN-9, RUN-10: curl --http2-prior-knowledge on the same port gets HTTP/2 200 with content-length 13", async () => {
    const r = await curlOk([H2, `${server().url}/any/path?x=1`])
    expect(r.statusLine).toBe("HTTP/2 200")
    expect(header(r, "content-type")).toEqual(["text/plain"])
    expect(header(r, "content-length")).toEqual(["13"])
    expect(r.body.toString()).toBe("Hello, world!")
  })

  it("RUN-9: an HTTP/1.1 request asking to upgrade to h2c (curl --http2) is answered over HTTP/1.1", async () => {
    const r = await curlOk(["--http2", "-H", "connection: keep-alive", `${server().url}/`])
    expect(r.statusLine).toBe("HTTP/1.1 200 OK")
    expect(r.body.toString()).toBe("Hello, world!")
  })

  it("RUN-9: nghttp -nv gets :status 200 and one 13-byte DATA frame with END_STREAM", async () => {
    const r = await run("nghttp", ["-nv", "-t", "5", `${server().url}/`])
    const out = r.stdout.toString("latin1")
    expect(r.code, out + r.stderr).toBe(0)
    const status = /recv \(stream_id=(\d+)\) :status: (\d+)/.exec(out)
    expect(status?.[2]).toBe("200")
    const id = status![1]!
    expect(out).toContain(`recv (stream_id=${id}) content-length: 13`)
    expect(out).toContain(`recv (stream_id=${id}) content-type: text/plain`)
    const data = [...out.matchAll(/recv DATA frame <length=(\d+), flags=0x(\d\d), stream_id=(\d+)>/g)]
    expect(data.map((m) => [m[1], m[2], m[3]])).toEqual([["13", "01", id]])
  })
})

// ---------------------------------------------------------------------------
// echo
// ---------------------------------------------------------------------------

describe("examples/echo.ts with curl", () => {
  const server = useServer(echo)
  let dir: string
  let payload: Buffer
  let file: string
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "egi-http1-"))
    // 300 KiB of every byte value, in a pseudo-random order
    payload = Buffer.alloc(300 * 1024)
    let x = 0x9e3779b9
    for (let i = 0; i < payload.length; i++) {
      x ^= x << 13
      x ^= x >>> 17
      x ^= x << 5
      payload[i] = x & 0xff
    }
    file = join(dir, "payload.bin")
    writeFileSync(file, payload)
  })
  afterAll(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  })

  const cases: Array<[label: string, args: Array<string>, statusLine: string]> = [
    ["HTTP/1.1 with content-length", [H1], "HTTP/1.1 200 OK"],
    ["HTTP/1.1 chunked", [H1, "-H", "transfer-encoding: chunked"], "HTTP/1.1 200 OK"],
    ["h2c prior knowledge", [H2], "HTTP/2 200"]
  ]
  for (const [label, args, statusLine] of cases) {
    it(`HTTP-14: curl ${label}: a 300 KiB binary upload is echoed byte for byte with its content-type`, async () => {
      const r = await curlOk([
        ...args,
        "-H", "expect:",
        "-H", "content-type: application/x-egi-test",
        "--data-binary", `@${file}`,
        `${server().url}/echo`
      ])
      expect(r.statusLine).toBe(statusLine)
      expect(header(r, "content-type")).toEqual(["application/x-egi-test"])
      expect(r.body.length).toBe(payload.length)
      expect(r.body.equals(payload)).toBe(true)
    })
  }

  it("HTTP-14: curl over HTTP/1.1: an empty POST body is echoed as an empty body with content-length 0", async () => {
    const r = await curlOk([H1, "--data-binary", "", `${server().url}/`])
    expect(r.status).toBe(200)
    expect(header(r, "content-length")).toEqual(["0"])
    expect(r.body.length).toBe(0)
  })

  it("HTTP-14: curl -T (PUT from a file) over h2c is echoed byte for byte", async () => {
    const out = join(dir, "out.bin")
    const r = await curl([H2, "-T", file, "-o", out, "-w", "%{http_code} %{http_version}", `${server().url}/put`])
    expect(r.stderr).toBe("")
    expect(r.stdout.toString()).toBe("200 2")
    expect(readFileSync(out).equals(payload)).toBe(true)
  })
})

// ---------------------------------------------------------------------------
// the correlator and the request head on HTTP/1.1
// ---------------------------------------------------------------------------

describe("the correlator and the request head, seen by curl", () => {
  const server = useServer(scopeApp)

  it("CORE-2: two requests on one HTTP/1.1 keep-alive connection get streamId 1 and 2 and the same connectionId", async () => {
    const r = await curl([H1, "-v", `${server().url}/a`, `${server().url}/b`, `${server().url}/c`])
    expect(r.code).toBe(0)
    expect(r.stderr).toContain("Re-using existing connection")
    const [a, b, c] = parseLines(r.stdout)
    expect([a.httpVersion, a.streamId, b.streamId, c.streamId]).toEqual(["1.1", 1, 2, 3])
    expect(a.connectionId).toBeGreaterThanOrEqual(1)
    expect(b.connectionId).toBe(a.connectionId)
    expect(c.connectionId).toBe(a.connectionId)
    // another curl, another connection
    const [d] = parseLines((await curl([H1, `${server().url}/d`])).stdout)
    expect(d.streamId).toBe(1)
    expect(d.connectionId).not.toBe(a.connectionId)
  })

  it("CORE-2: two requests with nghttp on one HTTP/2 connection get the client's stream ids and the same connectionId", async () => {
    // (curl 7.88 cannot reuse an h2c prior-knowledge connection: "Error in the HTTP2 framing layer".)
    const r = await run("nghttp", ["-v", "-t", "5", `${server().url}/a`, `${server().url}/b`])
    const out = r.stdout.toString("utf8")
    expect(r.code, out).toBe(0)
    const bodies = out.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l))
    const sentIds = [...out.matchAll(/send HEADERS frame <[^>]*stream_id=(\d+)>/g)].map((m) => Number(m[1]))
    expect(bodies).toHaveLength(2)
    expect(bodies.map((b) => b.streamId).sort((x, y) => x - y)).toEqual([...sentIds].sort((x, y) => x - y))
    expect(new Set(bodies.map((b) => b.streamId)).size).toBe(2)
    expect(bodies.every((b) => b.httpVersion === "2" && b.connectionId === bodies[0].connectionId)).toBe(true)
  })

  it("HTTP-5, HTTP-12: HTTP/1.1 header names arrive lower-cased, in order, duplicates kept, cookies not joined", async () => {
    const r = await curl([
      H1,
      "-H", "X-Dup: 1",
      "-H", "Cookie: a=1",
      "-H", "X-Other: o",
      "-H", "x-dup: 2",
      "-H", "COOKIE: b=2",
      `${server().url}/`
    ])
    expect(r.code).toBe(0)
    const [s] = parseLines(r.stdout)
    expect(s.headers).toEqual([
      ["x-dup", "1"],
      ["cookie", "a=1"],
      ["x-other", "o"],
      ["x-dup", "2"],
      ["cookie", "b=2"]
    ])
  })

  it("HTTP-13: over HTTP/1.1, rawPath and queryString are the request target as sent, path is decoded", async () => {
    const r = await curl([H1, "--path-as-is", `${server().url}/a%20b/../%E2%82%AC%2F?x=%41&y=a+b?z`])
    expect(r.code).toBe(0)
    const [s] = parseLines(r.stdout)
    expect({ rawPath: s.rawPath, queryString: s.queryString, path: s.path }).toEqual({
      rawPath: "/a%20b/../%E2%82%AC%2F",
      queryString: "x=%41&y=a+b?z",
      path: "/a b/../€/"
    })
  })
})

// ---------------------------------------------------------------------------
// streamed responses
// ---------------------------------------------------------------------------

describe("examples/stream.ts with curl", () => {
  const server = useServer(stream)

  it("RUN-10: over HTTP/1.1 a streamed response is chunked (transfer-encoding: chunked, no content-length), one chunk per send", async () => {
    const raw = await curlOk([H1, "--raw", `${server().url}/?chunks=3&size=5&delay=0`])
    expect(raw.statusLine).toBe("HTTP/1.1 200 OK")
    expect(header(raw, "transfer-encoding")).toEqual(["chunked"])
    expect(header(raw, "content-length")).toEqual([])
    expect(raw.body.toString("latin1")).toBe("5\r\naaaaa\r\n".repeat(3) + "0\r\n\r\n")
    const decoded = await curlOk([H1, `${server().url}/?chunks=4&size=1000&delay=10`])
    expect(decoded.body.toString()).toBe("a".repeat(4000))
  })

  it("RUN-10: over h2c a streamed response has no content-length and the whole body", async () => {
    const r = await curlOk([H2, `${server().url}/?chunks=3&size=7&delay=0`])
    expect(r.statusLine).toBe("HTTP/2 200")
    expect(header(r, "content-length")).toEqual([])
    expect(header(r, "transfer-encoding")).toEqual([])
    expect(r.body.toString()).toBe("a".repeat(21))
  })
})

describe("an app's own transfer-encoding", () => {
  // One body after a head that frames it with transfer-encoding: a proxy between this server and the
  // client must never see a content-length beside it (RFC 9112 §6.2).
  const framed = Effect.fnUntraced(function*(scope: EgiScope, _receive: Receive, send: Send) {
    if (scope.type !== "http") return yield* unsupportedScope(scope)
    yield* send({ type: "http.response.start", status: 200, headers: [["transfer-encoding", "chunked"]] })
    yield* send({ type: "http.response.body", body: new TextEncoder().encode("hello") })
  })
  const server = useServer(framed)

  it("HTTP-37 RUN-10: over HTTP/1.1 the runner adds no content-length to it, and the body is chunked; over h2c the field is dropped and content-length added", async () => {
    const raw = await curlOk([H1, "--raw", `${server().url}/`])
    expect(header(raw, "transfer-encoding")).toEqual(["chunked"])
    expect(header(raw, "content-length")).toEqual([])
    expect(raw.body.toString("latin1")).toBe("5\r\nhello\r\n0\r\n\r\n")
    const h2 = await curlOk([H2, `${server().url}/`])
    expect(header(h2, "transfer-encoding")).toEqual([])
    expect(header(h2, "content-length")).toEqual(["5"])
    expect(h2.body.toString()).toBe("hello")
  })
})

// ---------------------------------------------------------------------------
// responses without a body
// ---------------------------------------------------------------------------

describe("HEAD and 204 responses", () => {
  const app = Effect.fnUntraced(function*(scope: EgiScope, _receive: Receive, send: Send) {
    if (scope.type !== "http") return yield* unsupportedScope(scope)
    const status = scope.path === "/204" ? 204 : 200
    yield* send({ type: "http.response.start", status, headers: [["x-status", String(status)]] })
    yield* send({ type: "http.response.body", body: new TextEncoder().encode("Hello, world!") })
  })
  const server = useServer(app)

  it("RUN-10: over HTTP/2, HEAD and a 204 complete with the head and no body", async () => {
    const head = await curlOk([H2, "-I", `${server().url}/`])
    expect(head.statusLine).toBe("HTTP/2 200")
    expect(header(head, "x-status")).toEqual(["200"])
    expect(head.body.length).toBe(0)
    const noContent = await curlOk([H2, `${server().url}/204`])
    expect(noContent.statusLine).toBe("HTTP/2 204")
    expect(noContent.body.length).toBe(0)
  })

  // Regression: a bodiless response (HEAD, 204, 304) ends in wireStart; an
  // HTTP/1.1 wire that ignored endStream never flushed the head, and curl
  // waited until its timeout with 0 bytes received.
  it("RUN-10: over HTTP/1.1, HEAD and a 204 complete with the head and no body", async () => {
    const head = await run("curl", ["-sS", "-i", "--max-time", "1", H1, "-I", `${server().url}/`])
    expect(head.code, head.stderr).toBe(0)
    expect(parseResponse(head.stdout).statusLine).toBe("HTTP/1.1 200 OK")
    const noContent = await run("curl", ["-sS", "-i", "--max-time", "1", H1, `${server().url}/204`])
    expect(noContent.code, noContent.stderr).toBe(0)
    expect(parseResponse(noContent.stdout).statusLine).toBe("HTTP/1.1 204 No Content")
  })
})

// ---------------------------------------------------------------------------
// h2c only
// ---------------------------------------------------------------------------

describe("a server started with h2cOnly: true", () => {
  const server = useServer(hello, { h2cOnly: true })

  it("RUN-9: serves HTTP/2 prior knowledge but gives an HTTP/1.1 request no HTTP/1.1 response", async () => {
    expect(server().protocols).toBe("h2c")
    const h1 = await curl(["-i", H1, `${server().url}/`])
    expect(h1.code).not.toBe(0)
    expect(h1.stdout.toString("latin1")).not.toMatch(/^HTTP\/1\.[01] /)
    const h2 = await curlOk([H2, `${server().url}/`])
    expect(h2.statusLine).toBe("HTTP/2 200")
    expect(h2.body.toString()).toBe("Hello, world!")
    // and it still serves HTTP/2 after the HTTP/1.1 attempt
    const again = await curlOk([H2, `${server().url}/`])
    expect(again.status).toBe(200)
  })
})
