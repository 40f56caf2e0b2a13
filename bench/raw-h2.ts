/**
 * The baseline: a raw node:http2 server with no EGI in between, answering
 * like examples/hello.ts (`/`), examples/stream.ts (`/stream?chunks=N&size=B`,
 * written with backpressure) and examples/files.ts (`/files/<name>`: node's
 * own `respondWithFile` from `$FILES_ROOT`). Cleartext h2 only.
 *
 *     node bench/raw-h2.ts <port>
 */
import * as http2 from "node:http2"

const hello = Buffer.from("Hello, world!")
// One filler chunk per size, as examples/stream.ts does.
const chunks = new Map<number, Buffer>()
const chunkOf = (size: number): Buffer => {
  let chunk = chunks.get(size)
  if (chunk === undefined) {
    chunk = Buffer.alloc(size, 0x61)
    chunks.set(size, chunk)
  }
  return chunk
}
const server = http2.createServer()
server.on("stream", (stream, headers) => {
  stream.on("error", () => {})
  const path = headers[":path"] ?? "/"
  if (path.startsWith("/files/")) {
    stream.respondWithFile(`${process.env["FILES_ROOT"] ?? "."}/${path.slice(7)}`, { "content-type": "application/octet-stream" }, {
      onError: () => stream.destroyed || stream.respond({ ":status": 404 }, { endStream: true })
    })
    return
  }
  if (!path.startsWith("/stream")) {
    stream.respond({ ":status": 200, "content-type": "text/plain", "content-length": hello.length })
    stream.end(hello)
    return
  }
  const query = new URLSearchParams(path.slice(path.indexOf("?") + 1))
  let left = Number(query.get("chunks") ?? 16)
  const chunk = chunkOf(Number(query.get("size") ?? 65536))
  stream.respond({ ":status": 200, "content-type": "application/octet-stream" })
  const pump = (): void => {
    while (left > 0) {
      left--
      if (!stream.write(chunk)) return void stream.once("drain", pump)
    }
    stream.end()
  }
  pump()
})
server.listen(Number(process.argv[2] ?? 9000), "127.0.0.1", () => process.stderr.write("listening\n"))
process.on("SIGTERM", () => process.exit(0))
