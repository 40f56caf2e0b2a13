/**
 * The runner's lines through Effect's Logger (spec.md §8.5, RUN-15): with a
 * logger of the user's in the server's context, access, info and error lines
 * reach it annotated with the correlator; the minimum log level applies; the
 * CLI's `--log-format json` prints them as JSON. Real sockets.
 */
import { Cause, Effect, Exit, Layer, Logger, type LogLevel, References, Scope } from "effect"
import { describe, expect, it } from "vitest"
import type { App } from "../../src/protocol/app.ts"
import { start } from "../../src/runner/server.ts"
import { bodyOf, rawHttp, statusOf } from "../support/clients.ts"
import { runCli } from "../support/cli.ts"
import { closeSession, connect, request } from "../support/h2client.ts"

interface Record {
  readonly level: LogLevel.LogLevel
  readonly message: string
  readonly annotations: { readonly [k: string]: unknown }
  readonly cause: Cause.Cause<unknown>
}

/** A user's logger that keeps what it is given. */
const capture = () => {
  const records: Array<Record> = []
  const logger = Logger.make(({ cause, fiber, logLevel, message }) => {
    records.push({
      level: logLevel,
      message: (Array.isArray(message) ? message : [message]).map(String).join(" "),
      annotations: fiber.getRef(References.CurrentLogAnnotations),
      cause
    })
  })
  return { logger, records }
}

const app: App = (scope, _receive, send) =>
  Effect.gen(function*() {
    if (scope.type !== "http") return
    if (scope.path === "/fail") return yield* Effect.die(new Error("boom"))
    yield* send({ type: "http.response.start", status: 200 })
    yield* send({ type: "http.response.body", body: new TextEncoder().encode("hi") })
  })

/** Serves `app` with `layer` in its context (no `log` option: "auto"), runs `body`, shuts down. */
const serving = async (layer: Layer.Layer<never>, body: (url: string, port: number) => Promise<void>): Promise<void> => {
  const scope = Effect.runSync(Scope.make())
  try {
    const server = await Effect.runPromise(Scope.provide(scope)(Effect.provide(start(app, { port: 0, drainTimeout: 500 }), layer)))
    await body(server.url, server.port)
  } finally {
    await Effect.runPromise(Scope.close(scope, Exit.void))
  }
}

describe("RUN-15: the runner's lines through the user's Effect Logger", () => {
  it("RUN-15: access lines on both protocols and an app failure's error line reach the user's logger, annotated with connectionId, streamId and OpenTelemetry's HTTP attributes; the error carries the app's Cause", async () => {
    const { logger, records } = capture()
    await serving(Logger.layer([logger]), async (url, port) => {
      const session = await connect(url)
      try {
        expect((await request(session, { ":path": "/a?x=1" })).status).toBe(200)
        expect((await request(session, { ":path": "/fail" })).status).toBe(500)
      } finally {
        await closeSession(session)
      }
      const h1 = await rawHttp(port, ["GET /b HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"])
      expect([statusOf(h1.text), bodyOf(h1.text)]).toEqual([200, "hi"])
    })
    const access = records.filter((r) => "http.request.method" in r.annotations)
    expect(access.map((r) => r.message)).toEqual([
      expect.stringMatching(/^127\.0\.0\.1 "GET \/a\?x=1 HTTP\/2" 200 2 \d+\.\d\dms$/),
      expect.stringMatching(/^127\.0\.0\.1 "GET \/fail HTTP\/2" 500 \d+ \d+\.\d\dms$/),
      expect.stringMatching(/^127\.0\.0\.1 "GET \/b HTTP\/1\.1" 200 2 \d+\.\d\dms$/)
    ])
    expect(access.every((r) => r.level === "Info")).toBe(true)
    const [a, fail, b] = access
    expect(a!.annotations).toMatchObject({
      streamId: 1,
      "http.request.method": "GET",
      "url.path": "/a?x=1",
      "network.protocol.version": "2",
      "http.response.status_code": 200,
      "http.response.body.size": 2,
      "client.address": "127.0.0.1"
    })
    expect(typeof a!.annotations.connectionId).toBe("number")
    expect(typeof a!.annotations.durationMs).toBe("number")
    expect(fail!.annotations).toMatchObject({ connectionId: a!.annotations.connectionId, streamId: 3, "http.response.status_code": 500 })
    expect(b!.annotations).toMatchObject({ streamId: 1, "network.protocol.version": "1.1" })
    expect(b!.annotations.connectionId).not.toBe(a!.annotations.connectionId)

    const errors = records.filter((r) => r.level === "Error")
    expect(errors).toHaveLength(1)
    expect(errors[0]!.message).toBe("GET /fail HTTP/2: app failed")
    expect(errors[0]!.annotations).toEqual({ connectionId: a!.annotations.connectionId, streamId: 3 })
    expect(Cause.pretty(errors[0]!.cause)).toContain("boom")
    // The shutdown's lines are the server's, about no connection.
    expect(records.filter((r) => r.level === "Info" && !("http.request.method" in r.annotations)).map((r) => r.message)).toEqual([
      expect.stringMatching(/^shutting down: 0 stream\(s\) in flight/),
      "shutdown complete"
    ])
  })

  it("RUN-15: the context's minimum log level applies: at Warn, no access or info line, the error line still", async () => {
    const { logger, records } = capture()
    const layer = Layer.merge(Logger.layer([logger]), Layer.succeed(References.MinimumLogLevel, "Warn"))
    await serving(layer, async (url) => {
      expect((await fetch(url + "/a")).status).toBe(200)
      expect((await fetch(url + "/fail")).status).toBe(500)
    })
    expect(records.map((r) => [r.level, r.message])).toEqual([["Error", "GET /fail HTTP/1.1: app failed"]])
  })

  it("RUN-15: egi serve --log-format json prints the server's lines as Effect's JSON logger does, the access line annotated with the correlator", async () => {
    const c = runCli(["serve", "examples/hello.ts", "--port", "0", "--log-format", "json"])
    try {
      const m = await c.waitFor("stdout", /listening on (http:\/\/127\.0\.0\.1:\d+)/, 8000)
      expect((await fetch(m[1]! + "/x")).status).toBe(200)
      await c.waitFor("stdout", /"http\.request\.method"/)
      const lines = c.stdout().trim().split("\n").map((l) => JSON.parse(l) as { message: unknown; level: string; annotations: { [k: string]: unknown } })
      const access = lines.find((l) => "http.request.method" in l.annotations)!
      expect(access.level).toBe("INFO")
      expect(access.annotations).toMatchObject({ streamId: 1, "url.path": "/x", "http.response.status_code": 200 })
      expect(typeof access.annotations.connectionId).toBe("number")
      c.signal("SIGTERM")
      expect((await c.exit).code).toBe(0)
      expect(c.stdout()).toContain("shutdown complete")
    } finally {
      await c.dispose()
    }
  })
})
