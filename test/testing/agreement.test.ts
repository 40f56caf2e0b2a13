/**
 * The validator and the real runner agree (issue 11): the same (state,
 * event) pairs of every table of spec.md — §4.7 tables 1 and 2, §6.5
 * table 3 (lifespan), §11.5 table 4 (WebSocket) — are driven through the
 * runner and through `validate`/`request()`, and both accept, or both fail
 * with the same rule, which is the one spec.md's table names (the tables
 * are read from spec.md itself, test/support/spec-tables.ts).
 *
 * - Table 1 and the field rules: a real server (src/runner, over sockets)
 *   and the in-memory client run the same scripted app on HTTP/2, HTTP/1.1
 *   and HTTP/1.0; every `send`'s outcome is compared.
 * - Table 2 is what the server yields: the runner is driven (over sockets)
 *   through every allowed pair under `validate`, which accepts each; every
 *   pair the table forbids makes the validator die with the table's rule
 *   when a fake server yields it.
 * - Table 3: the runner's lifespan driver (`startLifespan`) in-process.
 * - Table 4: the runner's `WebSocketSession` in-process, over a handshake
 *   and a socket that take everything.
 */
import { Cause, Context, Effect, Exit } from "effect"
import { EventEmitter } from "node:events"
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs"
import * as http from "node:http"
import type * as http2 from "node:http2"
import * as net from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { WebSocket } from "ws"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { App, Receive } from "../../src/protocol/app.ts"
import type { SendError } from "../../src/protocol/errors.ts"
import type { InboundEvent, OutboundEvent } from "../../src/protocol/events.ts"
import { lifespanEgi, type LifespanScope, type WebSocketScope } from "../../src/protocol/scope.ts"
import { etagOf } from "../../src/protocol/file-plan.ts"
import { startLifespan } from "../../src/runner/lifespan.ts"
import { runnerLog } from "../../src/runner/log.ts"
import { type Handshake, WebSocketSession } from "../../src/runner/websocket/session.ts"
import { request, testScope, validate } from "../../src/testing/index.ts"
import { cancel, connect, request as h2request } from "../support/h2client.ts"
import { listen, type TestServer } from "../support/server.ts"
import { type Cell, table1, table2, table3, table4 } from "../support/spec-tables.ts"

type Version = "2" | "1.1" | "1.0"
const VERSIONS: ReadonlyArray<Version> = ["2", "1.1", "1.0"]

/** What a send ended with: "ok", the rule of a LocalProtocolError, or the error's tag (and code). */
const outcome = (effect: Effect.Effect<void, SendError>): Effect.Effect<string> =>
  Effect.match(effect, {
    onSuccess: () => "ok",
    onFailure: (e) => (e._tag === "LocalProtocolError" ? e.rule : e._tag === "FileSendError" ? `FileSendError ${e.code}` : e._tag)
  })

/** What a table cell says the outcome of its pair is ("ok" for a transition; an empty cell breaks `empty`). */
const expected = (cell: Cell | undefined, empty?: string): string => {
  if (cell === undefined) throw new Error("no such cell in spec.md")
  return "next" in cell ? "ok" : cell.rule ?? empty ?? "(empty cell)"
}

const text = (s: string) => new TextEncoder().encode(s)
const dir = mkdtempSync(join(tmpdir(), "egi-agreement-"))
const file = join(dir, "body.txt")
writeFileSync(file, "file body\n")
afterAll(() => rmSync(dir, { recursive: true, force: true }))

// ---------------------------------------------------------------------------
// scripted apps: one script of events per path, every outcome reported
// ---------------------------------------------------------------------------

interface Script {
  readonly method?: string
  readonly events: ReadonlyArray<unknown>
}

const start = { type: "http.response.start", status: 200 } as const
const last = { type: "http.response.body", body: text("x") } as const

/** Events that bring a fresh stream to each state of table 1 (all of them valid there). */
const toState: Readonly<Record<string, ReadonlyArray<unknown>>> = {
  start: [],
  head: [start],
  body: [start, { type: "http.response.body", body: text("x"), moreBody: true }],
  trailers: [{ ...start, trailers: true }, last],
  done: [start, last],
  reset: [{ type: "http.response.reset", errorCode: 8 }]
}

/** One event per input of table 1, plus `http.goaway` (valid everywhere but in `reset`). */
const inputs: Readonly<Record<string, unknown>> = {
  start,
  more: { type: "http.response.body", body: text("y"), moreBody: true },
  last,
  file: { type: "http.response.pathsend", path: file },
  trailers: { type: "http.response.trailers", headers: [["x-sum", "1"]] },
  push: { type: "http.response.push", path: "/pushed.css" },
  hint: { type: "http.response.early_hint", links: ["</hint.css>; rel=preload"] },
  reset: { type: "http.response.reset", errorCode: 0 },
  goaway: { type: "http.goaway" }
}

/** Apps the runner fails with a rule (and some it accepts that look alike). */
const mutations: Readonly<Record<string, Script>> = {
  "HTTP-17 overrun": { events: [{ ...start, headers: [["content-length", "3"]] }, { type: "http.response.body", body: text("1234567") }] },
  "HTTP-17 overrun in two": {
    events: [{ ...start, headers: [["content-length", "3"]] }, { type: "http.response.body", body: text("12"), moreBody: true }, { type: "http.response.body", body: text("34") }]
  },
  "HTTP-17 short": { events: [{ ...start, headers: [["content-length", "3"]] }, { type: "http.response.body", body: text("12") }] },
  "HTTP-17 exact": { events: [{ ...start, headers: [["content-length", "3"]] }, { type: "http.response.body", body: text("123") }] },
  "HTTP-17 not decimal": { events: [{ ...start, headers: [["content-length", "+3"]] }, { type: "http.response.body", body: text("123") }] },
  "HTTP-17 HEAD": { method: "HEAD", events: [{ ...start, headers: [["content-length", "3"]] }, { type: "http.response.body", body: text("1234567") }] },
  "HTTP-17 HEAD empty": { method: "HEAD", events: [{ ...start, headers: [["content-length", "3"]] }, { type: "http.response.body" }] },
  "HTTP-17 204": { events: [{ type: "http.response.start", status: 204, headers: [["content-length", "3"]] }, { type: "http.response.body" }] },
  "HTTP-17 304": { events: [{ type: "http.response.start", status: 304, headers: [["content-length", "3"]] }, { type: "http.response.body", body: text("12") }] },
  "HTTP-16": { events: [{ ...start, headers: [["content-type", "a/b"], ["content-type", "a/b"]] }, last] },
  "HTTP-5 neverIndex": { events: [{ ...start, neverIndex: ["X-Token"] }, last] },
  "HTTP-5 neverIndex trailers": {
    events: [{ ...start, trailers: true }, last, { type: "http.response.trailers", headers: [["x-token", "t"]], neverIndex: ["X-Token"] }]
  },
  "HTTP-5 header": { events: [{ ...start, headers: [["X-A", "1"]] }, last] },
  "HTTP-6 header": { events: [{ ...start, headers: [["x-a", "1\r\nx-b: 2"]] }, last] },
  "HTTP-4": { events: [{ type: "http.response.start", status: 103 }, last] },
  "CORE-3 stream": { events: [{ ...start, streamId: 99 }, last] },
  "CORE-3 connection": { events: [start, { ...last, connectionId: 99 }] },
  "CORE-6": { events: [{ type: "websocket.accept" }, start, last] },
  "HTTP-3 goaway after reset": { events: [{ type: "http.response.reset", errorCode: 8 }, { type: "http.goaway" }] },
  "HTTP-20 path": { events: [{ type: "http.response.push", path: "pushed.css" }, start, last] },
  "HTTP-5 push header": { events: [{ type: "http.response.push", path: "/p.css", headers: [["Accept", "text/css"]] }, start, last] },
  "HTTP-20 as": { events: [{ type: "http.response.push", path: "/p.css", as: "not a token" }, { type: "http.response.push", path: "/f.woff2", as: "font" }, start, last] },
  "HTTP-20 linkParams": {
    events: [{ type: "http.response.push", path: "/p.css", linkParams: ["as=style"] }, { type: "http.response.push", path: "/p.css", linkParams: ["nopush"] }, start, last]
  },
  "HTTP-6 hint": { events: [{ type: "http.response.early_hint", links: [""] }, start, last] },
  "HTTP-22": { events: [{ type: "http.response.reset", errorCode: 1.5 }, start, last] },
  "HTTP-21 relative": { events: [start, { type: "http.response.pathsend", path: "body.txt" }, last] },
  "HTTP-21 missing": { events: [start, { type: "http.response.pathsend", path: join(dir, "missing") }, { type: "http.response.start", status: 404 }, last] },
  "HTTP-21 whole file": { events: [start, { type: "http.response.pathsend", path: file }] },
  "CORE-7 extensions": {
    events: [
      { type: "http.response.early_hint", links: ["</a.css>; rel=preload"] },
      { type: "http.response.push", path: "/a.css" },
      { ...start, trailers: true },
      last,
      { type: "http.response.trailers", headers: [] },
      { type: "http.response.reset", errorCode: 0 },
      { type: "http.goaway" }
    ]
  }
}

/** The scripts by path: `/t1/<state>/<input>` for table 1, `/m/<index>` for the mutations. */
const scripts = new Map<string, Script>()
for (const state of Object.keys(toState)) {
  for (const input of Object.keys(inputs)) scripts.set(`/t1/${state}/${input}`, { events: [...toState[state]!, inputs[input]] })
}
const mutationPath = new Map(Object.keys(mutations).map((name, i) => [name, `/m/${i}`]))
for (const [name, path] of mutationPath) scripts.set(path, mutations[name]!)

/** Reports, by `<httpVersion> <path>`: the outcome of each send of the script (or the extension names, for `/ext`). */
type Reports = Map<string, (outcomes: Array<string>) => void>
const waiting: Reports = new Map()
const reported = (key: string): Promise<Array<string>> =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no report for ${key} within 5 s`)), 5000)
    waiting.set(key, (outcomes) => {
      clearTimeout(timer)
      resolve(outcomes)
    })
  })
const report = (key: string, outcomes: Array<string>) => {
  const done = waiting.get(key)
  waiting.delete(key)
  done?.(outcomes)
}

/** Sends the script of its path, each event whatever the last one's outcome, and reports the outcomes. */
const scripted: App = (scope, _receive, send) =>
  Effect.gen(function*() {
    if (scope.type !== "http") return
    const key = `${scope.httpVersion} ${scope.path}`
    if (scope.path === "/ext") return report(key, Object.keys(scope.extensions).sort())
    const script = scripts.get(scope.path)
    if (script === undefined) return report(key, ["no script"])
    const outcomes: Array<string> = []
    for (const event of script.events) outcomes.push(yield* outcome(send(event as OutboundEvent)))
    report(key, outcomes)
  })

/** The request headers both sides get: the client accepts trailers. */
const requestHeaders = (version: Version): ReadonlyArray<readonly [string, string]> => (version === "1.0" ? [] : [["te", "trailers"]])

/** Runs `path` in memory (validated) and returns the outcomes. */
const inMemory = async (version: Version, path: string): Promise<Array<string>> => {
  const outcomes = reported(`${version} ${path}`)
  const method = scripts.get(path)?.method ?? "GET"
  await Effect.runPromise(request(scripted, { httpVersion: version, path, method, headers: requestHeaders(version) }))
  return outcomes
}

/** Runs `path` on the real server over `version` and returns the outcomes. */
const onRunner = async (server: TestServer, version: Version, path: string): Promise<Array<string>> => {
  const outcomes = reported(`${version} ${path}`)
  const method = scripts.get(path)?.method ?? "GET"
  if (version === "2") {
    const session = await connect(server.url, { settings: { enablePush: false } })
    try {
      const stream = session.request({ ":method": method, ":path": path, te: "trailers" }, { endStream: true })
      stream.on("error", () => {})
      stream.resume()
      return await outcomes
    } finally {
      session.destroy()
    }
  }
  const socket = net.connect(server.port, "127.0.0.1")
  socket.on("error", () => {})
  socket.resume()
  const fields = requestHeaders(version).map(([n, v]) => `${n}: ${v}\r\n`).join("")
  socket.write(`${method} ${path} HTTP/${version}\r\nhost: test\r\n${fields}connection: close\r\n\r\n`)
  try {
    return await outcomes
  } finally {
    socket.destroy()
  }
}

describe("table 1 and the field rules: the runner and request() agree (spec.md §4.7)", () => {
  let server: TestServer
  beforeAll(async () => {
    server = await listen(scripted)
  })
  afterAll(() => server.close())

  it.each(VERSIONS)("CORE-7: over HTTP/%s the in-memory scope lists the extensions the runner's scope lists", async (version) => {
    const runner = await onRunner(server, version, "/ext")
    expect(await inMemory(version, "/ext")).toEqual(runner)
  })

  it.each(VERSIONS)(
    "HTTP-1 HTTP-2 HTTP-3 HTTP-18 HTTP-19 HTTP-20 HTTP-21: over HTTP/%s every (state, input) of table 1 gets the same outcome from the runner and from request()",
    async (version) => {
      const disagree: Array<string> = []
      for (const state of Object.keys(toState)) {
        for (const input of Object.keys(inputs)) {
          const path = `/t1/${state}/${input}`
          const runner = await onRunner(server, version, path)
          const memory = await inMemory(version, path)
          if (JSON.stringify(runner) !== JSON.stringify(memory)) disagree.push(`${state} × ${input}: runner ${runner.join(",")} / request() ${memory.join(",")}`)
        }
      }
      expect(disagree).toEqual([])
    },
    60_000
  )

  it("HTTP-1 HTTP-2 HTTP-3 HTTP-18 HTTP-19 HTTP-20 HTTP-21 HTTP-22: over HTTP/2 (every extension listed) each pair's outcome is the one spec.md's table 1 names", async () => {
    const spec = table1()
    const wrong: Array<string> = []
    for (const state of Object.keys(toState)) {
      for (const input of Object.keys(inputs)) {
        const [...outcomes] = await onRunner(server, "2", `/t1/${state}/${input}`)
        const probe = outcomes.pop()
        const want = input === "goaway" ? (state === "reset" ? "HTTP-3" : "ok") : expected(spec.get(state)?.get(input))
        if (outcomes.some((o) => o !== "ok") || probe !== want) wrong.push(`${state} × ${input}: ${[...outcomes, probe].join(",")}, spec says ${want}`)
      }
    }
    expect(wrong).toEqual([])
  }, 60_000)

  it.each(VERSIONS)(
    "HTTP-17 HTTP-16 HTTP-5 HTTP-6 HTTP-4 CORE-3 CORE-6 CORE-7 HTTP-3 HTTP-20 HTTP-22 HTTP-21: over HTTP/%s apps that break a rule fail the same send with the same rule on the runner and in memory",
    async (version) => {
      const disagree: Array<string> = []
      for (const [name, path] of mutationPath) {
        const runner = await onRunner(server, version, path)
        const memory = await inMemory(version, path)
        if (JSON.stringify(runner) !== JSON.stringify(memory)) disagree.push(`${name}: runner ${runner.join(",")} / request() ${memory.join(",")}`)
      }
      expect(disagree).toEqual([])
    },
    60_000
  )

  it("HTTP-17 HTTP-16 HTTP-5 CORE-3 HTTP-3: each mutation fails with the rule it is named after (over HTTP/2)", async () => {
    const got = new Map<string, Array<string>>()
    for (const [name, path] of mutationPath) got.set(name, await inMemory("2", path))
    expect(got.get("HTTP-17 overrun")).toEqual(["ok", "HTTP-17"])
    expect(got.get("HTTP-17 overrun in two")).toEqual(["ok", "ok", "HTTP-17"])
    expect(got.get("HTTP-17 short")).toEqual(["ok", "HTTP-17"])
    expect(got.get("HTTP-17 not decimal")).toEqual(["HTTP-17", "HTTP-2"])
    for (const bodyless of ["HTTP-17 HEAD", "HTTP-17 HEAD empty", "HTTP-17 304"]) expect(got.get(bodyless), bodyless).toEqual(["ok", "ok"])
    // RFC 9110 §8.6: no content-length on a 204.
    expect(got.get("HTTP-17 204")).toEqual(["HTTP-17", "HTTP-2"])
    expect(got.get("HTTP-16")).toEqual(["HTTP-16", "HTTP-2"])
    expect(got.get("HTTP-5 neverIndex")).toEqual(["HTTP-5", "HTTP-2"])
    expect(got.get("HTTP-5 neverIndex trailers")).toEqual(["ok", "ok", "HTTP-5"])
    expect(got.get("CORE-3 stream")).toEqual(["CORE-3", "HTTP-2"])
    expect(got.get("CORE-3 connection")).toEqual(["ok", "CORE-3"])
    expect(got.get("HTTP-3 goaway after reset")).toEqual(["ok", "HTTP-3"])
    expect(got.get("HTTP-20 path")![0]).toBe("HTTP-20")
    expect(got.get("HTTP-22")![0]).toBe("HTTP-22")
    expect(got.get("HTTP-21 missing")).toEqual(["ok", "FileSendError ENOENT", "ok", "ok"])
  })
})

describe("file bodies: request() answers as the runner does (spec.md §7.9)", () => {
  let server: TestServer
  const fileApp: App = (scope, _receive, send) =>
    scope.type === "http" ? Effect.andThen(send(start), send({ type: "http.response.pathsend", path: file })) : Effect.void
  beforeAll(async () => {
    server = await listen(fileApp)
  })
  afterAll(() => server.close())

  /** Status, body and the fields a file response is planned with. */
  const summary = (status: number | undefined, headers: (name: string) => string | undefined, body: Uint8Array) =>
    [status, Buffer.from(body).toString(), ...["content-length", "content-range", "etag", "accept-ranges"].map((n) => `${n}: ${headers(n) ?? "-"}`)].join(" | ")

  const viaH2 = async (method: string, fields: Readonly<Record<string, string>>) => {
    const session = await connect(server.url)
    try {
      const r = await h2request(session, { ":method": method, ":path": "/", ...fields })
      return summary(r.status, (n) => r.headers[n] as string | undefined, r.body)
    } finally {
      session.destroy()
    }
  }
  const viaH1 = (method: string, fields: Readonly<Record<string, string>>) =>
    new Promise<string>((resolve, reject) => {
      const req = http.request({ host: "127.0.0.1", port: server.port, method, path: "/", headers: fields, agent: false }, (res) => {
        const chunks: Array<Buffer> = []
        res.on("data", (c: Buffer) => chunks.push(c))
        res.on("end", () => resolve(summary(res.statusCode, (n) => res.headers[n] as string | undefined, Buffer.concat(chunks))))
      })
      req.on("error", reject)
      req.end()
    })
  const inMemory = async (version: Version, method: string, fields: Readonly<Record<string, string>>) => {
    const res = await Effect.runPromise(request(fileApp, { httpVersion: version, method, headers: Object.entries(fields) }))
    return summary(res.status, (n) => res.headers.find((h) => h[0] === n)?.[1], res.body)
  }

  it("HTTP-21: whole file, ranges (satisfiable, suffix, unsatisfiable, multi-part), If-None-Match, If-Range and HEAD get the same status, bytes and fields from the runner and from request()", async () => {
    const etag = etagOf(statSync(file))
    const cases: ReadonlyArray<readonly [string, Readonly<Record<string, string>>]> = [
      ["GET", {}],
      ["GET", { range: "bytes=2-4" }],
      ["GET", { range: "bytes=-3" }],
      ["GET", { range: "bytes=50-" }],
      ["GET", { range: "bytes=0-1,5-6" }],
      ["GET", { "if-none-match": etag }],
      ["GET", { range: "bytes=1-2", "if-range": etag }],
      ["HEAD", {}]
    ]
    const disagree: Array<string> = []
    for (const [method, fields] of cases) {
      const h2 = await viaH2(method, fields)
      const h1 = await viaH1(method, fields)
      const memory2 = await inMemory("2", method, fields)
      const memory1 = await inMemory("1.1", method, fields)
      if (h2 !== memory2) disagree.push(`HTTP/2 ${method} ${JSON.stringify(fields)}: runner ${h2} / request() ${memory2}`)
      if (h1 !== memory1) disagree.push(`HTTP/1.1 ${method} ${JSON.stringify(fields)}: runner ${h1} / request() ${memory1}`)
    }
    expect(disagree).toEqual([])
    expect(await inMemory("2", "GET", { range: "bytes=2-4" })).toMatch(/^206 \| le  \| content-length: 3 \| content-range: bytes 2-4\/10 \| /)
  })
})

// ---------------------------------------------------------------------------
// table 2
// ---------------------------------------------------------------------------

/** Table 2's input for an event `receive` yielded. */
const requestInput = (event: InboundEvent): string =>
  event.type === "http.request"
    ? event.moreBody ? "more" : event.trailers === true ? "lastThenTrailers" : "last"
    : event.type === "http.request.trailers"
    ? "trailers"
    : event.type === "http.disconnect"
    ? "disconnect"
    : event.type

/** The (state, input) pairs a sequence of inputs walks through table 2; a pair the table forbids ends the walk. */
const walk = (spec: Map<string, Map<string, Cell>>, seen: ReadonlyArray<string>): Array<string> => {
  const pairs: Array<string> = []
  let state = "receiving"
  for (const input of seen) {
    pairs.push(`${state} × ${input}`)
    const cell = spec.get(state)?.get(input)
    if (cell === undefined || !("next" in cell)) break
    state = cell.next
  }
  return pairs
}

describe("table 2: what the runner yields, the validator accepts; what the table forbids, it names (spec.md §4.7)", () => {
  const events = new Map<string, (result: { seen: Array<string>; death: string | undefined }) => void>()
  const gotFirst = new Map<string, () => void>()
  let server: TestServer

  /** Receives (under validate) per path, then reports the inputs seen and whether the validator killed the app. */
  const inner: App = (scope, receive, send) =>
    Effect.gen(function*() {
      if (scope.type !== "http") return
      const seen: Array<string> = []
      const take = Effect.tap(receive, (e) => Effect.sync(() => void seen.push(requestInput(e))))
      const respond = Effect.andThen(send(start), send(last))
      const exit = yield* Effect.exit(Effect.gen(function*() {
        switch (scope.path) {
          case "/body":
          case "/trailers": {
            let e = yield* take
            while (e.type === "http.request" && e.moreBody) e = yield* take
            if (e.type === "http.request" && e.trailers === true) yield* take
            yield* respond
            break
          }
          case "/trailers-reset": {
            let e = yield* take
            while (e.type === "http.request" && e.moreBody) e = yield* take
            yield* send({ type: "http.response.reset", errorCode: 0 })
            break
          }
          case "/cancel": {
            yield* take
            gotFirst.get(scope.path)?.()
            break
          }
        }
        // Then the disconnect, twice.
        yield* take
        yield* take
      }))
      events.get(scope.path)?.({ seen, death: Exit.isFailure(exit) ? String(Cause.squash(exit.cause)) : undefined })
    })
  const validated = validate(inner)
  const app: App = (scope, receive, send) => Effect.catchCause(validated(scope, receive, send), () => Effect.void)

  beforeAll(async () => {
    server = await listen(app)
  })
  afterAll(() => server.close())

  /** Runs a request for `path` over HTTP/2 and returns what the app saw. */
  const drive = async (path: string, client: (session: http2.ClientHttp2Session) => void) => {
    const result = new Promise<{ seen: Array<string>; death: string | undefined }>((resolve) => events.set(path, resolve))
    const session = await connect(server.url)
    try {
      client(session)
      return await result
    } finally {
      session.destroy()
    }
  }

  it("HTTP-14 HTTP-23 HTTP-8: every pair the runner yields is one table 2 allows, the validator accepts them all, and together they are every allowed pair", async () => {
    const spec = table2()
    const runs = [
      await drive("/body", (s) => {
        const stream = s.request({ ":method": "POST", ":path": "/body" }, { endStream: false })
        stream.on("error", () => {})
        stream.resume()
        stream.write("abc")
        setTimeout(() => stream.end("def"), 20)
      }),
      await drive("/trailers", (s) => {
        const stream = s.request({ ":method": "POST", ":path": "/trailers" }, { endStream: false, waitForTrailers: true })
        stream.on("error", () => {})
        stream.on("wantTrailers", () => stream.sendTrailers({ "x-sum": "6" }))
        stream.resume()
        stream.end("abcdef")
      }),
      await drive("/trailers-reset", (s) => {
        const stream = s.request({ ":method": "POST", ":path": "/trailers-reset" }, { endStream: false, waitForTrailers: true })
        stream.on("error", () => {})
        stream.on("wantTrailers", () => stream.sendTrailers({ "x-sum": "6" }))
        stream.resume()
        stream.end("abcdef")
      }),
      await drive("/cancel", (s) => {
        const stream = s.request({ ":method": "POST", ":path": "/cancel" }, { endStream: false })
        stream.on("error", () => {})
        gotFirst.set("/cancel", () => cancel(stream))
        stream.write("abc")
      })
    ]
    expect(runs.map((r) => r.death)).toEqual([undefined, undefined, undefined, undefined])
    const observed = new Set(runs.flatMap((r) => walk(spec, r.seen)))
    const allowed = [...spec].flatMap(([state, row]) => [...row].filter(([, cell]) => "next" in cell).map(([input]) => `${state} × ${input}`))
    expect([...observed].filter((p) => !allowed.includes(p))).toEqual([])
    expect(allowed.filter((p) => !observed.has(p))).toEqual([])
  })

  it("HTTP-14 HTTP-23 HTTP-8: every pair table 2 forbids makes the validator die with the rule the table names", async () => {
    const spec = table2()
    const eventFor: Readonly<Record<string, InboundEvent>> = {
      more: { type: "http.request", connectionId: 1, streamId: 1, body: text("a"), moreBody: true },
      last: { type: "http.request", connectionId: 1, streamId: 1, body: text("a"), moreBody: false },
      lastThenTrailers: { type: "http.request", connectionId: 1, streamId: 1, body: text("a"), moreBody: false, trailers: true },
      trailers: { type: "http.request.trailers", connectionId: 1, streamId: 1, headers: [] },
      disconnect: { type: "http.disconnect", connectionId: 1, streamId: 1 }
    }
    const reach: Readonly<Record<string, ReadonlyArray<string>>> = {
      receiving: [],
      trailers: ["lastThenTrailers"],
      complete: ["last"],
      disconnected: ["disconnect"]
    }
    const wrong: Array<string> = []
    for (const [state, row] of spec) {
      for (const [input, cell] of row) {
        if ("next" in cell) continue
        const queue = [...reach[state]!, input].map((i) => eventFor[i]!)
        const n = queue.length
        const receive: Receive = Effect.sync(() => queue.shift()!)
        const exit = await Effect.runPromiseExit(validate((_s, rcv) => Effect.forEach(Array.from({ length: n }), () => rcv, { discard: true }))(testScope({ method: "POST" }), receive, () => Effect.void))
        const died = Exit.isFailure(exit) ? (Cause.squash(exit.cause) as { rule?: string }).rule : "accepted"
        if (died !== cell.rule) wrong.push(`${state} × ${input}: validator ${died}, spec ${cell.rule}`)
      }
    }
    expect(wrong).toEqual([])
  })
})

// ---------------------------------------------------------------------------
// table 3
// ---------------------------------------------------------------------------

describe("table 3: the runner's lifespan driver and the validator agree (spec.md §6.5)", () => {
  const lifespanScope: LifespanScope = { type: "lifespan", egi: lifespanEgi, connectionId: 0, streamId: 0, state: {} }
  const replies = ["lifespan.startup.complete", "lifespan.startup.failed", "lifespan.shutdown.complete", "lifespan.shutdown.failed"] as const

  /** Receives startup, reaches `state` with valid replies, sends `probe`; reports the outcomes. */
  const app = (state: string, probe: string, done: (outcomes: Array<string>) => void): App => (_scope, receive, send) =>
    Effect.gen(function*() {
      const outcomes: Array<string> = []
      yield* receive
      if (state !== "startup") outcomes.push(yield* outcome(send({ type: "lifespan.startup.complete" })))
      if (state === "shutdown" || state === "done") yield* receive
      if (state === "done") outcomes.push(yield* outcome(send({ type: "lifespan.shutdown.complete" })))
      outcomes.push(yield* outcome(send({ type: probe } as OutboundEvent)))
      done(outcomes)
    })

  const onRunner = (state: string, probe: string): Promise<Array<string>> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`lifespan ${state} × ${probe}: no report`)), 5000)
      const finish = (outcomes: Array<string>) => {
        clearTimeout(timer)
        resolve(outcomes)
      }
      const logger = runnerLog(false, Context.empty() as Context.Context<unknown>)
      Effect.runPromise(
        Effect.gen(function*() {
          const lifespan = yield* startLifespan(app(state, probe, finish), logger)
          if (state === "shutdown" || state === "done") yield* lifespan.shutdown(1000)
        }).pipe(Effect.ignore)
      )
    })

  const inMemory = async (state: string, probe: string): Promise<Array<string>> => {
    let outcomes: Array<string> = []
    const queue: Array<InboundEvent> = [{ type: "lifespan.startup", connectionId: 0, streamId: 0 }, { type: "lifespan.shutdown", connectionId: 0, streamId: 0 }]
    const receive: Receive = Effect.sync(() => queue.shift()!)
    await Effect.runPromise(validate(app(state, probe, (o) => void (outcomes = o)))(lifespanScope, receive, () => Effect.void))
    return outcomes
  }

  it("LIFE-2: every (state, reply) of table 3 gets the same outcome from startLifespan and from validate, the one the table names", async () => {
    const spec = table3()
    const wrong: Array<string> = []
    for (const state of spec.keys()) {
      for (const probe of replies) {
        const runner = await onRunner(state, probe)
        const memory = await inMemory(state, probe)
        const want = [...(state === "startup" ? [] : ["ok"]), ...(state === "done" ? ["ok"] : []), expected(spec.get(state)?.get(probe), "LIFE-2")]
        if (JSON.stringify(runner) !== JSON.stringify(memory) || JSON.stringify(runner) !== JSON.stringify(want)) {
          wrong.push(`${state} × ${probe}: runner ${runner.join(",")} / validate ${memory.join(",")} / spec ${want.join(",")}`)
        }
      }
    }
    expect(wrong).toEqual([])
  })

  it("CORE-6 CORE-3 LIFE-2: a reply of another scope type, a foreign correlator and a reply named like an Object.prototype key agree too", async () => {
    const wrong: Array<string> = []
    for (const probe of [{ type: "http.response.start", status: 200 }, { type: "lifespan.startup.complete", streamId: 7 }, { type: "constructor" }]) {
      const run = (record: (o: Array<string>) => void): App => (_s, receive, send) =>
        Effect.gen(function*() {
          yield* receive
          const first = yield* outcome(send(probe as OutboundEvent))
          record([first, yield* outcome(send({ type: "lifespan.startup.complete" }))])
        })
      const runner = await new Promise<Array<string>>((resolve) => {
        const logger = runnerLog(false, Context.empty() as Context.Context<unknown>)
        Effect.runPromise(Effect.ignore(startLifespan(run(resolve), logger)))
      })
      let memory: Array<string> = []
      const queue: Array<InboundEvent> = [{ type: "lifespan.startup", connectionId: 0, streamId: 0 }]
      await Effect.runPromise(validate(run((o) => void (memory = o)))(lifespanScope, Effect.sync(() => queue.shift()!), () => Effect.void))
      if (JSON.stringify(runner) !== JSON.stringify(memory)) wrong.push(`${JSON.stringify(probe)}: runner ${runner.join(",")} / validate ${memory.join(",")}`)
    }
    expect(wrong).toEqual([])
  })
})

// ---------------------------------------------------------------------------
// table 4
// ---------------------------------------------------------------------------

describe("table 4: the runner's WebSocket session and the validator agree (spec.md §11.5)", () => {
  const scope: WebSocketScope = { ...testScope(), type: "websocket", httpVersion: "1.1", scheme: "ws", subprotocols: ["chat"], extensions: {} }

  /** A `ws` socket that takes every message and close at once. */
  const socket = (): WebSocket => {
    const s = Object.assign(new EventEmitter(), {
      bufferedAmount: 0,
      readyState: 1,
      OPEN: 1,
      // As `ws` does, the callback is optional (the session passes none when the message fits the bound).
      send: (_data: unknown, _options: unknown, callback?: (error?: Error) => void) => void queueMicrotask(() => callback?.()),
      close: () => {},
      pause: () => {},
      resume: () => {},
      ping: () => {},
      terminate: () => {}
    })
    return s as unknown as WebSocket
  }
  const handshake = (): Handshake => ({
    accept: () => Promise.resolve(socket()),
    deny: () => {},
    denyBody: () => {},
    onGone: () => {}
  })
  const limits = { sendBuffer: 256 * 1024, receiveQueue: 16, receiveQueueBytes: 1024 * 1024, pingInterval: 0, pingTimeout: 0 }

  const toWsState: Readonly<Record<string, ReadonlyArray<unknown>>> = {
    connecting: [],
    open: [{ type: "websocket.accept" }],
    denying: [{ type: "websocket.http.response.start", status: 403 }],
    closed: [{ type: "websocket.accept" }, { type: "websocket.close", code: 1000 }]
  }
  const wsInputs: Readonly<Record<string, unknown>> = {
    "websocket.accept": { type: "websocket.accept" },
    "websocket.send": { type: "websocket.send", text: "hi" },
    "websocket.close": { type: "websocket.close", code: 1000 },
    "websocket.http.response.start": { type: "websocket.http.response.start", status: 403 },
    "websocket.http.response.body": { type: "websocket.http.response.body", body: text("no"), moreBody: true },
    "websocket.http.response.body.last": { type: "websocket.http.response.body", body: text("no") }
  }

  /** Receives websocket.connect, sends `events`, returns every outcome. */
  const scriptedWs = (events: ReadonlyArray<unknown>, done: (outcomes: Array<string>) => void): App => (_scope, receive, send) =>
    Effect.gen(function*() {
      yield* receive
      const outcomes: Array<string> = []
      for (const e of events) outcomes.push(yield* outcome(send(e as OutboundEvent)))
      done(outcomes)
    })

  const both = async (events: ReadonlyArray<unknown>) => {
    let runner: Array<string> = []
    const session = new WebSocketSession(scope, handshake(), limits)
    await Effect.runPromise(scriptedWs(events, (o) => void (runner = o))(scope, session.receive, session.send))
    let memory: Array<string> = []
    const receive: Receive = Effect.succeed({ type: "websocket.connect", connectionId: 1, streamId: 1 })
    await Effect.runPromise(validate(scriptedWs(events, (o) => void (memory = o)))(scope, receive, () => Effect.void))
    return { runner, memory }
  }

  it("WS-1 WS-2 WS-3 WS-7: every (state, event) of table 4 gets the same outcome from the runner's session and from validate, the one the table names", async () => {
    const spec = table4()
    const wrong: Array<string> = []
    for (const [state, prefix] of Object.entries(toWsState)) {
      for (const [input, event] of Object.entries(wsInputs)) {
        const { runner, memory } = await both([...prefix, event])
        const want = [...prefix.map(() => "ok"), expected(spec.get(state)?.get(input))]
        if (JSON.stringify(runner) !== JSON.stringify(memory) || JSON.stringify(runner) !== JSON.stringify(want)) {
          wrong.push(`${state} × ${input}: runner ${runner.join(",")} / validate ${memory.join(",")} / spec ${want.join(",")}`)
        }
      }
    }
    expect(wrong).toEqual([])
  })

  it("WS-1 WS-3 WS-4 WS-10 HTTP-5 CORE-3 CORE-6: WebSocket events the runner refuses fail with the same rule under validate", async () => {
    const cases: ReadonlyArray<ReadonlyArray<unknown>> = [
      [{ type: "websocket.accept", subprotocol: "mqtt" }, { type: "websocket.accept", subprotocol: "chat" }],
      [{ type: "websocket.accept", headers: [["X-A", "1"]] }, { type: "websocket.accept" }],
      [{ type: "websocket.http.response.start", status: 99 }, { type: "websocket.http.response.start", status: 401, headers: [["x-a", "1\n"]] }],
      [{ type: "websocket.accept" }, { type: "websocket.send", text: "a", bytes: text("b") }, { type: "websocket.send" }],
      [{ type: "websocket.accept" }, { type: "websocket.close", code: 1005 }, { type: "websocket.close", code: 4000, reason: "x".repeat(124) }],
      [{ type: "websocket.accept", streamId: 2 }, { type: "http.response.start", status: 200 }, { type: "websocket.close" }]
    ]
    const wrong: Array<string> = []
    for (const events of cases) {
      const { runner, memory } = await both(events)
      if (JSON.stringify(runner) !== JSON.stringify(memory)) wrong.push(`${JSON.stringify(events)}: runner ${runner.join(",")} / validate ${memory.join(",")}`)
    }
    expect(wrong).toEqual([])
  })

  it("WS-5: the runner's session yields websocket.connect first, which the validator requires", async () => {
    const session = new WebSocketSession(scope, handshake(), limits)
    const seen: Array<string> = []
    const app: App = (_s, receive, send) => Effect.andThen(Effect.tap(receive, (e) => Effect.sync(() => void seen.push(e.type))), send({ type: "websocket.close" }))
    const exit = await Effect.runPromiseExit(validate(app)(scope, session.receive, session.send))
    expect([exit._tag, seen]).toEqual(["Success", ["websocket.connect"]])
  })
})
