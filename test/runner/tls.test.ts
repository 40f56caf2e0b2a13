/**
 * RUN-9 with TLS: one listener, ALPN picks h2 or http/1.1; scope.scheme is
 * "https". Clients: node:http2, node:https, curl.
 */
import { execFile } from "node:child_process"
import { readFileSync } from "node:fs"
import * as https from "node:https"
import type * as tls from "node:tls"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import type { App } from "../../src/protocol/app.ts"
import { unsupportedScope } from "../../src/protocol/unsupported.ts"
import { h2close, h2connect, h2request, until } from "../support/clients.ts"
import { useServer } from "../support/server.ts"

const CERT = new URL("../fixtures/localhost.crt", import.meta.url)
const KEY = new URL("../fixtures/localhost.key", import.meta.url)
const cert = readFileSync(CERT)
const key = readFileSync(KEY)

/** Answers `<scheme> <httpVersion> <authority>`. */
const app: App = (scope, _receive, send) => {
  if (scope.type !== "http") return unsupportedScope(scope)
  return Effect.gen(function*() {
    yield* send({ type: "http.response.start", status: 200, headers: [["content-type", "text/plain"]] })
    yield* send({ type: "http.response.body", body: new TextEncoder().encode(`${scope.scheme} ${scope.httpVersion} ${scope.authority}`) })
  })
}

const curl = (args: ReadonlyArray<string>): Promise<{ code: number; stdout: string; stderr: string }> =>
  new Promise((resolve) => {
    execFile("curl", [...args], { timeout: 10_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === "number" ? err.code : -1, stdout, stderr })
    })
  })

const server = useServer(app, { tls: { cert, key } })

describe("RUN-9 over TLS", () => {
  it("RUN-9: the TLS listener announces https and both protocols", () => {
    expect(server().url).toBe(`https://127.0.0.1:${server().port}`)
    expect(server().protocols).toBe("h2, http/1.1")
  })

  it("RUN-9: a node:http2 client (ca = the fixture cert) negotiates h2 by ALPN and gets 200; scope.scheme is https", async () => {
    const session = await h2connect(`https://localhost:${server().port}`, { ca: cert })
    try {
      const socket = session.socket as tls.TLSSocket
      expect(socket.alpnProtocol).toBe("h2")
      expect(socket.authorized).toBe(true)
      const o = await h2request(session, { ":path": "/tls" })
      expect([o.status, o.body]).toEqual([200, `https 2 localhost:${server().port}`])
    } finally {
      await h2close(session)
    }
  })

  it("RUN-9: https.request offering only http/1.1 by ALPN gets 200 over HTTP/1.1; scope.scheme is https", async () => {
    const result = await new Promise<{ status: number; version: string; alpn: string | false; body: string }>((resolve, reject) => {
      const options: https.RequestOptions & Pick<tls.ConnectionOptions, "ALPNProtocols"> = {
        host: "127.0.0.1",
        port: server().port,
        path: "/h1",
        ca: cert,
        ALPNProtocols: ["http/1.1"],
        agent: false
      }
      const req = https.request(
        options,
        (res) => {
          const chunks: Array<Buffer> = []
          res.on("data", (c: Buffer) => chunks.push(c))
          res.on("end", () =>
            resolve({
              status: res.statusCode ?? 0,
              version: res.httpVersion,
              alpn: (res.socket as tls.TLSSocket).alpnProtocol ?? false,
              body: Buffer.concat(chunks).toString()
            })
          )
        }
      )
      req.on("error", reject)
      req.end()
    })
    expect(result).toEqual({ status: 200, version: "1.1", alpn: "http/1.1", body: `https 1.1 127.0.0.1:${server().port}` })
  })

  it("RUN-9: curl -sk --http2 gets HTTP/2 and curl -sk --http1.1 gets HTTP/1.1, both 200", async () => {
    const url = `https://127.0.0.1:${server().port}/curl`
    const fmt = "\n%{http_code} %{http_version}"
    const [h2, h1] = await Promise.all([
      curl(["-sk", "--http2", "-w", fmt, url]),
      curl(["-sk", "--http1.1", "-w", fmt, url])
    ])
    expect(h2).toEqual({ code: 0, stdout: `https 2 127.0.0.1:${server().port}\n200 2`, stderr: "" })
    expect(h1).toEqual({ code: 0, stdout: `https 1.1 127.0.0.1:${server().port}\n200 1.1`, stderr: "" })
  })

  it("RUN-9: a cleartext h2c client cannot talk to the TLS port (no plaintext fallback)", async () => {
    const r = await curl(["-s", "--http2-prior-knowledge", "-o", "/dev/null", "-w", "%{http_code}", `http://127.0.0.1:${server().port}/`])
    expect(r.code).not.toBe(0)
    expect(r.stdout).toBe("000")
    await until(() => server().lines.error.some((l) => l.includes("TLS handshake failed")), "a TLS handshake error line")
  })
})
