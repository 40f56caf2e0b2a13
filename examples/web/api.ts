/**
 * The correlator view and the failures.
 *
 * `GET /api/whoami?wait=ms` answers the correlator the request arrived on
 * (`scope.connectionId`, `scope.streamId`, spec.md §3.2), the streams of
 * its connection whose app was running at that moment (`openStreams` of the
 * `http.connection` extension, §7.10) and the request's priority (the
 * `priority` field Chromium sends, parsed: `http.priority`, §7.7). The page fires a dozen at once: one
 * connection, a dozen streams, all open together — HTTP/2 multiplexing.
 *
 * `GET /api/fail?how=reset` resets its stream (`http.response.reset`,
 * RST_STREAM INTERNAL_ERROR, §7.4); `?how=fail` starts a response and then
 * fails, so the runner resets the stream (RUN-3). Either is a network error
 * for that one `fetch`; the connection and its other streams go on.
 */
import { Effect } from "effect"
import type { HttpScope, Send } from "../../src/index.ts"
import { json, reply } from "./http.ts"

/** RST_STREAM INTERNAL_ERROR (RFC 9113 §7). */
const INTERNAL_ERROR = 2

export const whoami = (scope: HttpScope, send: Send) =>
  Effect.gen(function*() {
    const wait = Number(new URLSearchParams(scope.queryString).get("wait"))
    if (Number.isFinite(wait) && wait > 0) yield* Effect.sleep(Math.min(wait, 5000))
    const connection = scope.extensions["http.connection"]
    const openStreams = connection === undefined ? [] : yield* connection.openStreams
    const priority = scope.extensions["http.priority"]
    yield* json(send, {
      connectionId: scope.connectionId,
      streamId: scope.streamId,
      httpVersion: scope.httpVersion,
      openStreams,
      // The request's RFC 9218 priority as the runner parsed it (spec.md §7.7).
      priority: priority === undefined ? null : { urgency: priority.urgency, incremental: priority.incremental }
    })
  })

export const fail = (scope: HttpScope, send: Send) =>
  Effect.gen(function*() {
    const how = new URLSearchParams(scope.queryString).get("how")
    if (how === "reset" && scope.extensions["http.response.reset"] !== undefined) {
      return yield* send({ type: "http.response.reset", errorCode: INTERNAL_ERROR })
    }
    if (how === "fail") {
      yield* send({ type: "http.response.start", status: 200, headers: [["content-type", "text/plain"]] })
      yield* send({ type: "http.response.body", body: new TextEncoder().encode("half a response, then "), moreBody: true })
      return yield* Effect.die(new Error("the example's deliberate failure (GET /api/fail?how=fail)"))
    }
    yield* reply(send, 400, "text/plain; charset=utf-8", "how=reset or how=fail (reset needs HTTP/2)\n")
  })
