/**
 * The Hono baseline: bench/adapter-apps.ts's `hono` on @hono/node-server
 * (node:http), as Hono apps are usually served on Node.
 *
 *     node bench/hono-node.ts <port>
 */
import { serve } from "@hono/node-server"
import { hono } from "./adapter-apps.ts"

serve({ fetch: hono.fetch, port: Number(process.argv[2] ?? 9000), hostname: "127.0.0.1" }, () => process.stderr.write("listening\n"))
process.on("SIGTERM", () => process.exit(0))
