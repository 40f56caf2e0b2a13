/**
 * `layerConfig(app)` and `optionsConfig` (spec.md §8, the options of §8.3):
 * the runner's options from Effect's Config, `EGI_*` keys read through a
 * ConfigProvider built from an env record (never the process's own
 * environment). Real sockets: HTTP/1.1, h2c, and h2 over TLS with the
 * certificate and key read from their files.
 */
import { Cause, Config, ConfigProvider, Effect, Exit, Layer, Logger, Scope } from "effect"
import { readFileSync } from "node:fs"
import * as http from "node:http"
import type * as tls from "node:tls"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { freePort } from "../support/clients.ts"
import type { App } from "../../src/protocol/app.ts"
import { layerConfig, optionsConfig } from "../../src/runner/config.ts"
import { closeSession, connect, request } from "../support/h2client.ts"

const CERT = fileURLToPath(new URL("../fixtures/localhost.crt", import.meta.url))
const KEY = fileURLToPath(new URL("../fixtures/localhost.key", import.meta.url))

/** Answers `<scheme> <httpVersion> <body length>` once the whole body is in. */
const app: App = (scope, receive, send) =>
  Effect.gen(function*() {
    if (scope.type !== "http") return
    let length = 0
    for (;;) {
      const event = yield* receive
      if (event.type !== "http.request") return
      length += event.body.length
      if (!event.moreBody) break
    }
    yield* send({ type: "http.response.start", status: 200, headers: [["content-type", "text/plain"]] })
    yield* send({ type: "http.response.body", body: new TextEncoder().encode(`${scope.scheme} ${scope.httpVersion} ${length}`) })
  })

/** A TCP port free at the time of asking (on 127.0.0.1). */

const fromEnv = (env: Record<string, string>) => ConfigProvider.layer(ConfigProvider.fromEnv({ env }))

/** A logger of the test's own that drops every line: the runner's lines go through it (`log: "auto"`), not to stdout. */
const quiet = Logger.layer([Logger.make(() => {})])

/**
 * Builds `layer` with a ConfigProvider over `env` (and `quiet`) into a fresh Scope: the
 * exit of the build (the server listens once it succeeds), and `close` to
 * shut the server down.
 */
const build = async (env: Record<string, string>, layer: Layer.Layer<never, unknown> = layerConfig(app)) => {
  const scope = Effect.runSync(Scope.make())
  const exit = await Effect.runPromiseExit(Scope.provide(scope)(Layer.build(layer.pipe(Layer.provide([fromEnv(env), quiet])))))
  return { exit, close: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
}

/** The build failed with a `Config.ConfigError`: its message. */
const configErrorOf = (exit: Exit.Exit<unknown, unknown>): string => {
  expect(Exit.isFailure(exit)).toBe(true)
  const error = Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined
  expect(error).toBeInstanceOf(Config.ConfigError)
  return (error as Config.ConfigError).message
}

/** One HTTP/1.1 request on a keep-alive connection (so the `keep-alive: timeout=` field shows the idle timeout). */
const h1 = (port: number, path: string, body?: string): Promise<{ status: number; keepAlive: string | undefined; body: string }> =>
  new Promise((resolve, reject) => {
    const agent = new http.Agent({ keepAlive: true })
    const req = http.request({ host: "127.0.0.1", port, path, method: body === undefined ? "GET" : "POST", agent }, (res) => {
      const chunks: Array<Buffer> = []
      res.on("data", (c: Buffer) => chunks.push(c))
      res.on("end", () => {
        agent.destroy()
        const keepAlive = res.headers["keep-alive"]
        resolve({ status: res.statusCode ?? 0, keepAlive: Array.isArray(keepAlive) ? keepAlive[0] : keepAlive, body: Buffer.concat(chunks).toString() })
      })
    })
    req.once("error", (e) => {
      agent.destroy()
      reject(e)
    })
    req.end(body)
  })

describe("layerConfig: the runner's options from Effect's Config", () => {
  it("serves on the port EGI_PORT names, HTTP/1.1 and h2c, with the EGI_* options given (body limit, idle timeout)", async () => {
    const port = await freePort()
    const server = await build({
      EGI_PORT: String(port),
      EGI_HOST: "127.0.0.1",
      EGI_MAX_BODY_SIZE: "4",
      EGI_IDLE_TIMEOUT: "7",
      EGI_ACCESS_LOG: "false",
      EGI_DRAIN_TIMEOUT: "0.5"
    })
    try {
      expect(server.exit._tag).toBe("Success")
      expect(await h1(port, "/small", "abcd")).toEqual({ status: 200, keepAlive: "timeout=7", body: "http 1.1 4" })
      expect((await h1(port, "/big", "abcde")).status).toBe(413)
      const session = await connect(`http://127.0.0.1:${port}`)
      try {
        const small = await request(session, { ":method": "POST", ":path": "/h2c" }, [new TextEncoder().encode("xy")])
        expect([small.status, small.body.toString()]).toEqual([200, "http 2 2"])
        const big = await request(session, { ":method": "POST", ":path": "/h2c", "content-length": "5" }, [new TextEncoder().encode("12345")])
        expect(big.status).toBe(413)
      } finally {
        await closeSession(session)
      }
    } finally {
      await server.close()
    }
  })

  it("absent keys leave the options out, so the defaults apply (60 s idle timeout, 1 GiB body limit); other variables are ignored", async () => {
    expect(Effect.runSync(optionsConfig.parse(ConfigProvider.fromEnv({ env: { PORT: "1", EGI: "x", HOME: "/root" } })))).toEqual({})
    // An empty variable counts as unset (Effect's env ConfigProvider).
    expect(Effect.runSync(optionsConfig.parse(ConfigProvider.fromEnv({ env: { EGI_PORT: "9", EGI_IDLE_TIMEOUT: "" } })))).toEqual({ port: 9 })
    const port = await freePort()
    const server = await build({ EGI_PORT: String(port), EGI_ACCESS_LOG: "no", EGI_DRAIN_TIMEOUT: "0.5" })
    try {
      expect(server.exit._tag).toBe("Success")
      expect(await h1(port, "/", "a".repeat(100_000))).toEqual({ status: 200, keepAlive: "timeout=60", body: "http 1.1 100000" })
    } finally {
      await server.close()
    }
  })

  it("RUN-17 RUN-39: reads every plain-data option under its EGI_ CONSTANT_CASE name: sizes and counts as integers, times in seconds as egi serve's variables", () => {
    const env = {
      EGI_HOST: "::1",
      EGI_PORT: "0",
      EGI_H2C_ONLY: "true",
      EGI_MAX_CONCURRENT_STREAMS: "4294967295",
      EGI_MAX_HEADER_LIST_SIZE: "1024",
      EGI_MAX_BODY_SIZE: "1048576",
      EGI_HEADER_TIMEOUT: "1",
      EGI_IDLE_TIMEOUT: "0",
      EGI_DRAIN_TIMEOUT: "2147483.647",
      EGI_WRITE_BUFFER_SIZE: "65536",
      EGI_ACCESS_LOG: "off",
      EGI_ROOT_PATH: "/api",
      EGI_WS_MAX_MESSAGE_SIZE: "1e6",
      EGI_WS_PER_MESSAGE_DEFLATE: "0",
      EGI_WS_PING_INTERVAL: "15",
      EGI_WS_PING_TIMEOUT: "0.005",
      EGI_TRACING: "auto",
      EGI_PROXY_HEADERS: "yes",
      EGI_BINDS: "127.0.0.1:0, unix:/tmp/egi.sock,fd://3",
      EGI_BACKLOG: "1024",
      EGI_FORWARDED_ALLOW_IPS: "10.0.0.0/8, 127.0.0.1"
    }
    expect(Effect.runSync(optionsConfig.parse(ConfigProvider.fromEnv({ env })))).toEqual({
      host: "::1",
      port: 0,
      h2cOnly: true,
      maxConcurrentStreams: 2 ** 32 - 1,
      maxHeaderListSize: 1024,
      maxBodySize: 1048576,
      headerTimeout: 1000,
      idleTimeout: 0,
      drainTimeout: 2 ** 31 - 1,
      writeBufferSize: 65536,
      accessLog: false,
      rootPath: "/api",
      wsMaxMessageSize: 1_000_000,
      wsPerMessageDeflate: false,
      wsPingInterval: 15000,
      wsPingTimeout: 5,
      tracing: "auto",
      proxyHeaders: true,
      binds: [{ kind: "tcp", host: "127.0.0.1", port: 0 }, { kind: "unix", path: "/tmp/egi.sock" }, { kind: "fd", fd: 3 }],
      backlog: 1024,
      forwardedAllowIps: ["10.0.0.0/8", "127.0.0.1"]
    })
    const tracing = (word: string) => Effect.runSync(optionsConfig.parse(ConfigProvider.fromEnv({ env: { EGI_TRACING: word } }))).tracing
    expect([tracing("true"), tracing("yes"), tracing("false"), tracing("n")]).toEqual([true, true, false, false])
    // The same keys from a structured source, and under a provider's prefix.
    expect(Effect.runSync(optionsConfig.parse(ConfigProvider.fromUnknown({ EGI: { PORT: 8080, ACCESS_LOG: false, DRAIN_TIMEOUT: 2.5 } })))).toEqual({ port: 8080, accessLog: false, drainTimeout: 2500 })
    expect(Effect.runSync(optionsConfig.parse(ConfigProvider.fromEnv({ env: { APP_EGI_PORT: "81" } }).pipe(ConfigProvider.nested("APP"))))).toEqual({ port: 81 })
  })

  it("a value that is not an integer, or out of range, fails with a ConfigError naming the key, and no server starts; nothing is rounded", async () => {
    const cases: ReadonlyArray<readonly [Record<string, string>, string, string]> = [
      [{ EGI_PORT: "8000.5" }, "PORT", "Expected an integer"],
      [{ EGI_PORT: "70000" }, "PORT", "between 0 and 65535"],
      [{ EGI_PORT: "-1" }, "PORT", "between 0 and 65535"],
      [{ EGI_MAX_BODY_SIZE: "abc" }, "MAX_BODY_SIZE", "finite number"],
      [{ EGI_MAX_BODY_SIZE: "-5" }, "MAX_BODY_SIZE", "between 0 and 9007199254740991"],
      [{ EGI_WRITE_BUFFER_SIZE: "1.5" }, "WRITE_BUFFER_SIZE", "Expected an integer"],
      [{ EGI_IDLE_TIMEOUT: "2147483.648" }, "IDLE_TIMEOUT", "seconds from 0 to 2147483.647 (at most 3 decimals)"],
      [{ EGI_IDLE_TIMEOUT: "0.0005" }, "IDLE_TIMEOUT", "seconds from 0 to 2147483.647"],
      [{ EGI_DRAIN_TIMEOUT: "1e3" }, "DRAIN_TIMEOUT", "seconds from 0 to 2147483.647"],
      [{ EGI_MAX_CONCURRENT_STREAMS: "4294967296" }, "MAX_CONCURRENT_STREAMS", "between 0 and 4294967295"],
      [{ EGI_H2C_ONLY: "maybe" }, "H2C_ONLY", "Expected"],
      [{ EGI_TRACING: "sometimes" }, "TRACING", "\"auto\""],
      [{ EGI_BINDS: "127.0.0.1:0,localhost" }, "BINDS", "is none of host:port, unix:PATH, fd://N"]
    ]
    for (const [env, key, expected] of cases) {
      const message = configErrorOf(Effect.runSyncExit(optionsConfig.parse(ConfigProvider.fromEnv({ env }))))
      expect(message).toContain(`["EGI"]["${key}"]`)
      expect(message).toContain(expected)
    }
    // Through the Layer: the build fails with the ConfigError before anything listens.
    const port = await freePort()
    const server = await build({ EGI_PORT: String(port), EGI_MAX_BODY_SIZE: "1024.5" })
    try {
      expect(configErrorOf(server.exit)).toContain(`["EGI"]["MAX_BODY_SIZE"]`)
      await expect(h1(port, "/")).rejects.toThrow(/ECONNREFUSED/)
    } finally {
      await server.close()
    }
  })

  it("EGI_TLS_CERT and EGI_TLS_KEY name PEM files: the server serves h2 over TLS with them (ALPN), scope.scheme https", async () => {
    const port = await freePort()
    const server = await build({ EGI_PORT: String(port), EGI_TLS_CERT: CERT, EGI_TLS_KEY: KEY, EGI_ACCESS_LOG: "false", EGI_DRAIN_TIMEOUT: "500" })
    try {
      expect(server.exit._tag).toBe("Success")
      const session = await connect(`https://localhost:${port}`, { ca: readFileSync(CERT) })
      try {
        expect((session.socket as tls.TLSSocket).alpnProtocol).toBe("h2")
        const o = await request(session, { ":path": "/tls" })
        expect([o.status, o.body.toString()]).toEqual([200, "https 2 0"])
      } finally {
        await closeSession(session)
      }
    } finally {
      await server.close()
    }
  })

  it("an unreadable TLS file, or one TLS key without the other, fails with a ConfigError at that key", () => {
    const parse = (env: Record<string, string>) => Effect.runPromiseExit(optionsConfig.parse(ConfigProvider.fromEnv({ env })))
    return Promise.all([
      parse({ EGI_TLS_CERT: CERT, EGI_TLS_KEY: "/nonexistent/egi.key" }).then((exit) => {
        const message = configErrorOf(exit)
        expect(message).toContain(`["EGI"]["TLS_KEY"]`)
        expect(message).toContain("cannot read the file: ENOENT")
      }),
      parse({ EGI_TLS_CERT: CERT }).then((exit) => {
        const message = configErrorOf(exit)
        expect(message).toContain(`["EGI"]["TLS_CERT"]`)
        expect(message).toContain("TLS_KEY is missing")
      }),
      parse({ EGI_TLS_KEY: KEY }).then((exit) => expect(configErrorOf(exit)).toContain(`["EGI"]["TLS_KEY"]`))
    ])
  })

  it("takes a record of one Config per option too, as Effect's own layerConfigs do", async () => {
    const port = await freePort()
    const server = await build(
      { PORT: String(port) },
      layerConfig(app, { port: Config.Int("PORT"), accessLog: Config.succeed(false), drainTimeout: Config.succeed(500) })
    )
    try {
      expect(server.exit._tag).toBe("Success")
      expect((await h1(port, "/")).body).toBe("http 1.1 0")
    } finally {
      await server.close()
    }
  })
})
