/**
 * A middleware that transforms response bodies (spec.md §3.3.1): it appends
 * a footer to every `text/html` response. It sees only the bytes that pass
 * through `http.response.body`, so it hands the inner app a scope without
 * the extensions whose events would go around it or describe the body it
 * changes (rule CORE-12): file bodies (`http.response.pathsend`,
 * `http.response.zerocopysend`: the server would send the file untouched),
 * trailers (a digest in them would describe the body before the footer) and
 * push (a pushed response is served by a new call of the server's app,
 * which passes through this middleware only when it is that app). Its
 * `send` then refuses their events as a server does (CORE-7), and it drops
 * the inner app's `content-length`, which the footer makes wrong.
 *
 *     npx egi serve examples/footer.ts
 */
import { Effect } from "effect"
import { type App, type EgiScope, type Events, Headers, LocalProtocolError, type Receive, type Send, unsupportedScope } from "../src/index.ts"

/** The extensions a body-transforming middleware takes away from the scope it hands on. */
export const bypassing = ["http.response.pathsend", "http.response.zerocopysend", "http.response.trailers", "http.response.push"] as const

const isBypassing = (type: string): boolean => (bypassing as ReadonlyArray<string>).includes(type)

/** Wraps `inner` so that its HTML responses end with `footer`. */
export const withFooter = (footer: string) => (inner: App): App => (scope, receive, send) => {
  if (scope.type !== "http") return inner(scope, receive, send)
  const extensions: Record<string, unknown> = { ...scope.extensions }
  for (const name of bypassing) delete extensions[name]
  const tail = new TextEncoder().encode(footer)
  let html = false
  const wrapped: Send = (event: Events.OutboundEvent) => {
    if (isBypassing(event.type) || (event.type === "http.response.start" && event.trailers === true)) {
      // To the inner app this middleware is the server: CORE-7 for what it does not offer.
      const name = event.type === "http.response.start" ? "http.response.trailers" : event.type
      return Effect.fail(new LocalProtocolError({ rule: "CORE-7", detail: `${name} is not offered: withFooter transforms the body` }))
    }
    if (event.type === "http.response.start") {
      const headers = event.headers ?? []
      html = (Headers.get(headers, "content-type") ?? "").startsWith("text/html")
      return send(html ? { ...event, headers: headers.filter(([name]) => name !== "content-length") } : event)
    }
    if (event.type === "http.response.body" && html && event.moreBody !== true) {
      const body = event.body ?? new Uint8Array(0)
      const out = new Uint8Array(body.length + tail.length)
      out.set(body)
      out.set(tail, body.length)
      return send({ ...event, body: out })
    }
    return send(event)
  }
  return inner({ ...scope, extensions } as EgiScope, receive, wrapped)
}

const page = new TextEncoder().encode("<!doctype html><title>egi</title><p>Hello</p>")

/** The page behind the footer. */
const site = Effect.fnUntraced(function*(scope: EgiScope, _receive: Receive, send: Send) {
  if (scope.type !== "http") return yield* unsupportedScope(scope)
  yield* send({
    type: "http.response.start",
    status: 200,
    headers: [["content-type", "text/html; charset=utf-8"], ["content-length", String(page.length)]]
  })
  yield* send({ type: "http.response.body", body: page })
})

export default withFooter("\n<footer>served by egi</footer>\n")(site)
