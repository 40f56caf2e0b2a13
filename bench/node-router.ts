/**
 * The HttpRouter baseline: bench/adapter-apps.ts's `Routes` served by
 * @effect/platform-node's NodeHttpServer (node:http, or node:http2's
 * compatibility API with `--h2c`), without the logger middleware — as EGI
 * serves it with its access log off.
 *
 *     node bench/node-router.ts <port> [--h2c]
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Effect, Layer } from "effect"
import * as HttpRouter from "effect/http/HttpRouter"
import * as http from "node:http"
import * as http2 from "node:http2"
import { Routes } from "./adapter-apps.ts"

const port = Number(process.argv[2] ?? 9000)
const h2c = process.argv.includes("--h2c")
const createServer = (h2c ? () => http2.createServer() : () => http.createServer()) as () => http.Server
const Server = NodeHttpServer.layer(createServer, { port, host: "127.0.0.1" })

HttpRouter.serve(Routes, { disableLogger: true, disableListenLog: true }).pipe(
  Layer.provide(Server),
  Layer.tap(() => Effect.sync(() => process.stderr.write("listening\n"))),
  Layer.launch,
  NodeRuntime.runMain
)
