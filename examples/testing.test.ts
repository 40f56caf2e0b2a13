/**
 * Testing an app with egi/testing: a property test of examples/echo.ts in
 * memory — any body, cut into any chunks, comes back whole, and the
 * validator checks every event against spec.md on the way.
 */
import { Effect } from "effect"
import fc from "fast-check"
import { expect, it } from "vitest"
import { request } from "../src/testing/index.ts"
import echo from "./echo.ts"

it("HTTP-14: echo.ts returns any body, however it is chunked", async () => {
  await fc.assert(fc.asyncProperty(fc.array(fc.uint8Array({ maxLength: 2000 }), { maxLength: 8 }), async (chunks) => {
    const res = await Effect.runPromise(request(echo, { method: "POST", body: chunks }))
    expect(res.status).toBe(200)
    expect(Buffer.from(res.body).equals(Buffer.concat(chunks))).toBe(true)
  }))
})
