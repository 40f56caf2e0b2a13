/**
 * The raw baseline of the per-stream memory benchmark (bench/streams.ts): a
 * node:http2 server that answers the head and a first chunk, then holds
 * every stream open until the client resets it — what bench/hold-app.ts
 * does on EGI. Cleartext h2 only.
 *
 *     node bench/raw-hold.ts <port>
 */
import * as http2 from "node:http2"

const first = Buffer.from("held\n")
const server = http2.createServer({ settings: { maxConcurrentStreams: 128 } })
server.on("stream", (stream) => {
  stream.on("error", () => {})
  stream.respond({ ":status": 200, "content-type": "text/plain" })
  stream.write(first)
})
server.listen(Number(process.argv[2] ?? 9000), "127.0.0.1", () => process.stderr.write("listening\n"))
process.on("SIGTERM", () => process.exit(0))
