/**
 * The send side's core (src/protocol/http-response.ts), in memory: the
 * checks the runner, validate(app) and the in-memory client share. Here
 * what is only a check (no wire): a content-length on a 204 (HTTP-17,
 * RFC 9110 §8.6), and that check moves nothing while accept does.
 */
import { describe, expect, it } from "vitest"
import type { OutboundEvent } from "../../src/protocol/events.ts"
import { ResponseSide } from "../../src/protocol/http-response.ts"
import { testScope } from "../../src/testing/client.ts"

const start = (status: number, headers: ReadonlyArray<readonly [string, string]>): OutboundEvent => ({ type: "http.response.start", status, headers })

describe("ResponseSide", () => {
  it("HTTP-17: a content-length on a 204 fails the start; on a 200, a 304 and a HEAD response it is accepted", () => {
    const side = new ResponseSide(testScope())
    expect(side.check(start(204, [["content-length", "0"]]))?.rule).toBe("HTTP-17")
    expect(side.check(start(204, []))).toBeUndefined()
    expect(side.check(start(200, [["content-length", "5"]]))).toBeUndefined()
    expect(side.check(start(304, [["content-length", "5"]]))).toBeUndefined()
    expect(new ResponseSide(testScope({ method: "HEAD" })).check(start(200, [["content-length", "5"]]))).toBeUndefined()
  })

  it("HTTP-37: content-length beside transfer-encoding fails the start, in either order; either alone is accepted", () => {
    const side = new ResponseSide(testScope())
    expect(side.check(start(200, [["transfer-encoding", "chunked"], ["content-length", "5"]]))?.rule).toBe("HTTP-37")
    expect(side.check(start(200, [["content-length", "5"], ["x-a", "1"], ["transfer-encoding", "chunked"]]))?.rule).toBe("HTTP-37")
    expect(side.check(start(200, [["transfer-encoding", "chunked"]]))).toBeUndefined()
    expect(side.check(start(200, [["content-length", "5"]]))).toBeUndefined()
  })

  it("HTTP-1 HTTP-17: check moves nothing; accept moves the state and records what the start declared", () => {
    const side = new ResponseSide(testScope())
    const event = start(200, [["content-length", "3"]])
    expect(side.check(event)).toBeUndefined()
    expect(side.state).toBe("start")
    side.accept(event)
    expect(side.state).toBe("head")
    expect(side.declared).toBe(3)
    expect(side.check(event)?.rule).toBe("HTTP-1")
    const body = { type: "http.response.body", body: new Uint8Array(2) } as const
    expect(side.check(body)?.rule).toBe("HTTP-17")
    expect(side.check({ ...body, body: new Uint8Array(3) })).toBeUndefined()
  })
})
