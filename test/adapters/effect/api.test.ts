/**
 * examples/effect-api.ts on the wire (spec.md §12.1), over h2c and
 * HTTP/1.1: schema validation answers 400 before the handler runs, and the
 * handler uses a service built once from the module's Layer.
 */
import { describe, expect, it } from "vitest"
import app, { layer } from "../../../examples/effect-api.ts"
import { request } from "../../support/h2client.ts"
import { useServer, useSession } from "../../support/server.ts"

const server = useServer(app, { accessLog: false }, layer)
const session = useSession(server)

const json = (value: unknown) => [new TextEncoder().encode(JSON.stringify(value))]

describe("examples/effect-api.ts", () => {
  it("HTTPAPP-5 over h2c: a body the schema rejects gets 400; a good one 200 from the Layer's service", async () => {
    const post = (body: unknown) =>
      request(session(), { ":method": "POST", ":path": "/greet", "content-type": "application/json" }, json(body))
    const bad = await post({ name: "", times: 9 })
    expect(bad.status).toBe(400)
    const notJson = await request(session(), { ":method": "POST", ":path": "/greet", "content-type": "application/json" }, [new TextEncoder().encode("{")])
    expect(notJson.status).toBe(400)
    const good = await post({ name: "Ada", times: 2 })
    expect(good.status).toBe(200)
    expect(JSON.parse(good.body.toString())).toEqual({ message: "hello, Ada; hello, Ada" })
  })

  it("HTTPAPP-8 over HTTP/1.1: the service is built once for the server (its count survives requests)", async () => {
    const post = (body: unknown) =>
      fetch(`${server().url}/greet`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })
    expect((await post({ name: "Bob" })).status).toBe(400)
    const before = (await (await fetch(`${server().url}/greetings/count`)).json()) as { served: number }
    const good = await post({ name: "Bob", times: 1 })
    expect(good.status).toBe(200)
    expect(await good.json()).toEqual({ message: "hello, Bob" })
    const after = (await (await fetch(`${server().url}/greetings/count`)).json()) as { served: number }
    expect(after.served).toBe(before.served + 1)
  })
})
