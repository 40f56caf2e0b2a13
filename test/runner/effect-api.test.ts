/**
 * The runner driven from Effect itself (@effect/vitest): `start` is a scoped
 * Effect, the server lives as long as the test's Scope, and its graceful
 * shutdown runs when the Scope closes.
 */
import { it } from "@effect/vitest"
import { Effect } from "effect"
import * as http2 from "node:http2"
import { expect } from "vitest"
import hello from "../../examples/hello.ts"
import { start } from "../../src/runner/server.ts"

const get = (url: string) =>
  Effect.callback<{ status: number; body: string }, Error>((resume) => {
    const client = http2.connect(url)
    client.on("error", (e) => resume(Effect.fail(e)))
    const req = client.request({ ":path": "/" })
    req.on("error", (e) => resume(Effect.fail(e)))
    let status = 0
    let body = ""
    req.setEncoding("utf8")
    req.on("response", (h) => (status = Number(h[":status"])))
    req.on("data", (d: string) => (body += d))
    req.on("end", () => {
      client.close()
      resume(Effect.succeed({ status, body }))
    })
  })

it.live("RUN-9 RUN-7: start serves while its Scope is open and shuts down gracefully when the Scope closes", () =>
  Effect.gen(function*() {
    const server = yield* Effect.scoped(
      Effect.gen(function*() {
        const server = yield* start(hello, { port: 0, log: false })
        const res = yield* get(server.url)
        expect(res).toEqual({ status: 200, body: "Hello, world!" })
        // The bound address and port, as the listener reports them.
        expect([server.address, server.url]).toEqual(["127.0.0.1", `http://127.0.0.1:${server.port}`])
        return server
      })
    )
    // The Scope closed: the listener is gone.
    const after = yield* Effect.exit(get(server.url))
    expect(after._tag).toBe("Failure")
    expect(server.inflight()).toBe(0)
  }))
