/**
 * `serveTest(app)`: the app served on a free loopback port for the test's
 * Scope, with an HTTP/2 client on it — the wire, in a test, in one line
 * (with `@effect/vitest`: `it.live("…", () => Effect.scoped(…))`). The
 * server and the client close with the Scope; what the app requires (`R`)
 * the test provides.
 *
 * @since 0.4.0
 */
import * as Effect from "effect/Effect"
import type { Scope } from "effect"
import * as http2 from "node:http2"
import type { App } from "../protocol/app.ts"
import type { ServeError } from "../runner/errors.ts"
import type { RunnerOptions } from "../runner/options.ts"
import { start } from "../runner/server.ts"

/**
 * A response as the test client got it: `status`, the response fields
 * (node:http2's object: names lower-case, repeated fields as arrays) and
 * the whole body.
 *
 * @since 0.4.0
 * @category testing
 */
export interface TestResult {
  readonly status: number
  readonly headers: http2.IncomingHttpHeaders
  readonly body: Uint8Array
}

/**
 * What `serveTest` gives a test: the server's `url` (`http://127.0.0.1:<port>`)
 * and `port`, the HTTP/2 `session` (prior knowledge, h2c), and `request`,
 * which sends one request on it (`:method` GET unless `headers` say
 * otherwise; `body` bytes or text) and yields the response.
 *
 * @since 0.4.0
 * @category testing
 */
export interface TestServerHandle {
  readonly url: string
  readonly port: number
  readonly session: http2.ClientHttp2Session
  readonly request: (path: string, headers?: http2.OutgoingHttpHeaders, body?: string | Uint8Array) => Effect.Effect<TestResult, Error>
}

/**
 * Serves `app` on 127.0.0.1, a free port, with no log lines (`log: false`; `options`
 * override any of it), and connects an HTTP/2 client; both close with the
 * Scope (the server by its graceful shutdown). Fails with `ServeError`
 * when the server cannot start, or an `Error` when the client cannot
 * connect.
 *
 * @since 0.4.0
 * @category testing
 */
export const serveTest = <E, R>(
  app: App<E, R>,
  options: Partial<RunnerOptions> = {}
): Effect.Effect<TestServerHandle, ServeError | Error, Scope.Scope | R> =>
  Effect.gen(function*() {
    const server = yield* start(app, { port: 0, log: false, drainTimeout: 1000, ...options })
    const session = yield* Effect.acquireRelease(
      Effect.callback<http2.ClientHttp2Session, Error>((resume) => {
        const s = http2.connect(server.url)
        s.once("error", (e) => resume(Effect.fail(e)))
        s.once("remoteSettings", () => {
          s.on("error", () => {})
          resume(Effect.succeed(s))
        })
      }),
      (s) => Effect.sync(() => s.destroy())
    )
    const request = (path: string, headers: http2.OutgoingHttpHeaders = {}, body?: string | Uint8Array) =>
      Effect.callback<TestResult, Error>((resume) => {
        const stream = session.request({ ":path": path, ...headers }, { endStream: body === undefined })
        let status = 0
        let fields: http2.IncomingHttpHeaders = {}
        const chunks: Array<Buffer> = []
        stream.on("response", (h) => {
          fields = h
          status = Number(h[":status"])
        })
        stream.on("data", (c: Buffer) => chunks.push(c))
        stream.on("error", (e) => resume(Effect.fail(e)))
        stream.on("end", () => resume(Effect.succeed({ status, headers: fields, body: new Uint8Array(Buffer.concat(chunks)) })))
        if (body !== undefined) stream.end(body)
      })
    return { url: server.url, port: server.port, session, request }
  })
