/**
 * Where a server listens (spec.md §8.1): TCP addresses, Unix domain
 * sockets, and listening sockets a process manager hands over by file
 * descriptor (systemd socket activation).
 */
import * as Effect from "effect/Effect"
import { chmodSync, lstatSync, unlinkSync } from "node:fs"
import * as net from "node:net"
import { ServeError } from "./errors.ts"

/**
 * One place to listen:
 *
 * - `{ kind: "tcp", host, port }`: an interface and a TCP port (0: a free one);
 * - `{ kind: "unix", path, mode }`: a Unix domain socket at `path`, its file
 *   mode set to `mode` (e.g. `0o660`) when given; removed at shutdown;
 * - `{ kind: "fd", fd }`: an already listening socket inherited as file
 *   descriptor `fd` (systemd's `LISTEN_FDS` start at 3).
 *
 * @since 0.5.0
 * @category models
 */
export type ListenTarget =
  | { readonly kind: "tcp"; readonly host: string; readonly port: number }
  | { readonly kind: "unix"; readonly path: string; readonly mode?: number | undefined }
  | { readonly kind: "fd"; readonly fd: number }

/**
 * A `--bind` value as a target, or a message saying why it is none:
 * `host:port` (`[::1]:8000` for IPv6), `unix:PATH`, `fd://N`.
 *
 * @since 0.5.0
 * @category constructors
 */
export const parseBind = (text: string): ListenTarget | string => {
  if (text.startsWith("unix:")) {
    const path = text.slice(5)
    return path === "" ? `${JSON.stringify(text)}: unix: needs a path` : { kind: "unix", path }
  }
  if (text.startsWith("fd://")) {
    const fd = Number(text.slice(5))
    return Number.isInteger(fd) && fd >= 0 && text.length > 5 ? { kind: "fd", fd } : `${JSON.stringify(text)}: fd:// takes a descriptor number`
  }
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(text)
  const port = m === null ? NaN : Number(m[3])
  if (m === null || !(port >= 0 && port <= 65535)) return `${JSON.stringify(text)} is none of host:port, unix:PATH, fd://N`
  return { kind: "tcp", host: m[1] ?? m[2]!, port }
}

/** How a target is named in log lines and `Server.urls`: `http://127.0.0.1:8000`, `unix:/run/egi.sock`, `fd://3 (http://0.0.0.0:8000)`. */
export const targetUrl = (target: ListenTarget, listener: net.Server, scheme: "http" | "https"): string => {
  if (target.kind === "unix") return `unix:${target.path}`
  const address = listener.address()
  const tcp = typeof address === "object" && address !== null
    ? `${scheme}://${address.address.includes(":") ? `[${address.address}]` : address.address}:${address.port}`
    : undefined
  if (target.kind === "fd") return tcp === undefined ? `fd://${target.fd}` : `fd://${target.fd} (${tcp})`
  return tcp ?? `${scheme}://${target.host}:${target.port}`
}

/**
 * A Unix socket path left by a process that is gone (connecting to it is
 * refused) is removed so that the path can be bound again; one that
 * answers, or any other file, is left alone (the bind then fails with
 * EADDRINUSE).
 */
const removeStaleSocket = (path: string): Effect.Effect<void> =>
  Effect.callback<void>((resume) => {
    let isSocket = false
    try {
      isSocket = lstatSync(path).isSocket()
    } catch {
      return resume(Effect.void)
    }
    if (!isSocket) return resume(Effect.void)
    const probe = net.connect(path)
    probe.once("connect", () => {
      probe.destroy()
      resume(Effect.void)
    })
    probe.once("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "ECONNREFUSED") {
        try {
          unlinkSync(path)
        } catch {
          // Gone meanwhile: nothing to remove.
        }
      }
      resume(Effect.void)
    })
  })

/**
 * Makes `listener` listen on `target` with `backlog` pending connections.
 * Fails with `ServeError` `Listen` naming the target (address in use, no
 * such descriptor, permission denied).
 */
export const bindTarget = (listener: net.Server, target: ListenTarget, backlog: number): Effect.Effect<void, ServeError> =>
  Effect.gen(function*() {
    if (target.kind === "unix") yield* removeStaleSocket(target.path)
    yield* Effect.callback<void, ServeError>((resume) => {
      const onError = (err: Error) => resume(Effect.fail(new ServeError({ reason: "Listen", detail: `${describe(target)}: ${err.message}`, cause: err })))
      listener.once("error", onError)
      const options = target.kind === "tcp"
        ? { host: target.host, port: target.port, backlog }
        : target.kind === "unix"
        ? { path: target.path, backlog }
        : { fd: target.fd, backlog }
      listener.listen(options, () => {
        listener.off("error", onError)
        resume(Effect.void)
      })
    })
    if (target.kind === "unix" && target.mode !== undefined) {
      const mode = target.mode
      yield* Effect.try({
        try: () => chmodSync(target.path, mode),
        catch: (cause) => new ServeError({ reason: "Listen", detail: `${describe(target)}: cannot set mode ${mode.toString(8)}: ${String(cause)}`, cause })
      })
    }
  })

/** After the listener closed: a Unix socket's path is removed (node leaves it). */
export const releaseTarget = (target: ListenTarget): void => {
  if (target.kind !== "unix") return
  try {
    if (lstatSync(target.path).isSocket()) unlinkSync(target.path)
  } catch {
    // Already gone.
  }
}

/** A target as its `--bind` spelling. */
export const describe = (target: ListenTarget): string =>
  target.kind === "tcp" ? `${target.host}:${target.port}` : target.kind === "unix" ? `unix:${target.path}` : `fd://${target.fd}`
