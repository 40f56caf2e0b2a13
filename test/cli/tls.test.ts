/**
 * `egi serve`'s TLS flags (spec.md §8.1 "TLS"): SIGHUP in one process
 * reads the certificate files anew and loads them without a restart (a
 * new connection sees the new certificate, an open one keeps its own); a
 * broken new certificate keeps the old one, with one error line; the
 * client-certificate and version flags reach the runner. The real CLI in
 * a child process; test-only certificates (test/fixtures/tls/README.md).
 */
import { X509Certificate } from "node:crypto"
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import * as https from "node:https"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type * as tls from "node:tls"
import { afterEach, describe, expect, it } from "vitest"
import { type Cli, ROOT, runCli } from "../support/cli.ts"

const fixture = (name: string): string => join(ROOT, "test/fixtures", name)
const fingerprint = (path: string): string => new X509Certificate(readFileSync(path)).fingerprint256
const trusted = [readFileSync(fixture("localhost.crt")), readFileSync(fixture("tls/server2.crt"))]

let cli: Cli | undefined
let dir: string | undefined
afterEach(async () => {
  await cli?.dispose()
  cli = undefined
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  dir = undefined
})

/** GET / on a new connection: status and the server certificate's fingerprint. */
const get = (port: number, extra: https.RequestOptions = {}): Promise<{ status: number; fingerprint: string; body: string }> =>
  new Promise((resolve, reject) => {
    const req = https.get({ host: "localhost", port, path: "/", ca: trusted, agent: false, ...extra }, (res) => {
      let body = ""
      res.setEncoding("utf8").on("data", (d: string) => (body += d))
      res.on("end", () => resolve({ status: res.statusCode ?? 0, fingerprint: (res.socket as tls.TLSSocket).getPeerX509Certificate()?.fingerprint256 ?? "", body }))
    })
    req.on("error", reject)
  })

describe("egi serve --tls-*", () => {
  it("TLS-4: SIGHUP loads the new certificate files without a restart; a broken one keeps the current certificate, with one error line", async () => {
    dir = mkdtempSync(join(tmpdir(), "egi-tls-"))
    const certPath = join(dir, "cert.pem")
    const keyPath = join(dir, "key.pem")
    copyFileSync(fixture("localhost.crt"), certPath)
    copyFileSync(fixture("localhost.key"), keyPath)
    cli = runCli(["serve", "test/fixtures/http-app.ts", "--port", "0", "--tls-cert", certPath, "--tls-key", keyPath])
    const { port } = await cli.listening()
    const pid = cli.child.pid
    expect((await get(port)).fingerprint).toBe(fingerprint(fixture("localhost.crt")))

    copyFileSync(fixture("tls/server2.crt"), certPath)
    copyFileSync(fixture("tls/server2.key"), keyPath)
    cli.signal("SIGHUP")
    await cli.waitFor("stderr", /SIGHUP: TLS certificate reloaded \(sha256 [0-9A-F:]+\)/)
    const after = await get(port)
    expect([after.status, after.fingerprint]).toEqual([200, fingerprint(fixture("tls/server2.crt"))])
    expect(cli.child.pid).toBe(pid)

    writeFileSync(certPath, "-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n")
    cli.signal("SIGHUP")
    await cli.waitFor("stderr", /SIGHUP: the new TLS material does not load .*the current certificate stays in force/)
    expect((await get(port)).fingerprint).toBe(fingerprint(fixture("tls/server2.crt")))
    expect(cli.stderr().split("\n").filter((l) => l.includes("SIGHUP:") && !l.includes("reloaded"))).toHaveLength(1)
    expect(cli.child.exitCode).toBe(null)
  })

  it("TLS-2: --tls-ca (request by default) and --tls-client-auth require, --tls-min-version, and EGI_TLS_KEY_PASSWORD reach the server", async () => {
    cli = runCli(
      ["serve", "test/fixtures/http-app.ts", "--port", "0", "--tls-cert", fixture("localhost.crt"), "--tls-key", fixture("tls/localhost-encrypted.key"), "--tls-ca", fixture("tls/ca.crt"), "--tls-client-auth", "require", "--tls-min-version", "TLSv1.3"],
      { env: { EGI_TLS_KEY_PASSWORD: "egi-test-passphrase" } }
    )
    const { port } = await cli.listening()
    await expect(get(port)).rejects.toThrow()
    const client = { cert: readFileSync(fixture("tls/client.crt")), key: readFileSync(fixture("tls/client.key")) }
    expect((await get(port, client)).status).toBe(200)
    await expect(get(port, { ...client, maxVersion: "TLSv1.2" } as https.RequestOptions)).rejects.toThrow()
  })

  it("TLS-2: --tls-client-auth require without --tls-ca, and --tls-ca without --tls-cert, are usage errors (exit 2)", async () => {
    for (const args of [["--tls-cert", fixture("localhost.crt"), "--tls-key", fixture("localhost.key"), "--tls-client-auth", "require"], ["--tls-ca", fixture("tls/ca.crt")]]) {
      const run = runCli(["serve", "test/fixtures/http-app.ts", "--port", "0", ...args])
      const exit = await run.exit
      expect(exit.code).toBe(2)
      expect(run.stderr()).toMatch(/^egi: --tls-/)
    }
  })
})
