/**
 * Test support: a TCP server that answers each connection's first bytes
 * with given response bytes and closes, and node's own HTTP/1.1 client
 * (llhttp) reading them — the oracle for what the runner's HTTP/1.1 codec
 * writes (test/runner/http1-*.test.ts).
 */
import * as http from "node:http"
import * as net from "node:net"
import { afterAll, beforeAll } from "vitest"

/** What node's client read: status, fields, body and trailers. */
export interface ClientRead {
  readonly status: number
  readonly headers: http.IncomingHttpHeaders
  readonly body: Buffer
  readonly trailers: NodeJS.Dict<string>
}

/** For the enclosing file or `describe`: `read(wire)` sends `wire` as the response to a GET and resolves with what the client read. */
export const useCannedResponse = (): { read: (wire: Buffer) => Promise<ClientRead> } => {
  let server: net.Server
  let port = 0
  let next: Buffer = Buffer.alloc(0)
  beforeAll(async () => {
    server = net.createServer((socket) => {
      socket.once("data", () => socket.end(next))
      socket.on("error", () => {})
    })
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    port = (server.address() as net.AddressInfo).port
  })
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const read = (wire: Buffer) =>
    new Promise<ClientRead>((resolve, reject) => {
      next = wire
      const req = http.request({ host: "127.0.0.1", port, path: "/", agent: false }, (res) => {
        const parts: Array<Buffer> = []
        res.on("data", (c: Buffer) => parts.push(c))
        res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(parts), trailers: res.trailers }))
        res.on("error", reject)
      })
      req.on("error", reject)
      req.end()
    })
  return { read }
}
