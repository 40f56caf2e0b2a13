/**
 * Lifespan per server instance (spec.md §6, LIFE-4): one lifespan call per
 * server, with its own state, whatever the number of connections and
 * requests; two servers of one app in one process are two instances, as
 * two worker processes would be.
 */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import type { App } from "../../src/protocol/app.ts"
import { rawHttp } from "../support/clients.ts"
import { closeSession, collect, connect } from "../support/h2client.ts"
import { listen } from "../support/server.ts"

describe("LIFE-4: lifespan once per server instance", () => {
  it("LIFE-4: two servers of one app each run lifespan once, with their own state; their requests see only their own; many requests start no more lifespans", async () => {
    let lifespans = 0
    const app: App = (scope, receive, send) => {
      if (scope.type === "lifespan") {
        return Effect.gen(function*() {
          lifespans += 1
          yield* receive
          scope.state["instance"] = lifespans
          yield* send({ type: "lifespan.startup.complete" })
          yield* receive
          yield* send({ type: "lifespan.shutdown.complete" })
        })
      }
      if (scope.type !== "http") return Effect.fail(new Error("http only"))
      return Effect.gen(function*() {
        // A request that writes to its copy changes no other scope's (§6.4).
        const seen = scope.state["instance"]
        scope.state["instance"] = "changed by a request"
        yield* send({ type: "http.response.start", status: 200 })
        yield* send({ type: "http.response.body", body: new TextEncoder().encode(String(seen)) })
      })
    }
    const a = await listen(app)
    const b = await listen(app)
    try {
      expect(lifespans).toBe(2)
      for (const [server, instance] of [[a, "1"], [b, "2"]] as const) {
        const session = await connect(server.url)
        try {
          for (let i = 0; i < 5; i++) {
            const r = await collect(session.request({ ":path": "/" }))
            expect(r.body.toString()).toBe(instance)
          }
        } finally {
          await closeSession(session)
        }
        for (let i = 0; i < 3; i++) {
          const r = await rawHttp(server.port, ["GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"])
          expect(r.text.endsWith(instance)).toBe(true)
        }
      }
      expect(lifespans).toBe(2)
    } finally {
      await a.close()
      await b.close()
    }
  })
})
