/**
 * Runs one classic request in a worker thread: `start_response`, `write`,
 * the returned body and its `close()` (spec.md §10.5, PEP 3333 "The
 * start_response() Callable" and "Buffering and Streaming").
 */
import { isFieldName, isFieldValue } from "../protocol/headers.ts"
import type { ClassicApp, ClassicBody, ClassicHeaders, Environ, StartResponse, Write } from "./classic.ts"
import { ClassicUsageError } from "./errors.ts"
import { UPGRADE_HEADER, type UpgradeToken } from "./upgrade.ts"
import type { ModuleRef } from "./wire.ts"

/** A response head, validated. */
export interface Head {
  readonly status: number
  readonly headers: ReadonlyArray<readonly [string, string]>
}

/**
 * Where the response goes: `emit` hands over one chunk (blocking while the
 * client is behind), with the head when it is the first; `end` closes the
 * response. `note` reports one log line about the response (the main
 * thread logs it as an error).
 */
export interface ResponseSink {
  emit(head: Head | undefined, body: Uint8Array | undefined, end: boolean): void
  note(line: string): void
}

const STATUS = /^([2-5]\d\d)(?: [^\r\n]*)?$/
const utf8 = new TextEncoder()

const usage = (rule: string, detail: string) => new ClassicUsageError({ rule, detail })

/** Checks and normalises `start_response`'s arguments (rule CLASSIC-1). */
export const parseHead = (status: unknown, headers: unknown): Head => {
  const m = typeof status === "string" ? STATUS.exec(status) : null
  if (m === null) throw usage("CLASSIC-1", `status must be "NNN reason" with NNN from 200 to 599, got ${JSON.stringify(status)}`)
  if (!Array.isArray(headers)) throw usage("CLASSIC-1", "headers must be an array of [name, value] pairs")
  const out: Array<readonly [string, string]> = []
  for (const pair of headers as ReadonlyArray<unknown>) {
    if (!Array.isArray(pair) || pair.length !== 2) throw usage("CLASSIC-1", `header ${JSON.stringify(pair)} is not a [name, value] pair`)
    const [name, value] = pair as [unknown, unknown]
    const lower = typeof name === "string" ? name.toLowerCase() : name
    if (!isFieldName(lower)) throw usage("CLASSIC-1", `header name ${JSON.stringify(name)} is not a token`)
    if (!isFieldValue(value)) throw usage("CLASSIC-1", `header ${lower} has a value that is not a field value: ${JSON.stringify(value)}`)
    out.push([lower, value])
  }
  return { status: Number(m[1]), headers: out }
}

const toBytes = (chunk: unknown): Uint8Array => {
  if (chunk instanceof Uint8Array) return chunk
  if (typeof chunk === "string") return utf8.encode(chunk)
  throw usage("CLASSIC-3", `a body chunk must be a Uint8Array or a string, got ${chunk === null ? "null" : typeof chunk}`)
}

const sameHeaders = (a: ClassicHeaders, b: ClassicHeaders): boolean =>
  a.length === b.length && a.every((pair, i) => pair.length === 2 && pair[0] === b[i]![0] && pair[1] === b[i]![1])

/** `chunks`, end to end, are `bytes`. */
const sameBytes = (chunks: ReadonlyArray<Uint8Array>, bytes: Uint8Array): boolean => {
  let at = 0
  for (const chunk of chunks) {
    if (at + chunk.length > bytes.length) return false
    for (let i = 0; i < chunk.length; i++) if (chunk[i] !== bytes[at + i]) return false
    at += chunk.length
  }
  return at === bytes.length
}

/**
 * Pulls chunks from `it` until more than `limit` bytes are in or it ends
 * (`done`). A chunk that is not bytes or a string ends the iteration
 * (`return()`) and raises, as a `for…of` would.
 */
const hold = (it: Iterator<unknown>, limit: number): { readonly chunks: Array<Uint8Array>; readonly done: boolean } => {
  const chunks: Array<Uint8Array> = []
  let size = 0
  while (size <= limit) {
    const r = it.next()
    if (r.done === true) return { chunks, done: true }
    let bytes: Uint8Array
    try {
      bytes = toBytes(r.value)
    } catch (error) {
      it.return?.()
      throw error
    }
    chunks.push(bytes)
    size += bytes.length
  }
  return { chunks, done: false }
}

const hasMarker = (headers: ReadonlyArray<readonly [string, string]>): boolean => {
  for (const h of headers) if (h[0] === UPGRADE_HEADER) return true
  return false
}

/**
 * One request's response. `run` calls the app and sends what it produces;
 * `started` tells, after a throw, whether the head had gone out.
 */
export class ClassicResponse {
  /** The head went out (with the first non-empty chunk, or at the end). */
  started = false
  private pending: { readonly status: string; readonly headers: ClassicHeaders; readonly head: Head } | undefined
  private wrote = false
  /** The body's `close()` was called (it is called once). */
  private closed = false
  private readonly sink: ResponseSink
  /** What `egi.upgrade` registered for this request, and the request line for a log line about it. */
  private upgrades: ReadonlyArray<UpgradeToken> = []
  private request = ""

  constructor(sink: ResponseSink) {
    this.sink = sink
  }

  private readonly write: Write = (data) => {
    if (this.pending === undefined) throw usage("CLASSIC-3", "write() called before start_response()")
    const bytes = toBytes(data)
    this.wrote = true
    if (bytes.length > 0) this.send(bytes, false)
  }

  /** `start_response` for this request (rules CLASSIC-1, CLASSIC-2). */
  readonly startResponse: StartResponse = (status, headers, excInfo) => {
    if (excInfo !== undefined && excInfo !== null) {
      if (this.started) throw excInfo
    } else if (this.pending !== undefined) {
      throw usage("CLASSIC-2", "start_response() called a second time without excInfo")
    }
    this.pending = { status, headers: headers.map((h) => [h[0], h[1]] as const), head: parseHead(status, headers) }
    return this.write
  }

  private send(body: Uint8Array | undefined, end: boolean): void {
    if (this.pending === undefined) throw usage("CLASSIC-3", "the app returned a body without calling start_response()")
    let head: Head | undefined
    if (!this.started) {
      head = this.pending.head
      if (hasMarker(head.headers)) head = this.unmark(head)
    }
    this.started = true
    this.sink.emit(head, body, end)
  }

  /**
   * A head that still carries an `egi-upgrade` field is not an escape (that
   * never reaches `send`): it goes out without the field, and one line says
   * why the escape was not honoured (rule CLASSIC-14).
   */
  private unmark(head: Head): Head {
    const p = this.pending!
    const token = this.upgrades.find((u) => head.headers.some((h) => h[0] === UPGRADE_HEADER && h[1] === u.marker))
    const cause = token === undefined
      ? "its egi-upgrade field was not made by this request's egi.upgrade (a response replayed from another request?)"
      : `a middleware altered the upgrade response to ${token.app.module}#${token.app.export} (${
        p.status !== token.status
          ? `the status changed to ${JSON.stringify(p.status)}`
          : !sameHeaders(p.headers, token.headers)
          ? "the header list changed"
          : this.wrote
          ? "write() was called"
          : "the body changed"
      })`
    this.sink.note(
      `egi.upgrade not honoured for ${this.request}: ${cause}; the response went out as it reached the shim (status ${head.status}), without its egi-upgrade field`
    )
    return { status: head.status, headers: head.headers.filter((h) => h[0] !== UPGRADE_HEADER) }
  }

  /** The token whose status and headers are the ones last given to `start_response`, if nothing was written. */
  private tagged(): UpgradeToken | undefined {
    const p = this.pending
    if (p === undefined || this.wrote || this.upgrades.length === 0) return undefined
    return this.upgrades.find((u) => p.status === u.status && sameHeaders(p.headers, u.headers))
  }

  /**
   * Calls `app`, sends its response, calls the body's `close()` (always,
   * rule CLASSIC-5). Returns the async app to run instead when the app
   * returned an upgrade response unaltered: the tagged status and headers,
   * nothing written, and the tagged body or a copy of it (rule CLASSIC-11).
   */
  run(app: ClassicApp, environ: Environ, upgrades: ReadonlyArray<UpgradeToken>): ModuleRef | undefined {
    this.upgrades = upgrades
    this.request = `${environ.REQUEST_METHOD} ${environ.REQUEST_URI}`
    const body = app(environ, this.startResponse)
    if (body === null || typeof body !== "object" || typeof (body as Iterable<unknown>)[Symbol.iterator] !== "function") {
      throw usage("CLASSIC-3", `the app must return an iterable body, got ${body === null ? "null" : typeof body}`)
    }
    try {
      let rest: Iterable<unknown> = body
      const token = this.tagged()
      if (token !== undefined) {
        if (body === token.body) {
          this.close(body)
          return token.app
        }
        // A tagged head with another body: a copy of the tagged one (a middleware that passed it
        // through by value) is still the escape. Hold the body's first bytes to tell.
        const it = body[Symbol.iterator]()
        const held = hold(it, token.bytes.length)
        if (held.done && this.tagged() === token && sameBytes(held.chunks, token.bytes)) {
          this.close(body)
          return token.app
        }
        for (const bytes of held.chunks) if (bytes.length > 0) this.send(bytes, false)
        rest = held.done ? [] : { [Symbol.iterator]: () => it }
      } else if (Array.isArray(body)) {
        // The last element of an array carries the end: one message for a whole small response.
        const last = body.length - 1
        for (let i = 0; i < last; i++) {
          const bytes = toBytes(body[i])
          if (bytes.length > 0) this.send(bytes, false)
        }
        const tail = last >= 0 ? toBytes(body[last]) : undefined
        this.close(body)
        this.send(tail !== undefined && tail.length > 0 ? tail : undefined, true)
        return undefined
      }
      for (const chunk of rest) {
        const bytes = toBytes(chunk)
        if (bytes.length > 0) this.send(bytes, false)
      }
    } catch (error) {
      this.close(body, error)
      throw error
    }
    this.close(body)
    this.send(undefined, true)
    return undefined
  }

  /** Calls `close()` once; a failure of it is raised unless another error is already on its way. */
  private close(body: ClassicBody, pending?: unknown): void {
    if (this.closed) return
    this.closed = true
    if (typeof body.close !== "function") return
    try {
      body.close()
    } catch (error) {
      if (pending === undefined) throw error
    }
  }
}
