/**
 * TLS as production needs it (spec.md §8.1 "TLS", §7.11): client
 * certificates (`clientAuth` none / request / require against `ca`) and
 * the `tls.client_certificate` extension on HTTP/2 and HTTP/1.1, the
 * minimum version and ciphers, an encrypted key, and `Server.reloadTls`.
 * Real sockets; node:http2 and node:https clients presenting a certificate
 * or not. The certificates are test-only (test/fixtures/tls/README.md).
 */
import { Effect, Exit } from "effect"
import { X509Certificate } from "node:crypto"
import { readFileSync } from "node:fs"
import * as http2 from "node:http2"
import * as https from "node:https"
import * as tls from "node:tls"
import { describe, expect, it } from "vitest"
import type { App } from "../../src/protocol/app.ts"
import { unsupportedScope } from "../../src/protocol/unsupported.ts"
import { until } from "../support/clients.ts"
import { listen, type TestServer, useServer } from "../support/server.ts"

const fixture = (name: string): Buffer => readFileSync(new URL(`../fixtures/${name}`, import.meta.url))
const cert = fixture("localhost.crt")
const key = fixture("localhost.key")
const ca = fixture("tls/ca.crt")
const client = { cert: fixture("tls/client.crt"), key: fixture("tls/client.key") }
const stranger = { cert: fixture("tls/stranger.crt"), key: fixture("tls/stranger.key") }
const cert2 = fixture("tls/server2.crt")
const key2 = fixture("tls/server2.key")
const fingerprint = (pem: Buffer): string => new X509Certificate(pem).fingerprint256
/** Trusts both server certificates (the reload swaps one for the other). */
const serverCa = [cert, cert2]

interface Seen {
  readonly scheme: string
  readonly httpVersion: string
  readonly cert: unknown
  readonly keys: ReadonlyArray<string>
}

/** Answers what the app sees: scheme, version, `tls.client_certificate` (null when absent) and whether it is listed. */
const app: App = (scope, _receive, send) => {
  if (scope.type !== "http") return unsupportedScope(scope)
  return Effect.gen(function*() {
    const ext = scope.extensions["tls.client_certificate"]
    const seen: Seen = { scheme: scope.scheme, httpVersion: scope.httpVersion, cert: ext ?? null, keys: Object.keys(scope.extensions).filter((k) => k.startsWith("tls.")) }
    yield* send({ type: "http.response.start", status: 200, headers: [["content-type", "application/json"]] })
    yield* send({ type: "http.response.body", body: new TextEncoder().encode(JSON.stringify(seen)) })
  })
}

type ClientCert = { readonly cert: Buffer; readonly key: Buffer } | undefined

/** One HTTP/2 request on a new session; the server certificate's fingerprint too. */
const h2get = (port: number, who: ClientCert, extra: tls.ConnectionOptions = {}): Promise<{ seen: Seen; serverFingerprint: string }> =>
  new Promise((resolve, reject) => {
    const session = http2.connect(`https://localhost:${port}`, { ca: serverCa, ...(who ?? {}), ...extra })
    let serverFingerprint = ""
    session.once("connect", () => serverFingerprint = (session.socket as tls.TLSSocket).getPeerX509Certificate()?.fingerprint256 ?? "")
    session.on("error", reject)
    session.once("close", () => reject(new Error("the connection closed without a response")))
    const req = session.request({ ":path": "/" })
    req.on("error", reject)
    let status = 0
    req.on("response", (headers) => status = Number(headers[":status"]))
    let body = ""
    req.setEncoding("utf8").on("data", (d: string) => (body += d))
    req.on("end", () => {
      session.close()
      if (status !== 200) return reject(new Error(`no response (status ${status})`))
      try {
        resolve({ seen: JSON.parse(body) as Seen, serverFingerprint })
      } catch (cause) {
        reject(cause)
      }
    })
    req.end()
  })

/** One HTTP/1.1 request (ALPN http/1.1 only) on a new connection. */
const h1get = (port: number, who: ClientCert, extra: tls.ConnectionOptions = {}): Promise<{ seen: Seen; serverFingerprint: string }> =>
  new Promise((resolve, reject) => {
    const options: https.RequestOptions & tls.ConnectionOptions = {
      host: "localhost",
      port,
      path: "/",
      ca: serverCa,
      ALPNProtocols: ["http/1.1"],
      agent: false,
      ...(who ?? {}),
      ...extra
    }
    const req = https.request(options, (res) => {
      let body = ""
      res.setEncoding("utf8").on("data", (d: string) => (body += d))
      res.on("end", () => {
        try {
          resolve({ seen: JSON.parse(body) as Seen, serverFingerprint: (res.socket as tls.TLSSocket).getPeerX509Certificate()?.fingerprint256 ?? "" })
        } catch (cause) {
          reject(cause)
        }
      })
    })
    req.on("error", reject)
    req.end()
  })

/** What the app sees of the fixture client certificate (`client.crt`). */
const alice = {
  version: "1",
  subject: "CN=alice,O=EGI Test,C=DE",
  issuer: "CN=EGI Test CA,O=EGI Test",
  serialNumber: "1001",
  fingerprint256: fingerprint(client.cert)
}

describe("clientAuth request", () => {
  const server = useServer(app, { tls: { cert, key, ca, clientAuth: "request" } })

  it("TLS-1: without a client certificate the app sees no tls.client_certificate, on HTTP/2 and HTTP/1.1; scheme stays https", async () => {
    const [h2, h1] = await Promise.all([h2get(server().port, undefined), h1get(server().port, undefined)])
    expect(h2.seen).toEqual({ scheme: "https", httpVersion: "2", cert: null, keys: [] })
    expect(h1.seen).toEqual({ scheme: "https", httpVersion: "1.1", cert: null, keys: [] })
  })

  it("TLS-1: with a certificate the CA signed, the app sees its subject, issuer, serial and fingerprint, on HTTP/2 and HTTP/1.1", async () => {
    const [h2, h1] = await Promise.all([h2get(server().port, client), h1get(server().port, client)])
    expect(h2.seen).toEqual({ scheme: "https", httpVersion: "2", cert: alice, keys: ["tls.client_certificate"] })
    expect(h1.seen).toEqual({ scheme: "https", httpVersion: "1.1", cert: alice, keys: ["tls.client_certificate"] })
  })

  it("TLS-2: under request, a certificate that does not verify against ca closes the connection, with one line", async () => {
    const before = server().lines.error.length
    await expect(h2get(server().port, stranger)).rejects.toThrow()
    await until(() => server().lines.error.slice(before).some((l) => /TLS client refused: the client certificate \(CN=mallory\) does not verify/.test(l)), "the refusal line")
  })
})

describe("clientAuth require", () => {
  const server = useServer(app, { tls: { cert, key, ca, clientAuth: "require" } })

  it("TLS-2: under require, a client without a certificate is refused (HTTP/2 and HTTP/1.1): no request reaches the app", async () => {
    const before = server().lines.error.length
    await expect(h2get(server().port, undefined)).rejects.toThrow()
    await expect(h1get(server().port, undefined)).rejects.toThrow()
    await until(() => server().lines.error.slice(before).filter((l) => l.includes("TLS client refused: a client certificate is required")).length === 2, "two refusal lines")
    expect(server().lines.access.length).toBe(0)
  })

  it("TLS-2: under require, a client with a verified certificate is served, and the app sees it", async () => {
    const [h2, h1] = await Promise.all([h2get(server().port, client), h1get(server().port, client)])
    expect(h2.seen.cert).toEqual(alice)
    expect(h1.seen.cert).toEqual(alice)
  })
})

describe("clientAuth none", () => {
  const server = useServer(app, { tls: { cert, key } })

  it("TLS-1: without clientAuth no certificate is asked for: a client that has one is served without tls.client_certificate", async () => {
    const { seen } = await h2get(server().port, client)
    expect(seen).toEqual({ scheme: "https", httpVersion: "2", cert: null, keys: [] })
  })
})

describe("versions, ciphers, passphrase", () => {
  it("TLS-3: minVersion TLSv1.3 refuses a TLS 1.2 client and serves a TLS 1.3 one", async () => {
    const server = await listen(app, { tls: { cert, key, minVersion: "TLSv1.3" } })
    try {
      await expect(h2get(server.port, undefined, { maxVersion: "TLSv1.2" })).rejects.toThrow()
      await until(() => server.lines.error.some((l) => l.includes("TLS handshake failed")), "a handshake failure line")
      const { seen } = await h2get(server.port, undefined, { minVersion: "TLSv1.3" })
      expect(seen.httpVersion).toBe("2")
    } finally {
      await server.close()
    }
  })

  it("TLS-3: the default minimum is TLS 1.2: a TLS 1.2 client is served", async () => {
    const server = await listen(app, { tls: { cert, key } })
    try {
      const { seen } = await h1get(server.port, undefined, { maxVersion: "TLSv1.2" })
      expect(seen.httpVersion).toBe("1.1")
    } finally {
      await server.close()
    }
  })

  it("TLS-3: ciphers limits the TLS 1.2 suites: a client offering only another one is refused, one offering it is served with it", async () => {
    const server = await listen(app, { tls: { cert, key, ciphers: "ECDHE-RSA-AES256-GCM-SHA384" } })
    try {
      await expect(h1get(server.port, undefined, { maxVersion: "TLSv1.2", ciphers: "ECDHE-RSA-AES128-GCM-SHA256" })).rejects.toThrow()
      const cipher = await new Promise<string>((resolve, reject) => {
        const socket = tls.connect({ host: "localhost", port: server.port, ca: serverCa, maxVersion: "TLSv1.2", ALPNProtocols: ["http/1.1"] }, () => {
          resolve(socket.getCipher().name)
          socket.end()
        })
        socket.on("error", reject)
      })
      expect(cipher).toBe("ECDHE-RSA-AES256-GCM-SHA384")
    } finally {
      await server.close()
    }
  })

  it("TLS-3: an encrypted key loads with its passphrase; a wrong passphrase fails the start with ServeError Tls", async () => {
    const encrypted = fixture("tls/localhost-encrypted.key")
    const server = await listen(app, { tls: { cert, key: encrypted, passphrase: "egi-test-passphrase" } })
    try {
      const { seen } = await h2get(server.port, undefined)
      expect(seen.scheme).toBe("https")
    } finally {
      await server.close()
    }
    const failed = await listen(app, { tls: { cert, key: encrypted, passphrase: "wrong" } }).then(() => "started", (e: unknown) => e)
    expect(failed).toMatchObject({ _tag: "ServeError", reason: "Tls" })
  })

  it("TLS-3: clientAuth other than none without ca, or an unknown minVersion, is a ServeError Options", async () => {
    for (const tlsOptions of [{ cert, key, clientAuth: "require" as const }, { cert, key, minVersion: "TLSv1.1" as "TLSv1.2" }]) {
      const failed = await listen(app, { tls: tlsOptions }).then(() => "started", (e: unknown) => e)
      expect(failed).toMatchObject({ _tag: "ServeError", reason: "Options" })
    }
  })
})

describe("Server.reloadTls", () => {
  /** A request on an HTTP/2 session kept open across the reload. */
  const onSession = (session: http2.ClientHttp2Session): Promise<number> =>
    new Promise((resolve, reject) => {
      const req = session.request({ ":path": "/" })
      req.on("response", (headers) => {
        req.resume()
        req.on("end", () => resolve(Number(headers[":status"])))
      })
      req.on("error", reject)
      req.end()
    })

  it("TLS-4: a new certificate reaches new connections; an open connection keeps the old one and still serves", async () => {
    const server: TestServer = await listen(app, { tls: { cert, key } })
    try {
      const old = http2.connect(`https://localhost:${server.port}`, { ca: serverCa })
      await new Promise<void>((resolve, reject) => old.once("connect", () => resolve()).once("error", reject))
      expect((await h2get(server.port, undefined)).serverFingerprint).toBe(fingerprint(cert))
      await Effect.runPromise(server.reloadTls({ cert: cert2, key: key2 }))
      const [h2, h1] = await Promise.all([h2get(server.port, undefined), h1get(server.port, undefined)])
      expect(h2.serverFingerprint).toBe(fingerprint(cert2))
      expect(h1.serverFingerprint).toBe(fingerprint(cert2))
      // The connection made before the reload: its certificate, and it serves on.
      expect((old.socket as tls.TLSSocket).getPeerX509Certificate()?.fingerprint256).toBe(fingerprint(cert))
      expect(await onSession(old)).toBe(200)
      old.close()
    } finally {
      await server.close()
    }
  })

  it("TLS-4: material that does not load (bad PEM, a key of another certificate) fails with ServeError Tls and the current certificate stays", async () => {
    const server = await listen(app, { tls: { cert, key } })
    try {
      for (const bad of [{ cert: Buffer.from("-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n"), key: key2 }, { cert: cert2, key }]) {
        const exit = await Effect.runPromiseExit(server.reloadTls(bad))
        expect(Exit.isFailure(exit)).toBe(true)
        if (Exit.isFailure(exit)) expect(String(exit.cause)).toMatch(/the current certificate stays in force/)
        expect((await h2get(server.port, undefined)).serverFingerprint).toBe(fingerprint(cert))
      }
    } finally {
      await server.close()
    }
  })

  it("TLS-4: reloading the client CA: a certificate it signed is then verified (clientAuth request)", async () => {
    const server = await listen(app, { tls: { cert, key, ca: stranger.cert, clientAuth: "request" } })
    try {
      await expect(h2get(server.port, client)).rejects.toThrow()
      await Effect.runPromise(server.reloadTls({ cert, key, ca }))
      expect((await h2get(server.port, client)).seen.cert).toEqual(alice)
    } finally {
      await server.close()
    }
  })

  it("TLS-4: a server without TLS fails reloadTls with ServeError Tls", async () => {
    const server = await listen(app, {})
    try {
      const exit = await Effect.runPromiseExit(server.reloadTls({ cert, key }))
      expect(Exit.isFailure(exit)).toBe(true)
    } finally {
      await server.close()
    }
  })
})
