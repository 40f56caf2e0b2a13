/**
 * HTTP-15: an app that outlives its peer unobserved is interrupted; one that
 * completed its response, or was told through receive, is not.
 */
import { Effect } from "effect"
import * as http2 from "node:http2"
import * as net from "node:net"
import { describe, expect, it } from "vitest"
import type { App } from "../../src/protocol/app.ts"
import { unsupportedScope } from "../../src/protocol/unsupported.ts"
import { sleep, until } from "../support/clients.ts"
import { useServer } from "../support/server.ts"

const log: Array<string> = []

const app: App = (scope, receive, send) => {
  if (scope.type !== "http") return unsupportedScope(scope)
  const tag = scope.path
  return Effect.gen(function*() {
    if (tag === "/hang") {
      // Started, then waits on something that never comes, not on receive.
      yield* send({ type: "http.response.start", status: 200 })
      yield* send({ type: "http.response.body", body: new Uint8Array([104, 105]), moreBody: true })
      yield* Effect.never
    }
    if (tag === "/told") {
      while ((yield* receive).type !== "http.disconnect") {}
      yield* Effect.sleep(100)
      log.push("/told finished after disconnect")
      return
    }
    if (tag === "/background") {
      yield* send({ type: "http.response.start", status: 200 })
      yield* send({ type: "http.response.body", body: new Uint8Array([111, 107]) })
      yield* Effect.sleep(300)
      log.push("/background finished")
    }
  }).pipe(Effect.onInterrupt(() => Effect.sync(() => void log.push(`${tag} interrupted`))))
}

const server = useServer(app)

const h2 = () => http2.connect(server().url)

describe("peer going away (spec.md §4.6)", () => {
  it("HTTP-15: an h2 client reset interrupts an app that is not in receive; the connection keeps serving", async () => {
    const client = h2()
    try {
      const req = client.request({ ":path": "/hang" })
      await new Promise<void>((resolve) => req.once("data", () => resolve()))
      req.close(http2.constants.NGHTTP2_CANCEL)
      await until(() => log.includes("/hang interrupted"), "the /hang app to be interrupted")
      expect(server().inflight()).toBe(0)
      const again = client.request({ ":path": "/background" })
      const status = await new Promise<number>((resolve) => again.once("response", (h) => resolve(Number(h[":status"]))))
      again.resume()
      expect(status).toBe(200)
    } finally {
      client.close()
    }
  })

  it("HTTP-15: an HTTP/1.1 client that closes its connection interrupts an app that is not in receive", async () => {
    const socket = net.connect(server().port, "127.0.0.1")
    await new Promise<void>((resolve) => socket.once("connect", () => resolve()))
    socket.write("GET /hang HTTP/1.1\r\nhost: x\r\n\r\n")
    await new Promise<void>((resolve) => socket.once("data", () => resolve()))
    log.length = 0
    socket.destroy()
    await until(() => log.includes("/hang interrupted"), "the /hang app to be interrupted")
  })

  it("HTTP-15 HTTP-8: an app waiting in receive is told (http.disconnect), not interrupted", async () => {
    log.length = 0
    const client = h2()
    try {
      const req = client.request({ ":path": "/told", ":method": "POST" })
      req.write("partial")
      await sleep(50)
      req.close(http2.constants.NGHTTP2_CANCEL)
      await until(() => log.includes("/told finished after disconnect"), "the /told app to finish")
      expect(log).not.toContain("/told interrupted")
    } finally {
      client.close()
    }
  })

  it("HTTP-15: an app that completed its response is not interrupted when the stream closes", async () => {
    log.length = 0
    const client = h2()
    try {
      const req = client.request({ ":path": "/background" })
      req.resume()
      await new Promise<void>((resolve) => req.once("end", () => resolve()))
      client.close()
      await until(() => log.includes("/background finished"), "the /background app to finish")
      expect(log).not.toContain("/background interrupted")
    } finally {
      client.close()
    }
  })
})
