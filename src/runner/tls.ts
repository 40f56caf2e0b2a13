/**
 * TLS as production needs it (spec.md §8.1 "TLS", §7.11): the listener's
 * options from `RunnerOptions.tls`, client certificates and the
 * `tls.client_certificate` extension, and reloading the certificate
 * without a restart.
 *
 * @since 0.4.0
 */
import * as Effect from "effect/Effect"
import { createPrivateKey, X509Certificate } from "node:crypto"
import * as tls from "node:tls"
import { type ClientCertificateExtension, EXTENSION_VERSION } from "../protocol/extensions.ts"
import { ServeError } from "./errors.ts"

/**
 * Whether the server asks the client for a certificate (spec.md §8.1,
 * rule TLS-2): `"none"` never; `"request"` asks, serves a client without
 * one (no `tls.client_certificate`) and closes the connection of one whose
 * certificate does not verify against `ca`; `"require"` closes every
 * connection without a verified certificate, before any request is read.
 *
 * @since 0.4.0
 * @category models
 */
export type TlsClientAuth = "none" | "request" | "require"

/**
 * The material of a TLS listener that `Server.reloadTls` can replace: PEM
 * certificate chain and key, the key's passphrase, and the CAs that client
 * certificates are verified against.
 *
 * @since 0.4.0
 * @category models
 */
export interface TlsMaterial {
  /** PEM certificate chain, the server's certificate first. */
  readonly cert: string | Buffer
  /** PEM private key (encrypted when `passphrase` is given). */
  readonly key: string | Buffer
  /** The passphrase of an encrypted `key`. */
  readonly passphrase?: string | undefined
  /** PEM CA certificate(s) client certificates must chain to; needed by `clientAuth` `"request"` and `"require"`. */
  readonly ca?: string | Buffer | undefined
}

/**
 * `RunnerOptions.tls` (spec.md §8.1 "TLS"): the material, whether client
 * certificates are asked for (default `"none"`), the cipher list (OpenSSL
 * syntax, TLS 1.3 suites included; default Node's) and the lowest protocol
 * version accepted (default `"TLSv1.2"`).
 *
 * @since 0.4.0
 * @category models
 */
export interface TlsOptions extends TlsMaterial {
  readonly clientAuth?: TlsClientAuth | undefined
  readonly ciphers?: string | undefined
  readonly minVersion?: "TLSv1.2" | "TLSv1.3" | undefined
}

/** The listener's options that are out of range, as one sentence; undefined when none is. */
export const checkTls = (t: TlsOptions): string | undefined => {
  const auth = t.clientAuth ?? "none"
  if (auth !== "none" && auth !== "request" && auth !== "require") {
    return `tls.clientAuth must be "none", "request" or "require", got ${JSON.stringify(auth)}`
  }
  if (auth !== "none" && t.ca === undefined) return `tls.clientAuth ${JSON.stringify(auth)} needs tls.ca, the CA(s) client certificates are verified against`
  if (t.minVersion !== undefined && t.minVersion !== "TLSv1.2" && t.minVersion !== "TLSv1.3") {
    return `tls.minVersion must be "TLSv1.2" or "TLSv1.3", got ${JSON.stringify(t.minVersion)}`
  }
  return undefined
}

/** What node:tls makes a secure context of (also what `setSecureContext` takes). */
export const secureContextOptions = (t: TlsOptions): tls.SecureContextOptions => ({
  cert: t.cert,
  key: t.key,
  ...(t.passphrase === undefined ? {} : { passphrase: t.passphrase }),
  ...(t.ca === undefined ? {} : { ca: t.ca }),
  ...(t.ciphers === undefined ? {} : { ciphers: t.ciphers }),
  minVersion: t.minVersion ?? "TLSv1.2"
})

/**
 * Throws when the key is not the certificate's (OpenSSL keeps a key of
 * another type in a slot of its own and would only fail at handshakes), or
 * when either does not parse or the passphrase is wrong.
 */
const checkPair = (t: TlsMaterial): void => {
  const key = createPrivateKey({ key: t.key, format: "pem", ...(t.passphrase === undefined ? {} : { passphrase: t.passphrase }) })
  if (!new X509Certificate(t.cert).checkPrivateKey(key)) throw new Error("the key does not belong to the certificate")
}

/**
 * The listener's options: ALPN h2 and http/1.1, and a certificate asked for
 * unless `clientAuth` is `"none"`. node:tls never refuses one itself
 * (`rejectUnauthorized: false`): `clientCertificateOf` decides, so that a
 * refusal gets its log line.
 */
export const serverOptions = (t: TlsOptions): tls.TlsOptions => {
  checkPair(t)
  return {
    ...secureContextOptions(t),
    ALPNProtocols: ["h2", "http/1.1"],
    requestCert: (t.clientAuth ?? "none") !== "none",
    rejectUnauthorized: false
  }
}

/** A distinguished name as node:crypto prints it (one `type=value` a line, RFC 2253-escaped, most general first) in RFC 4514 order. */
const rfc4514 = (multiline: string): string => multiline.split("\n").filter((l) => l !== "").reverse().join(",")

/**
 * The `tls.client_certificate` of a connection (spec.md §7.11): the
 * verified certificate's subject, issuer, serial and SHA-256 fingerprint;
 * undefined when the client presented none (or none was asked for);
 * `{ refused }` when the connection must be closed (TLS-2): a certificate
 * that does not verify, or none under `"require"`.
 */
export const clientCertificateOf = (
  socket: tls.TLSSocket,
  clientAuth: TlsClientAuth
): ClientCertificateExtension | undefined | { readonly refused: string } => {
  if (clientAuth === "none") return undefined
  const peer = socket.getPeerX509Certificate()
  if (peer === undefined) return clientAuth === "require" ? { refused: "a client certificate is required, none was presented" } : undefined
  if (!socket.authorized) return { refused: `the client certificate (${rfc4514(peer.subject)}) does not verify: ${String(socket.authorizationError)}` }
  return describeCertificate(peer)
}

/** The extension's value for a certificate (frozen: one per connection, shared by its streams). */
export const describeCertificate = (cert: X509Certificate): ClientCertificateExtension =>
  Object.freeze({
    version: EXTENSION_VERSION,
    subject: rfc4514(cert.subject),
    issuer: rfc4514(cert.issuer),
    serialNumber: cert.serialNumber.toUpperCase(),
    fingerprint256: cert.fingerprint256
  })

/**
 * Loads `next` into every listener of `listeners` (rule TLS-4): a secure
 * context is made first, and only when that succeeds do the listeners
 * switch to it — new connections get it, established ones keep theirs.
 * Material that does not load (bad PEM, a key that does not match the
 * certificate, a wrong passphrase) fails with `ServeError` `Tls` and
 * changes nothing.
 */
export const reloadListeners = (listeners: ReadonlyArray<tls.Server>, next: TlsOptions): Effect.Effect<void, ServeError> =>
  Effect.suspend(() => {
    const options = secureContextOptions(next)
    try {
      tls.createSecureContext(options)
      checkPair(next)
    } catch (cause) {
      return Effect.fail(
        new ServeError({ reason: "Tls", detail: `the new TLS material does not load (${(cause as Error).message}); the current certificate stays in force`, cause })
      )
    }
    for (const listener of listeners) listener.setSecureContext(options)
    return Effect.void
  })

/** The running TLS servers of this process, for the CLI's SIGHUP (spec.md §8.1). */
const live = new Set<(material: TlsMaterial) => Effect.Effect<void, ServeError>>()

/** Registers a running server's reload; the returned function deregisters it. */
export const registerReload = (reload: (material: TlsMaterial) => Effect.Effect<void, ServeError>): () => void => {
  live.add(reload)
  return () => live.delete(reload)
}

/**
 * Reloads every TLS server running in this process with `material` (the
 * CLI's SIGHUP, spec.md §8.1 "TLS"): the number of servers reloaded; fails
 * on the first that refuses the material, which then keeps its certificate.
 */
export const reloadProcessTls = (material: TlsMaterial): Effect.Effect<number, ServeError> =>
  Effect.map(Effect.forEach([...live], (reload) => reload(material), { discard: true }), () => live.size)
