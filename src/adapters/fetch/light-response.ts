/**
 * A `Response` that keeps a text or bytes body as it was given until
 * something reads it, so that `fromFetch` can send it without a
 * `ReadableStream` (spec.md §12.2, rule FETCH-12).
 *
 * Node's `Response` (undici) builds a `ReadableStream` for every body at
 * construction, and the adapter then reads it in two steps. Measured on
 * Node 24: `new Response("Hello, world!")` costs several µs, most of a small
 * fetch-handler response. `@hono/node-server` avoids it the same way, by
 * replacing `globalThis.Response` (its `overrideGlobalObjects`).
 *
 * @since 0.6.0
 */
import { headersFromWeb } from "./shared.ts"

/** Node's own `Response`, as it was when this module loaded. */
const NativeResponse: typeof Response = globalThis.Response

/** Statuses whose responses have no body (Fetch standard "null body status"). */
const nullBodyStatus = (status: number): boolean => status === 101 || status === 103 || status === 204 || status === 205 || status === 304

/** RFC 9110 §15's reason-phrase: HTAB, SP, VCHAR, obs-text. */
const reasonPhrase = /^[\t\x20-\x7e\x80-\xff]*$/

/** The default `content-type` of a text body (Fetch standard "extract a body"). */
const TEXT = "text/plain;charset=UTF-8"

/** What `fromFetch` sends for a light response taken whole (`LightResponse.take`). */
export interface LightBody {
  readonly status: number
  /** The response's fields as EGI pairs (`headersFromWeb`), a text body's default `content-type` included. */
  readonly fields: Array<[string, string]>
  /** The body as given: text (sent as UTF-8), bytes, or none. */
  readonly body: string | Uint8Array | null
}

/**
 * `Response` for bodies that are a string, a `Uint8Array` or nothing: the
 * status, status text and headers are kept as given (checked as Node's
 * `Response` checks them, with the same errors), and a real `Response` is
 * made only when something reads the body, clones it or asks for a field
 * only a real one has. Any other body (a stream, a `Blob`, `FormData`,
 * `URLSearchParams`, an `ArrayBuffer`) or an unusual `init` makes the real
 * one at once, and every member answers from it.
 *
 * Instances are `instanceof Response` (Node's), and Node's own responses
 * (from `fetch`, `Response.json`) are `instanceof` this class too. Once
 * `fromFetch` has sent one whole (`take`), its `bodyUsed` is true and its
 * body locked, as Node's is once read. Unlike Node's, `structuredClone`
 * copies one as an empty object rather than refusing it.
 */
export class LightResponse {
  #body: string | Uint8Array | null = null
  #status = 200
  #statusText = ""
  #headers: Headers | undefined = undefined
  #real: Response | undefined = undefined
  /** The body went out through `take`. */
  #taken = false

  constructor(body?: ConstructorParameters<typeof Response>[0], init?: ResponseInit) {
    const status = init?.status
    const statusText = init?.statusText
    const light = (init === undefined || init === null || typeof init === "object") &&
      (body === undefined || body === null || typeof body === "string" ||
        (body instanceof Uint8Array && !(body.buffer instanceof SharedArrayBuffer) && (body.buffer as { detached?: boolean }).detached !== true)) &&
      (status === undefined || (Number.isInteger(status) && status >= 200 && status <= 599)) &&
      (statusText === undefined || (typeof statusText === "string" && reasonPhrase.test(statusText)))
    if (!light) {
      // Node's Response converts, checks and throws as the standard says.
      this.#real = new NativeResponse(body, init)
      return
    }
    // The standard copies the headers and the bytes as the response is made, and checks the fields before the status.
    if (init?.headers !== undefined) {
      this.#headers = new Headers(init.headers)
      if (typeof body === "string" && !this.#headers.has("content-type")) this.#headers.set("content-type", TEXT)
    }
    if (body !== undefined && body !== null && status !== undefined && nullBodyStatus(status)) {
      throw new TypeError(`Response constructor: Invalid response status code ${status}`)
    }
    this.#status = status ?? 200
    this.#statusText = statusText ?? ""
    // A copy even of a Buffer (whose slice() is a view of the same memory).
    this.#body = body instanceof Uint8Array ? new Uint8Array(body) : body ?? null
  }

  /**
   * The real `Response`, made on first need from what was given. One whose
   * body went out (`take`) gets its body locked, as Node's own is after
   * `fromFetch` read it: reading it again fails, and so does sending it again.
   */
  #materialize(): Response {
    if (this.#real === undefined) {
      const init: ResponseInit = this.#headers === undefined
        ? { status: this.#status, statusText: this.#statusText }
        : { status: this.#status, statusText: this.#statusText, headers: this.#headers }
      const real = new NativeResponse(this.#body, init)
      if (this.#taken) real.body?.getReader()
      this.#real = real
    }
    return this.#real
  }

  /**
   * The real `Response` with the fields as they are now: once `headers` was
   * read, that `Headers` stays this response's fields (changes made to it
   * after the real one was made included), so they are copied over before
   * anything that uses them (`clone`, `blob`'s type, `formData`).
   */
  #current(): Response {
    const real = this.#materialize()
    const fields = this.#headers
    if (fields !== undefined) {
      const target = real.headers
      for (const name of [...target.keys()]) target.delete(name)
      for (const [name, value] of fields) target.append(name, value)
    }
    return real
  }

  get type(): Response["type"] {
    return this.#real?.type ?? "default"
  }
  get url(): string {
    return this.#real?.url ?? ""
  }
  get redirected(): boolean {
    return this.#real?.redirected ?? false
  }
  get status(): number {
    return this.#real?.status ?? this.#status
  }
  get ok(): boolean {
    const status = this.status
    return status >= 200 && status <= 299
  }
  get statusText(): string {
    return this.#real?.statusText ?? this.#statusText
  }
  get headers(): Headers {
    if (this.#headers === undefined) {
      if (this.#real !== undefined) return this.#real.headers
      this.#headers = new Headers(typeof this.#body === "string" ? [["content-type", TEXT]] : undefined)
    }
    return this.#headers
  }
  get body(): ReadableStream<Uint8Array> | null {
    return this.#materialize().body as ReadableStream<Uint8Array> | null
  }
  get bodyUsed(): boolean {
    return this.#taken || (this.#real?.bodyUsed ?? false)
  }
  clone(): Response {
    if (this.bodyUsed) throw new TypeError("Response.clone: Body has already been consumed.")
    return this.#current().clone()
  }
  arrayBuffer(): Promise<ArrayBuffer> {
    return this.#materialize().arrayBuffer()
  }
  blob(): Promise<Blob> {
    return this.#current().blob()
  }
  bytes(): ReturnType<Response["bytes"]> {
    return this.#materialize().bytes()
  }
  formData(): Promise<FormData> {
    return this.#current().formData()
  }
  json(): Promise<unknown> {
    return this.#materialize().json()
  }
  text(): Promise<string> {
    return this.#materialize().text()
  }

  /**
   * The whole response of a light `Response` whose body nobody has read:
   * taken (its `bodyUsed` is true after); undefined for any other response.
   */
  static take(response: Response): LightBody | undefined {
    if (!(#real in response)) return undefined
    const r = response as unknown as LightResponse
    if (r.#real !== undefined || r.#taken) return undefined
    r.#taken = true
    const headers = r.#headers
    const body = r.#body
    const fields: Array<[string, string]> = headers !== undefined ? headersFromWeb(headers) : typeof body === "string" ? [["content-type", TEXT]] : []
    return { status: r.#status, fields, body }
  }

  /** Whether Node's `Response` was made for `response` (false for a light one sent whole and never touched). */
  static materialized(response: Response): boolean {
    return !(#real in response) || (response as unknown as LightResponse).#real !== undefined
  }

  static {
    Object.setPrototypeOf(this, NativeResponse) // Response.json, .error, .redirect
    Object.setPrototypeOf(this.prototype, NativeResponse.prototype) // instanceof, Symbol.toStringTag
    Object.defineProperty(this, "name", { value: "Response" })
    Object.defineProperty(this, "length", { value: 0 })
    // Node's responses (fetch, Response.json) are instances too; a subclass of this one keeps the usual test.
    const ordinary = Function.prototype[Symbol.hasInstance]
    Object.defineProperty(this, Symbol.hasInstance, {
      value(this: unknown, value: unknown): boolean {
        return this === LightResponse ? value instanceof NativeResponse : ordinary.call(this, value)
      }
    })
    // util.inspect and console.log show the real response (undici's inspector reads its internals).
    Object.defineProperty(this.prototype, Symbol.for("nodejs.util.inspect.custom"), {
      value(this: LightResponse, depth: number, options: object, inspect: (value: unknown, options: object) => string) {
        return inspect(this.#materialize(), { ...options, depth })
      }
    })
  }
}

/**
 * Makes `globalThis.Response` the light one (idempotent). Code that made a
 * response before keeps Node's, which works as before.
 */
export const installLightResponse = (): void => {
  if (globalThis.Response !== (LightResponse as unknown as typeof Response)) {
    globalThis.Response = LightResponse as unknown as typeof Response
  }
}
