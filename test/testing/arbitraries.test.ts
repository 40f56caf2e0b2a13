/**
 * The exported arbitraries produce what spec.md allows, and drive the
 * in-memory client through any chunking and disconnect point.
 */
import { Effect, Exit } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import echo from "../../examples/echo.ts"
import hello from "../../examples/hello.ts"
import { isFieldName, isFieldValue } from "../../src/protocol/headers.ts"
import type { Receive } from "../../src/protocol/app.ts"
import { chunked, headers, httpScope, lifespanScope, request, requestBody, validate, websocketMessages, websocketScope } from "../../src/testing/index.ts"

describe("arbitraries (src/testing/arbitraries.ts)", () => {
  it("HTTP-5 HTTP-6: generated header lists are lower-case tokens with field values", () => {
    fc.assert(fc.property(headers, (list) => list.every(([n, v]) => isFieldName(n) && isFieldValue(v))))
  })

  it("CORE-2 CORE-5: every generated scope passes the validator's scope checks", async () => {
    const never: Receive = Effect.never
    await fc.assert(
      fc.asyncProperty(fc.oneof(httpScope, websocketScope, lifespanScope), async (scope) => {
        // hello answers http at once and refuses the other types: no ServerViolationError either way.
        const fiber = Effect.runFork(validate(hello)(scope, scope.type === "http" ? Effect.succeed({ type: "http.request", connectionId: 1, streamId: 1, body: new Uint8Array(0), moreBody: false }) : never, () => Effect.void))
        const exit = await Effect.runPromise(Effect.timeoutOption(Effect.promise(() => new Promise((r) => fiber.addObserver(r))), "1 second"))
        if (exit._tag === "Some") {
          const e = exit.value as Exit.Exit<void, unknown>
          if (Exit.isFailure(e)) expect(String(e.cause)).not.toContain("ServerViolationError")
        }
      }),
      { numRuns: 200 }
    )
  })

  it("HTTP-14: chunked(bytes) cuts without losing or adding a byte", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 500 }).chain((b) => fc.tuple(fc.constant(b), chunked(b))), ([bytes, chunks]) => {
      expect(Buffer.concat(chunks).equals(Buffer.from(bytes))).toBe(true)
    }))
  })

  it("HTTP-8 HTTP-14: echo under the validator returns exactly the chunks before a disconnect at any point", async () => {
    await fc.assert(
      fc.asyncProperty(requestBody, async ({ chunks, disconnectAfter }) => {
        const res = await Effect.runPromise(request(echo, { method: "POST", body: chunks, ...(disconnectAfter === undefined ? {} : { disconnectAfter }) }))
        const sent = disconnectAfter === undefined ? chunks : chunks.slice(0, disconnectAfter)
        expect(Buffer.from(res.body).equals(Buffer.concat(sent))).toBe(true)
        expect(res.complete).toBe(disconnectAfter === undefined)
      }),
      { numRuns: 150 }
    )
  })

  it("WS-4: generated WebSocket messages carry exactly one of text and bytes", () => {
    fc.assert(fc.property(websocketMessages(1000), (messages) => messages.every((m) => ("text" in m) !== ("bytes" in m))))
  })
})

describe("the in-memory client's simulations", () => {
  it("HTTP-8: a reset reaches the app as http.disconnect with its RST_STREAM code", async () => {
    let seen: unknown
    const app = ((_s, receive) =>
      Effect.gen(function*() {
        yield* receive
        seen = yield* receive
      })) as Parameters<typeof request>[0]
    await Effect.runPromise(request(app, { method: "POST", body: ["a", "b"], disconnectAfter: 1, errorCode: 8 }, { validate: false }))
    expect(seen).toMatchObject({ type: "http.disconnect", errorCode: 8 })
  })

  it("HTTP-10: sendDelay makes each body send wait (on Effect's clock)", async () => {
    const started = Date.now()
    const res = await Effect.runPromise(request(echo, { method: "POST", body: ["a", "b", "c"], sendDelay: 40 }))
    expect(res.text).toBe("abc")
    expect(Date.now() - started).toBeGreaterThanOrEqual(110)
  })
})
