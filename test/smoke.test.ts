import { describe, expect, it } from "vitest"
import * as http2 from "node:http2"
import hello from "../examples/hello.ts"
import { listen } from "./support/server.ts"

describe("hello over h2c", () => {
  it("RUN-9: the auto listener answers an HTTP/2 prior-knowledge request", async () => {
    const server = await listen(hello)
    try {
      const client = http2.connect(server.url)
      const req = client.request({ ":path": "/" })
      const chunks: Array<Buffer> = []
      const status = await new Promise<number>((resolve) => req.on("response", (h) => resolve(Number(h[":status"]))))
      for await (const c of req) chunks.push(c as Buffer)
      client.close()
      expect(status).toBe(200)
      expect(Buffer.concat(chunks).toString()).toBe("Hello, world!")
    } finally {
      await server.close()
    }
  })
})
