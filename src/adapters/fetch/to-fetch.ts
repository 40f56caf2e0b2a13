/**
 * `toFetch`: an EGI app as a WinterTC fetch handler, so an app written once
 * runs on EGI's runner with HTTP/2 and on any fetch-based runtime (Deno,
 * Bun, Cloudflare Workers, `@hono/node-server`) with what that runtime has
 * (spec.md §12.2).
 *
 * @since 0.5.0
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type { Fiber } from "effect"
import type { App } from "../../protocol/app.ts"
import { type LocalProtocolError, StreamClosedError } from "../../protocol/errors.ts"
import type { HttpDisconnect, HttpRequest, InboundEvent, OutboundEvent } from "../../protocol/events.ts"
import { connectionSpecific, type Headers as EgiHeaders } from "../../protocol/headers.ts"
import { ResponseSide } from "../../protocol/http-response.ts"
import { decodePath, type HttpScope, lifespanEgi, type LifespanEgiInfo, SPEC_VERSIONS } from "../../protocol/scope.ts"
import { egiInfo } from "../../runner/http-scope.ts"
import { Inbox } from "../../runner/inbox.ts"
import { type Lifespan, startLifespan } from "../../runner/lifespan.ts"
import { type LogMode, runnerLog } from "../../runner/log.ts"
import { callApp } from "../../runner/supervisor.ts"
import { headersToWeb, ignore } from "./shared.ts"

/**
 * Options of `toFetch`:
 *
 * - `context`: what the app requires (its services, `R`), and the logger
 *   and tracer its calls run with (CORE-13); required when `R` is not
 *   `never`. Build it once, e.g. with `Layer.build` in a long-lived Scope.
 * - `rootPath`: `scope.rootPath`, `""` by default.
 * - `client`: the peer address of a request, `[host, port]`, when the
 *   runtime tells it (Deno's `info.remoteAddr`, Bun's `server.requestIP`);
 *   `scope.client` is `null` without it (spec.md §4.1: never made up).
 * - `writeBufferSize`: bytes of response body queued per request before
 *   `send` waits for the runtime to read (HTTP-10); 256 KiB by default.
 * - `drainTimeout`: ms `dispose()` waits for requests in flight, and then
 *   for the lifespan shutdown reply; 30 000 by default.
 * - `log`: where failures of the app and of lifespan are logged
 *   (`LogMode`, spec.md §8.5); `"auto"` by default.
 *
 * @since 0.5.0
 * @category models
 */
export interface ToFetchOptions<R = never> {
  readonly context?: Context.Context<R>
  readonly rootPath?: string
  readonly client?: (request: Request) => readonly [host: string, port: number] | null
  readonly writeBufferSize?: number
  readonly drainTimeout?: number
  readonly log?: LogMode
}

/**
 * What `toFetch` returns: `fetch`, the handler (bound, so it can be passed
 * on alone: `Deno.serve(h.fetch)`, `serve({ fetch: h.fetch })`; or
 * `export default h` for Bun and Workers), and `dispose()`, which stops
 * taking requests (503 after it), waits for those in flight at most
 * `drainTimeout`, interrupts the rest and runs the lifespan shutdown
 * (LIFE-3). `fetch` never rejects: every failure is a `Response` (500) or
 * an errored body.
 *
 * @since 0.5.0
 * @category models
 */
export interface EgiFetchHandler {
  readonly fetch: (request: Request) => Promise<Response>
  readonly dispose: () => Promise<void>
}

const KiB = 1024

/**
 * The lifespan scope's `egi` under `toFetch`: it calls the app with `http`
 * and `lifespan` scopes only (CORE-10: no `websocket` entry).
 */
const fetchLifespanEgi: LifespanEgiInfo = Object.freeze({
  ...lifespanEgi,
  specVersions: Object.freeze({ http: SPEC_VERSIONS.http, lifespan: SPEC_VERSIONS.lifespan })
})

const EMPTY = new Uint8Array(0)

/** A final status whose response carries no content, with 205 (RFC 9110 §6.4.1, §15.3.6). */
const bodylessStatus = (status: number): boolean => status === 204 || status === 205 || status === 304

/** Response fields a fetch runtime frames itself (RUN-6's list). */
const dropped: ReadonlySet<string> = connectionSpecific

/**
 * An EGI app as a fetch handler (spec.md §12.2). Each `fetch(request)` is
 * one call of the app with an `http` scope:
 *
 * - **Scope**: `httpVersion` `"1.1"`; `method` as the `Request` has it;
 *   `scheme`, `authority`, `rawPath` and `queryString` from `request.url`
 *   (as the runtime's URL parser left them: percent-encoded, dot segments
 *   resolved — the Fetch API has no raw target); `headers` the `Request`'s,
 *   as `Headers` iterates them (lower-case, sorted, duplicates joined);
 *   `client` from `options.client`, `server` null; `connectionId` a
 *   counter per request, `streamId` 1; **`extensions: {}`** — a fetch
 *   runtime offers none of §7 (no trailers, push, early hints, reset,
 *   priority, windows, file bodies), so an app that checks
 *   `scope.extensions` adapts, and one that sends an extension's event
 *   fails with `LocalProtocolError` CORE-7 (FETCH-7).
 * - **receive**: one `read()` of the request body per call, nothing read
 *   ahead (FETCH-8); then `http.disconnect` — `end: "complete"` once the
 *   response is complete, `"connection"` when `request.signal` aborts or
 *   the runtime cancels the response body (HTTP-8). An app not waiting in
 *   `receive` then is interrupted (HTTP-15).
 * - **send**: checked by the protocol core's `ResponseSide`, so a bad
 *   event fails with the same `LocalProtocolError` as on the runner
 *   (FETCH-9); `StreamClosedError` once the client went away. The
 *   `Response` is resolved at the first body event: a last one gives a
 *   `Response` of those bytes; a first with `moreBody` a `ReadableStream`
 *   (byte-length queuing, `writeBufferSize`) whose `send` waits while the
 *   queue is full (HTTP-10, FETCH-10). HEAD, 204, 205 and 304 get
 *   `new Response(null, …)`. Connection-specific fields (RUN-6's list)
 *   are dropped: the runtime frames the response.
 * - **Failures**: an app that fails, or returns, before its first body
 *   event gets a 500 `Response` (RUN-2, RUN-4); after it, the body stream
 *   errors, which a runtime turns into a reset or a cut connection (RUN-3).
 *   Failures but `StreamClosedError` after the client left are logged.
 * - **Lifespan**: run at the first `fetch` (LIFE-1, LIFE-4: once per
 *   handler), its `state` copied into every scope; `lifespan.startup.failed`
 *   makes every request 500. `dispose()` runs the shutdown.
 *
 * @since 0.5.0
 * @category constructors
 */
export const toFetch = <E, R = never>(
  app: App<E, R>,
  ...[options = {}]: [R] extends [never] ? [options?: ToFetchOptions<never>]
    : [options: ToFetchOptions<R> & { readonly context: Context.Context<R> }]
): EgiFetchHandler => {
  const context = (options.context ?? Context.empty()) as Context.Context<R>
  const log = runnerLog(options.log ?? "auto", context as Context.Context<unknown>)
  const rootPath = options.rootPath ?? ""
  const writeBufferSize = options.writeBufferSize ?? 256 * KiB
  const drainTimeout = options.drainTimeout ?? 30_000
  const clientOf = options.client
  const run = Effect.runForkWith(context)
  // The lifespan call sees the scope types this handler serves (CORE-10).
  const lifespanApp: App<E, R> = (scope, receive, send) =>
    app(scope.type === "lifespan" ? { ...scope, egi: fetchLifespanEgi } : scope, receive, send)

  let lifespan: Lifespan | undefined
  let startupFailed = false
  let starting: Promise<void> | undefined
  let disposing: Promise<void> | undefined
  const inflight = new Set<Fiber.Fiber<void, unknown>>()
  let connections = 0

  const start = (): Promise<void> =>
    starting ??= Effect.runPromiseWith(context)(Effect.exit(startLifespan(lifespanApp, log))).then((exit) => {
      if (Exit.isSuccess(exit)) lifespan = exit.value
      else {
        startupFailed = true
        log.error("lifespan: startup failed; every request gets 500", undefined, exit.cause)
      }
    })

  const exchange = (request: Request): Promise<Response> => {
    const url = new URL(request.url)
    const rawPath = url.pathname
    const headers: Array<[string, string]> = []
    for (const pair of request.headers) headers.push(pair)
    const scope: HttpScope = {
      type: "http",
      egi: egiInfo,
      httpVersion: "1.1",
      method: request.method,
      scheme: url.protocol === "https:" ? "https" : "http",
      authority: url.host === "" ? null : url.host,
      path: decodePath(rawPath),
      rawPath,
      queryString: url.search.slice(1),
      rootPath,
      headers,
      client: clientOf?.(request) ?? null,
      server: null,
      connectionId: ++connections,
      streamId: 1,
      extensions: {},
      state: lifespan === undefined ? {} : { ...lifespan.state }
    }
    const ex = new Exchange(scope, request, writeBufferSize)
    const fiber = run(callApp(app, scope, ex.receive, ex.send))
    ex.fiber = fiber
    inflight.add(fiber)
    fiber.addObserver((exit) => {
      inflight.delete(fiber)
      ex.ended(exit, log)
    })
    return ex.response
  }

  const fetch = (request: Request): Promise<Response> => {
    if (disposing !== undefined) return Promise.resolve(new Response(null, { status: 503, headers: { "retry-after": "1" } }))
    if (lifespan !== undefined) return exchange(request)
    if (startupFailed) return Promise.resolve(new Response(null, { status: 500 }))
    return start().then(() =>
      lifespan !== undefined ? exchange(request) : new Response(null, { status: disposing === undefined ? 500 : 503 })
    )
  }

  const dispose = (): Promise<void> =>
    disposing ??= (async () => {
      if (starting === undefined) return
      await starting
      const deadline = Date.now() + drainTimeout
      while (inflight.size > 0 && Date.now() < deadline) {
        await Promise.race([
          new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, deadline - Date.now()))),
          Promise.all([...inflight].map((f) => new Promise<void>((resolve) => f.addObserver(() => resolve()))))
        ])
      }
      for (const f of inflight) f.interruptUnsafe()
      if (lifespan !== undefined) await Effect.runPromise(lifespan.shutdown(drainTimeout))
      log.flush()
    })()

  return { fetch, dispose }
}

/**
 * One request/response: the app's `receive` over the request body, its
 * `send` into the `Response`.
 */
class Exchange {
  readonly response: Promise<Response>
  fiber: Fiber.Fiber<void, unknown> | undefined
  private resolve!: (response: Response) => void
  private readonly side: ResponseSide
  private head: { readonly status: number; readonly headers: EgiHeaders } | undefined
  private responded = false
  private complete = false
  private controller: ReadableStreamDefaultController<Uint8Array> | undefined
  /** A `send` waiting for room in the queue (HTTP-10). */
  private waiter: (() => void) | undefined
  // The request side (table 2): the event read and not yet taken, the body's end, the disconnect.
  private ready: InboundEvent | undefined
  private reading = false
  private bodyDone = false
  private disconnect: HttpDisconnect | undefined
  private reader: ReadableStreamDefaultReader<Uint8Array> | undefined
  private readonly inbox: Inbox<InboundEvent>
  private readonly onAbort: () => void

  private readonly scope: HttpScope
  private readonly request: Request
  private readonly writeBufferSize: number

  constructor(scope: HttpScope, request: Request, writeBufferSize: number) {
    this.scope = scope
    this.request = request
    this.writeBufferSize = writeBufferSize
    this.response = new Promise((resolve) => (this.resolve = resolve))
    this.side = new ResponseSide(scope)
    if (request.body === null) {
      this.ready = this.requestEvent(EMPTY, false)
      this.bodyDone = true
    }
    this.inbox = new Inbox({ poll: () => this.poll(), onWait: () => this.read() })
    // Bound, not a function literal assigned to a property, which V8 pretenures (see the runner's Exchange `deferSend`).
    this.onAbort = this.gone.bind(this)
    if (request.signal.aborted) this.disconnect = this.disconnectEvent("connection")
    else request.signal.addEventListener("abort", this.onAbort, { once: true })
  }

  private requestEvent(body: Uint8Array, moreBody: boolean): HttpRequest {
    return { type: "http.request", connectionId: this.scope.connectionId, streamId: this.scope.streamId, body, moreBody }
  }

  private disconnectEvent(end: "complete" | "connection"): HttpDisconnect {
    return { type: "http.disconnect", connectionId: this.scope.connectionId, streamId: this.scope.streamId, end }
  }

  /** The next event for `receive`, or undefined (then `read` or `finish` wakes the inbox). */
  private poll(): InboundEvent | undefined {
    const ready = this.ready
    if (ready !== undefined) {
      this.ready = undefined
      return ready
    }
    if (this.disconnect === undefined && this.bodyDone && this.complete) this.disconnect = this.disconnectEvent("complete")
    return this.disconnect
  }

  /** One read of the request body for a waiting `receive` (HTTP-11: nothing ahead of it). */
  private read(): void {
    if (this.reading || this.bodyDone || this.ready !== undefined || this.disconnect !== undefined) return
    this.reading = true
    const reader = this.reader ??= this.request.body!.getReader()
    reader.read().then((result) => {
      this.reading = false
      if (this.disconnect !== undefined) return
      if (result.done) {
        this.bodyDone = true
        this.ready = this.requestEvent(EMPTY, false)
      } else {
        const value: unknown = result.value
        this.ready = this.requestEvent(
          value instanceof Uint8Array ? value : ArrayBuffer.isView(value) ? new Uint8Array(value.buffer, value.byteOffset, value.byteLength) : EMPTY,
          true
        )
      }
      this.inbox.wake()
    }, () => {
      this.reading = false
      this.gone()
    })
  }

  /** `receive` (spec.md §4.3, §4.4). */
  readonly receive: Effect.Effect<InboundEvent> = Effect.suspend(() => this.inbox.take)

  /**
   * The client went away (`request.signal`, the body cancelled, the
   * request body failed): `http.disconnect` `connection`, a waiting `send`
   * fails, and an app not in `receive` is interrupted (HTTP-15).
   */
  private gone(): void {
    if (this.disconnect !== undefined || this.complete) return
    this.disconnect = this.disconnectEvent("connection")
    this.ready = undefined
    this.inbox.wake()
    this.wakeSender()
    if (!this.inbox.waiting) this.fiber?.interruptUnsafe()
  }

  private wakeSender(): void {
    const waiter = this.waiter
    this.waiter = undefined
    waiter?.()
  }

  private closed(): StreamClosedError {
    return new StreamClosedError({ connectionId: this.scope.connectionId, streamId: this.scope.streamId })
  }

  /** The response is complete: `receive` may now say so. */
  private finish(): void {
    this.complete = true
    this.request.signal.removeEventListener("abort", this.onAbort)
    this.inbox.wake()
  }

  private init(): ResponseInit {
    const head = this.head!
    const headers = bodylessStatus(head.status) && head.status !== 304
      ? headersToWeb(head.headers.filter(([name]) => name !== "content-length"), dropped)
      : headersToWeb(head.headers, dropped)
    return { status: head.status, headers }
  }

  /** `send` (spec.md §4.5, §4.6), checked as the runner checks it. */
  readonly send = (event: OutboundEvent): Effect.Effect<void, LocalProtocolError | StreamClosedError> =>
    Effect.suspend((): Effect.Effect<void, LocalProtocolError | StreamClosedError> => {
      const bad = this.side.check(event)
      if (bad !== undefined) return Effect.fail(bad)
      if (this.disconnect !== undefined && !this.complete) return Effect.fail(this.closed())
      this.side.accept(event)
      if (event.type === "http.response.start") {
        this.head = { status: event.status, headers: event.headers ?? [] }
        return Effect.void
      }
      if (event.type !== "http.response.body") return Effect.void // no other event passes ResponseSide with no extensions
      const last = event.moreBody !== true
      const body = event.body ?? EMPTY
      if (!this.responded) {
        this.responded = true
        const bodyless = this.side.bodyless || bodylessStatus(this.head!.status)
        if (bodyless || last) {
          this.resolve(new Response(bodyless ? null : body, this.init()))
          if (last) this.finish()
          if (bodyless) this.controller = undefined
          return Effect.void
        }
        const stream = new ReadableStream<Uint8Array>({
          start: (controller) => void (this.controller = controller),
          pull: () => this.wakeSender(),
          cancel: () => this.gone()
        }, new ByteLengthQueuingStrategy({ highWaterMark: this.writeBufferSize }))
        this.resolve(new Response(stream, this.init()))
      }
      const controller = this.controller
      if (controller === undefined) {
        // A bodyless response: its body events are accepted and not sent.
        if (last) this.finish()
        return Effect.void
      }
      if (body.length > 0) controller.enqueue(body)
      if (last) {
        controller.close()
        this.finish()
        return Effect.void
      }
      return this.room
    })

  /** Completes once the queue is within `writeBufferSize` (HTTP-10), or fails when the client left. */
  private readonly room: Effect.Effect<void, StreamClosedError> = Effect.callback<void, StreamClosedError>((resume) => {
    const check = (): void => {
      if (this.disconnect !== undefined && !this.complete) return resume(Effect.fail(this.closed()))
      const size = this.controller?.desiredSize ?? 1
      if (size > 0) return resume(Effect.void)
      this.waiter = check
    }
    check()
    return Effect.sync(() => void (this.waiter = undefined))
  })

  /** The app's Effect ended: answer what it left unanswered (RUN-2, RUN-3, RUN-4). */
  ended(exit: Exit.Exit<void, unknown>, log: ReturnType<typeof runnerLog>): void {
    this.request.signal.removeEventListener("abort", this.onAbort)
    const left = this.disconnect !== undefined && this.disconnect.end === "connection"
    if (Exit.isFailure(exit) && !Cause.hasInterruptsOnly(exit.cause) && !(left && onlyStreamClosed(exit.cause))) {
      log.error("the app failed", { connectionId: this.scope.connectionId, streamId: this.scope.streamId }, exit.cause)
    }
    if (!this.responded) {
      this.responded = true
      this.resolve(new Response(null, { status: 500 }))
    } else if (!this.complete && this.controller !== undefined) {
      const why = Exit.isFailure(exit) ? Cause.squash(exit.cause) : new Error("the app returned before completing its response")
      try {
        this.controller.error(why)
      } catch {
        // Already errored or cancelled by the runtime.
      }
    }
    if (!this.bodyDone) {
      // The rest of the request body is nobody's (HTTP-35): let the runtime stop reading it.
      if (this.reader !== undefined) this.reader.cancel().then(undefined, ignore)
      else if (this.request.body !== null && !this.request.body.locked) this.request.body.cancel().then(undefined, ignore)
    }
  }
}

const onlyStreamClosed = (cause: Cause.Cause<unknown>): boolean =>
  cause.reasons.every((r) => Cause.isInterruptReason(r) || (Cause.isFailReason(r) && r.error instanceof StreamClosedError))

