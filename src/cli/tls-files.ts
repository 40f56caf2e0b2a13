/**
 * `egi serve`'s TLS flags (spec.md §8.1 "TLS"): the files they name, read
 * at start and again on SIGHUP — which, in one process, loads the new
 * certificate without a restart (`Server.reloadTls`). With `--workers`
 * SIGHUP replaces the workers instead, and each new one reads the files
 * anew (spec.md §8.13).
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import { X509Certificate } from "node:crypto"
import { readFileSync } from "node:fs"
import type { RunnerLog } from "../runner/log.ts"
import { reloadProcessTls, type TlsClientAuth, type TlsOptions } from "../runner/tls.ts"

/** What the TLS flags name: paths and settings, read by `readTls`. */
export interface TlsFiles {
  readonly cert: string
  readonly key: string
  readonly ca: string | undefined
  readonly password: string | undefined
  readonly passwordFile: string | undefined
  readonly clientAuth: TlsClientAuth
  readonly ciphers: string | undefined
  readonly minVersion: "TLSv1.2" | "TLSv1.3" | undefined
}

/** The TLS flags as `egi serve` parsed them. */
export interface TlsFlags {
  readonly tlsCert: Option.Option<string>
  readonly tlsKey: Option.Option<string>
  readonly tlsCa: Option.Option<string>
  readonly tlsClientAuth: Option.Option<TlsClientAuth>
  readonly tlsKeyPassword: Option.Option<string>
  readonly tlsKeyPasswordFile: Option.Option<string>
  readonly tlsCiphers: Option.Option<string>
  readonly tlsMinVersion: Option.Option<"TLSv1.2" | "TLSv1.3">
}

/** The files and settings of the TLS flags; undefined without `--tls-cert`; a string: the usage error. */
export const tlsFilesOf = (given: TlsFlags): TlsFiles | undefined | { readonly usage: string } => {
  const cert = Option.getOrUndefined(given.tlsCert)
  const key = Option.getOrUndefined(given.tlsKey)
  if ((cert === undefined) !== (key === undefined)) return { usage: "--tls-cert and --tls-key go together" }
  const ca = Option.getOrUndefined(given.tlsCa)
  const clientAuth = Option.getOrElse(given.tlsClientAuth, () => ca === undefined ? "none" as const : "request" as const)
  const password = Option.getOrUndefined(given.tlsKeyPassword)
  const passwordFile = Option.getOrUndefined(given.tlsKeyPasswordFile)
  const ciphers = Option.getOrUndefined(given.tlsCiphers)
  const minVersion = Option.getOrUndefined(given.tlsMinVersion)
  if (cert === undefined || key === undefined) {
    const stray = [
      ["--tls-ca", ca],
      ["--tls-client-auth", Option.getOrUndefined(given.tlsClientAuth)],
      ["--tls-key-password", password],
      ["--tls-key-password-file", passwordFile],
      ["--tls-ciphers", ciphers],
      ["--tls-min-version", minVersion]
    ].find(([, v]) => v !== undefined)
    return stray === undefined ? undefined : { usage: `${stray[0]} needs --tls-cert and --tls-key` }
  }
  if (clientAuth !== "none" && ca === undefined) return { usage: `--tls-client-auth ${clientAuth} needs --tls-ca, the CA(s) client certificates are verified against` }
  if (password !== undefined && passwordFile !== undefined) return { usage: "--tls-key-password and --tls-key-password-file: one at most" }
  return { cert, key, ca, password, passwordFile, clientAuth, ciphers, minVersion }
}

/** Reads the files (throws with the reason when one cannot be read). */
export const readTls = (files: TlsFiles): TlsOptions => {
  const passphrase = files.passwordFile === undefined
    ? files.password
    : readFileSync(files.passwordFile, "utf8").split(/\r?\n/)[0]!
  return {
    cert: readFileSync(files.cert),
    key: readFileSync(files.key),
    ...(files.ca === undefined ? {} : { ca: readFileSync(files.ca) }),
    ...(passphrase === undefined ? {} : { passphrase }),
    clientAuth: files.clientAuth,
    ...(files.ciphers === undefined ? {} : { ciphers: files.ciphers }),
    ...(files.minVersion === undefined ? {} : { minVersion: files.minVersion })
  }
}

/**
 * SIGHUP in one process (rule TLS-4): reads the files anew and loads them
 * into every TLS listener without a restart; one info line with the new
 * certificate's SHA-256 fingerprint, or one error line when the files
 * cannot be read or do not load — the current certificate then stays.
 */
export const reloadOnSighup = (files: TlsFiles, logger: RunnerLog): void => {
  process.on("SIGHUP", () => {
    let material: TlsOptions
    try {
      material = readTls(files)
    } catch (cause) {
      return logger.error(`SIGHUP: cannot read the TLS files (${(cause as Error).message}); the current certificate stays in force`)
    }
    void Effect.runPromiseExit(reloadProcessTls(material)).then((exit) => {
      if (Exit.isSuccess(exit)) {
        let fingerprint = ""
        try {
          fingerprint = ` (sha256 ${new X509Certificate(material.cert).fingerprint256})`
        } catch {
          // loaded, so it parses
        }
        logger.info(`SIGHUP: TLS certificate reloaded${fingerprint}`)
      } else {
        const error = exit.cause.reasons.map((r) => (r._tag === "Fail" ? (r.error as { detail?: string }).detail : undefined)).find((d) => d !== undefined)
        logger.error(`SIGHUP: ${error ?? "the TLS reload failed"}`)
      }
    })
  })
}
