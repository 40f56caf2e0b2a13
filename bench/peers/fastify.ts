/**
 * The Fastify 5 peer: the hello on Fastify (node:http, or node:http2's
 * cleartext server with `--h2c`: HTTP/2 with prior knowledge), logger off.
 *
 *     node bench/peers/fastify.ts <port> [--h2c]
 */
import Fastify, { type FastifyInstance, type FastifyReply } from "fastify"

const port = Number(process.argv[2] ?? 9000)
const hello = (app: Pick<FastifyInstance, "get">): void => {
  app.get("/", (_request, reply: FastifyReply) => {
    reply.type("text/plain").send("Hello, world!")
  })
}
const app = process.argv.includes("--h2c") ? Fastify({ http2: true, logger: false }) : Fastify({ logger: false })
// The http2 and http instances differ only in their raw server types; the route is the same.
hello(app as unknown as FastifyInstance)
await app.listen({ port, host: "127.0.0.1" })
process.stderr.write("listening\n")
process.on("SIGTERM", () => void app.close().then(() => process.exit(0)))
