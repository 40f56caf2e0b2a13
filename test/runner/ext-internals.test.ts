/**
 * Nothing of the runner leaks into what an app can reach (spec.md §7, rule
 * CORE-8): every extension object a real HTTP/2 and HTTP/1.x stream lists is
 * walked — own and inherited properties, string and symbol keys, getters
 * called — and no value reachable that way may be a node stream, session,
 * socket or any other EventEmitter. The whole scope is walked the same way.
 */
import { Effect } from "effect"
import { EventEmitter } from "node:events"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { App } from "../../src/protocol/app.ts"
import type { HttpScope } from "../../src/protocol/scope.ts"
import { completeResponse, h2close, h2connect, h2request, rawHttp, statusOf } from "../support/clients.ts"
import { listen, type TestServer } from "../support/server.ts"

/** A node object an app must not reach: an EventEmitter, or anything that looks like one. */
const internal = (value: object): boolean =>
  value instanceof EventEmitter ||
  (typeof (value as { emit?: unknown }).emit === "function" && typeof (value as { on?: unknown }).on === "function")

const label = (value: object): string => (value as { constructor?: { name?: string } }).constructor?.name ?? typeof value

/**
 * Walks everything reachable from `root` by property access: own and
 * prototype properties (`Object.getOwnPropertyNames` and `Reflect.ownKeys`),
 * getters called on the object itself. Returns the paths that end at an
 * internal object.
 */
const leaks = (root: unknown, rootPath: string, maxDepth = 8): Array<string> => {
  const found: Array<string> = []
  const seen = new Set<object>()
  const visit = (value: unknown, path: string, depth: number): void => {
    if (value === null || (typeof value !== "object" && typeof value !== "function")) return
    if (seen.has(value)) return
    seen.add(value)
    if (internal(value)) {
      found.push(`${path} (${label(value)})`)
      return
    }
    if (depth >= maxDepth) return
    for (let o: object | null = value; o !== null && o !== Object.prototype && o !== Function.prototype; o = Object.getPrototypeOf(o)) {
      const keys = new Set<string | symbol>([...Object.getOwnPropertyNames(o), ...Reflect.ownKeys(o)])
      for (const key of keys) {
        const d = Object.getOwnPropertyDescriptor(o, key)
        if (d === undefined) continue
        let v: unknown
        if ("value" in d) v = d.value
        else if (d.get !== undefined) {
          try {
            v = Reflect.get(value, key)
          } catch {
            continue
          }
        } else continue
        visit(v, `${path}.${String(key)}`, depth + 1)
      }
    }
  }
  visit(root, rootPath, 0)
  return found
}

/** The walk finds what it should: a leaky object is reported, through a getter, a symbol, a prototype. */
describe("the walk itself", () => {
  it("finds an emitter behind a field, a getter, a symbol key and a prototype", () => {
    class Leaky {
      readonly field = new EventEmitter()
      get viaGetter() {
        return { deeper: new EventEmitter() }
      }
    }
    const sym = Symbol("s")
    const proto = { inherited: new EventEmitter() }
    const obj = Object.assign(Object.create(proto) as object, { [sym]: new EventEmitter(), leaky: new Leaky() })
    const found = leaks(obj, "x")
    for (const path of ["x.inherited", "x.leaky.field", "x.leaky.viaGetter.deeper", "x.Symbol(s)"]) {
      expect(found).toContain(`${path} (EventEmitter)`)
    }
    class Private {
      readonly #stream = new EventEmitter()
      get size() {
        return this.#stream.listenerCount("x")
      }
    }
    expect(leaks(new Private(), "p")).toEqual([])
  })
})

describe("CORE-8: extension objects expose no runner internals", () => {
  let server: TestServer
  const scopes: Array<HttpScope> = []
  const app: App = (scope, _receive, send) =>
    Effect.gen(function*() {
      if (scope.type !== "http") return yield* Effect.fail(new Error("http only"))
      scopes.push(scope)
      // Run the extensions' Effects too: what they yield is reachable as well.
      const flow = scope.extensions["http.flow_control"]
      const windows = flow === undefined ? undefined : yield* (flow as { windows: Effect.Effect<unknown> }).windows
      const pushed = yield* (scope.extensions["http.connection"] as { pushedStreams: Effect.Effect<unknown> }).pushedStreams
      ;(scope as { state: Record<string, unknown> }).state.ran = { windows, pushed }
      yield* send({ type: "http.response.start", status: 200 })
      yield* send({ type: "http.response.body", body: new TextEncoder().encode("ok") })
    })

  beforeAll(async () => {
    server = await listen(app)
    const session = await h2connect(server.url)
    try {
      expect((await h2request(session, { ":path": "/h2" })).status).toBe(200)
    } finally {
      await h2close(session)
    }
    for (const version of ["1.1", "1.0"]) {
      const res = await rawHttp(server.port, [`GET /h${version} HTTP/${version}\r\nhost: x\r\n\r\n`], { done: completeResponse })
      expect(statusOf(res.text)).toBe(200)
    }
  })
  afterAll(() => server.close())

  it("CORE-8: every extension of an HTTP/2 stream, HTTP/1.1 and HTTP/1.0 request, walked whole, holds no EventEmitter", () => {
    expect(scopes.map((s) => s.httpVersion)).toEqual(["2", "1.1", "1.0"])
    expect(Object.keys(scopes[0]!.extensions)).toContain("http.flow_control")
    const found = scopes.flatMap((s) =>
      Object.entries(s.extensions).flatMap(([name, ext]) => leaks(ext, `HTTP/${s.httpVersion} ${name}`))
    )
    expect(found).toEqual([])
  })

  it("CORE-8: the connection view holds only its listed fields; an app cannot change what pushedStreams yields", async () => {
    for (const s of scopes) {
      const view = s.extensions["http.connection"]!
      expect(Object.keys(view).sort()).toEqual(["connectionId", "httpVersion", "pushedBy", "streamId", "version"])
      // Whatever an app writes onto the view, the runner's record stays its own.
      ;(view as unknown as Record<string, unknown>)["pushed"] = [99]
      expect(await Effect.runPromise(view.pushedStreams)).toEqual([])
    }
  })

  it("CORE-8: the priority and connection views offer only their listed members; nothing an app can write changes what they yield", async () => {
    for (const s of scopes) {
      const p = s.extensions["http.priority"]!
      expect(Object.keys(p).sort()).toEqual(["incremental", "urgency", "version"])
      expect(Object.getOwnPropertyNames(Object.getPrototypeOf(p)).sort()).toEqual(["changed", "constructor", "current"])
      const before = await Effect.runPromise(p.current)
      expect(Reflect.set(p, "current", Effect.succeed({ urgency: 0, incremental: true }))).toBe(false)
      expect(await Effect.runPromise(p.current)).toEqual(before)
      const view = s.extensions["http.connection"]!
      expect(Object.getOwnPropertyNames(Object.getPrototypeOf(view)).sort()).toEqual(["closed", "constructor", "openStreams", "pushedStreams"])
      ;(view as unknown as Record<string, unknown>)["streams"] = new Set([99])
      expect(await Effect.runPromise(view.openStreams)).not.toContain(99)
    }
  })

  it("CORE-8: the whole scope of each stream holds no EventEmitter either", () => {
    expect(scopes.flatMap((s) => leaks(s, `HTTP/${s.httpVersion} scope`))).toEqual([])
  })
})
