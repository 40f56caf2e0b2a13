/**
 * Test support: Debian's Chromium, driven by playwright-core (which never
 * downloads a browser), against the web example served by the real CLI over
 * TLS. Used by test/browser/ and scripts/screenshot.ts.
 *
 * The test certificate is trusted by its public key
 * (`--ignore-certificate-errors-spki-list`), not by
 * `--ignore-certificate-errors`: with the latter every response carries a
 * certificate error, and Chromium then keeps nothing in its HTTP cache — so
 * the files a 103 Early Hints preloads are fetched again by the page (seen
 * with Chromium 156). Trusted by key, the connection is an ordinary valid
 * one and the preloads are used.
 */
import { createHash, X509Certificate } from "node:crypto"
import { accessSync, constants, readFileSync } from "node:fs"
import { delimiter, join } from "node:path"
import type { Browser, LaunchOptions } from "playwright-core"
import { type Cli, ROOT, runCli } from "./cli.ts"

export const CERT = join(ROOT, "test/fixtures/localhost.crt")
export const KEY = join(ROOT, "test/fixtures/localhost.key")

/** Where Chromium is: `$EGI_CHROMIUM`, else Debian's /usr/bin/chromium, else `chromium` on PATH. */
export const findChromium = (): string | undefined => {
  const candidates = [
    process.env["EGI_CHROMIUM"],
    "/usr/bin/chromium",
    ...(process.env["PATH"] ?? "").split(delimiter).filter((d) => d !== "").map((d) => join(d, "chromium"))
  ]
  return candidates.find((c) => {
    if (c === undefined || c === "") return false
    try {
      accessSync(c, constants.X_OK)
      return true
    } catch {
      return false
    }
  })
}

/** base64 SHA-256 of the test certificate's SubjectPublicKeyInfo, for `--ignore-certificate-errors-spki-list`. */
export const certSpki = (): string =>
  createHash("sha256")
    .update(new X509Certificate(readFileSync(CERT)).publicKey.export({ type: "spki", format: "der" }))
    .digest("base64")

/**
 * The flags: headless, no sandbox (the tests run as root), no GPU, no QUIC
 * (HTTP/2 is what is tested), no first-run, background networking,
 * component updates or sync (this machine's network is closed), and the test
 * certificate trusted.
 */
export const chromiumArgs = (): Array<string> => [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  `--ignore-certificate-errors-spki-list=${certSpki()}`
]

/** Launches Chromium headless with a fresh profile (playwright makes a new --user-data-dir per launch). */
export const launchChromium = async (executablePath: string, options: LaunchOptions = {}): Promise<Browser> => {
  const { chromium } = await import("playwright-core")
  return chromium.launch({ executablePath, headless: true, args: chromiumArgs(), ...options })
}

/** `egi serve examples/web/app.ts` over TLS on a free port; `url` is https://127.0.0.1:<port>. */
export const serveWeb = async (): Promise<{ readonly cli: Cli; readonly url: string }> => {
  const cli = runCli(["serve", "examples/web/app.ts", "--port", "0", "--tls-cert", CERT, "--tls-key", KEY])
  try {
    const { url, protocols } = await cli.listening(20_000)
    if (protocols !== "h2, http/1.1") throw new Error(`expected h2 by ALPN, the CLI says ${protocols}`)
    return { cli, url }
  } catch (cause) {
    await cli.dispose()
    throw cause
  }
}

/** One access-log line (spec.md §8.5). */
export interface AccessLine {
  readonly method: string
  readonly target: string
  readonly version: string
  readonly status: string
  readonly bytes: string
  readonly connection: number
  readonly stream: number
  readonly end: string | undefined
  readonly line: string
}

const ACCESS = /^\S+ "(\S+) (\S+) HTTP\/([\d.]+)" (\S+) (\S+) [\d.]+ms conn=(\d+) stream=(\d+)(?: end=(\S+))?$/

/** The access lines of `stdout`, in order. */
export const accessLines = (stdout: string): Array<AccessLine> =>
  stdout.split("\n").flatMap((line) => {
    const m = ACCESS.exec(line)
    return m === null ? [] : [{
      method: m[1]!,
      target: m[2]!,
      version: m[3]!,
      status: m[4]!,
      bytes: m[5]!,
      connection: Number(m[6]),
      stream: Number(m[7]),
      end: m[8],
      line
    }]
  })

/** Polls `check` every 25 ms until it returns a value other than undefined; fails after `ms` with `what`. */
export const until = async <A>(what: string, check: () => A | undefined, ms = 10_000): Promise<A> => {
  const deadline = Date.now() + ms
  while (true) {
    const value = check()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}
