/** Small response helpers shared by the web example's routes. */
import { Effect } from "effect"
import type { Send } from "../../src/index.ts"

const encoder = new TextEncoder()

/** A whole response in one body: `status`, `content-type`, `text`. */
export const reply = (send: Send, status: number, contentType: string, text: string, headers: ReadonlyArray<readonly [string, string]> = []) =>
  Effect.gen(function*() {
    yield* send({ type: "http.response.start", status, headers: [["content-type", contentType], ["cache-control", "no-store"], ...headers] })
    yield* send({ type: "http.response.body", body: encoder.encode(text) })
  })

/** A JSON response. */
export const json = (send: Send, value: unknown, status = 200) => reply(send, status, "application/json", `${JSON.stringify(value)}\n`)

/** 404 with a short text body. */
export const notFound = (send: Send) => reply(send, 404, "text/plain; charset=utf-8", "not found\n")

/** 405 naming the allowed methods. */
export const notAllowed = (send: Send, allow: string) => reply(send, 405, "text/plain; charset=utf-8", `use ${allow}\n`, [["allow", allow]])
