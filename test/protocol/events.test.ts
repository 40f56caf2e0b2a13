/**
 * The event schemas (src/protocol/events.ts) are the single source of the
 * event shapes: they accept what spec.md §4 allows and reject what it forbids.
 */
import { Schema } from "effect"
import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import {
  HttpDisconnect,
  HttpInboundEvent,
  HttpOutboundEvent,
  HttpRequest,
  HttpResponseBody,
  HttpResponseStart,
  LifespanOutboundEvent
} from "../../src/protocol/events.ts"

const isOutbound = Schema.is(HttpOutboundEvent)
const isInbound = Schema.is(HttpInboundEvent)

describe("event schemas (spec.md §4.3–4.5, §6.3)", () => {
  it("CORE-1: an inbound event without its correlator is not an event", () => {
    expect(isInbound({ type: "http.request", connectionId: 1, streamId: 3, body: new Uint8Array(2), moreBody: false })).toBe(true)
    expect(isInbound({ type: "http.request", body: new Uint8Array(2), moreBody: false })).toBe(false)
    expect(Schema.is(HttpDisconnect)({ type: "http.disconnect", connectionId: 1, streamId: 3, errorCode: 8 })).toBe(true)
    expect(Schema.is(HttpDisconnect)({ type: "http.disconnect", streamId: 3 })).toBe(false)
  })

  it("HTTP-4: status must be an integer in 200–599", () => {
    fc.assert(
      fc.property(fc.oneof(fc.integer({ min: -1000, max: 2000 }), fc.double()), (status) => {
        const ok = Number.isInteger(status) && status >= 200 && status <= 599
        expect(Schema.is(HttpResponseStart)({ type: "http.response.start", status })).toBe(ok)
      })
    )
  })

  it("HTTP-5 HTTP-6: outbound header names are lower-case tokens, values ByteStrings without CR/LF/NUL", () => {
    const start = (headers: unknown) => ({ type: "http.response.start", status: 200, headers })
    expect(isOutbound(start([["content-type", "text/plain"], ["x-latin1", "caf\xe9"]]))).toBe(true)
    expect(isOutbound(start([["Content-Type", "text/plain"]]))).toBe(false)
    expect(isOutbound(start([["x", "a\r\nb"]]))).toBe(false)
    expect(isOutbound(start([["x", "\u2603"]]))).toBe(false)
    expect(isOutbound(start([["x"]]))).toBe(false)
  })

  it("HTTP-3: body and moreBody are optional with the spec's defaults; the type tags are exact", () => {
    expect(Schema.is(HttpResponseBody)({ type: "http.response.body" })).toBe(true)
    expect(Schema.is(HttpResponseBody)({ type: "http.response.body", body: new Uint8Array(1), moreBody: true })).toBe(true)
    expect(Schema.is(HttpResponseBody)({ type: "http.response.body", body: "text" })).toBe(false)
    expect(isOutbound({ type: "http.response.trailers" })).toBe(false)
    expect(Schema.is(HttpRequest)({ type: "http.request", connectionId: 1, streamId: 1, body: new Uint8Array(0) })).toBe(false)
  })

  it("LIFE-2: lifespan replies are the four of spec.md §6.3", () => {
    const is = Schema.is(LifespanOutboundEvent)
    expect(is({ type: "lifespan.startup.complete" })).toBe(true)
    expect(is({ type: "lifespan.startup.failed", message: "db down" })).toBe(true)
    expect(is({ type: "lifespan.shutdown.complete" })).toBe(true)
    expect(is({ type: "lifespan.shutdown.failed" })).toBe(true)
    expect(is({ type: "lifespan.startup" })).toBe(false)
  })
})
