/**
 * The HTTP/1.1 baseline: a raw node:http server with no EGI in between,
 * answering like examples/hello.ts. Keep-alive, as h2load --h1 uses it.
 *
 *     node bench/raw-h1.ts <port>
 */
import * as http from "node:http"

const hello = Buffer.from("Hello, world!")
const server = http.createServer((_req, res) => {
  res.writeHead(200, { "content-type": "text/plain", "content-length": hello.length })
  res.end(hello)
})
server.listen(Number(process.argv[2] ?? 9000), "127.0.0.1", () => process.stderr.write("listening\n"))
process.on("SIGTERM", () => process.exit(0))
