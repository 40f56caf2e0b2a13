/**
 * The classic interface (spec.md §10, modelled on PEP 3333): the types a
 * classic, blocking app is written against.
 *
 * @since 0.3.0
 */
import type { Input } from "./input.ts"
import type { ModuleRef } from "./wire.ts"

export type { ModuleRef } from "./wire.ts"

/**
 * A response header list: `[name, value]` pairs, names in any case (the
 * shim lower-cases them), values ByteStrings (spec.md §3.4).
 *
 * @since 0.3.0
 * @category classic
 */
export type ClassicHeaders = ReadonlyArray<readonly [string, string]>

/**
 * `write(data)`, as returned by `start_response`: sends `data` (bytes, or a
 * string sent as UTF-8) at once, before anything the app returns; blocks
 * while the client is behind (spec.md §10.5). Throws
 * `ClientDisconnectedError` when the client has gone away.
 *
 * @since 0.3.0
 * @category classic
 */
export type Write = (data: Uint8Array | string) => void

/**
 * `start_response(status, headers, excInfo?)`: `status` is `"NNN reason"`
 * (e.g. `"200 OK"`, no 1xx), `headers` a {@link ClassicHeaders}. A second
 * call needs `excInfo` (the error being handled): it replaces status and
 * headers if none went out yet, and rethrows `excInfo` if they did
 * (spec.md §10.5). Throws `ClassicUsageError` on misuse.
 *
 * @since 0.3.0
 * @category classic
 */
export type StartResponse = (status: string, headers: ClassicHeaders, excInfo?: unknown) => Write

/**
 * `egi.errors` (spec.md §10.2, PEP 3333 "Input and Error Streams"): text
 * written here goes to the server's standard error; `writelines` writes
 * each string as given (no newlines added); `flush` is a no-op kept for
 * PEP 3333 code.
 *
 * @since 0.3.0
 * @category classic
 */
export interface ErrorStream {
  write(text: string): void
  writelines(lines: Iterable<string>): void
  flush(): void
}

/**
 * A response body: any iterable of byte arrays or strings (strings go out
 * as UTF-8). If it has a `close()` method, the shim calls it once the
 * response is over, however it ended (spec.md §10.5).
 *
 * @since 0.3.0
 * @category classic
 */
export type ClassicBody = Iterable<Uint8Array | string> & { close?: () => void }

/**
 * `egi.upgrade(app, startResponse)`: the escape to the async API for this
 * request (spec.md §10.6). Calls `startResponse` with a tagged status and
 * header list and returns a tagged body; if the app returns all three to
 * the shim unaltered (a copy of the body, with the same bytes, counts as
 * the body), the shim runs the EGI app exported at `app` on the stream
 * instead. Anything else is sent as an ordinary response, without the tag's
 * `egi-upgrade` field, and logged.
 *
 * @since 0.3.0
 * @category classic
 */
export type Upgrade = (app: ModuleRef, startResponse: StartResponse) => ClassicBody

/**
 * `egi.file_wrapper(file, blockSize?)`: a body that reads a file (a path,
 * or a file descriptor the wrapper then owns) in `blockSize`-byte blocks
 * (default 65 536) and closes it in `close()`.
 *
 * @since 0.3.0
 * @category classic
 */
export type FileWrapper = (file: string | number, blockSize?: number) => ClassicBody

/**
 * The environ (spec.md §10.2, PEP 3333 "environ Variables"): the CGI keys
 * as strings (`HTTP_*` for the request's header fields, several fields of
 * one name joined with `, `, `cookie` with `; `), plus the `egi.*` keys: `egi.input` (the
 * blocking body, {@link Input}), `egi.errors`, `egi.file_wrapper`,
 * `egi.upgrade` (the escape, §10.6), `egi.correlator` (spec.md §3.2) and
 * the PEP 3333 flags.
 *
 * @since 0.3.0
 * @category classic
 */
export interface Environ {
  readonly REQUEST_METHOD: string
  readonly SCRIPT_NAME: string
  readonly PATH_INFO: string
  readonly QUERY_STRING: string
  readonly CONTENT_TYPE?: string
  /**
   * The number of bytes `egi.input` yields, in decimal; absent when that is
   * not known in advance (no declared length; a hand-off not told what the
   * async app consumed). After a hand-off, what is left (spec.md §10.6).
   */
  readonly CONTENT_LENGTH?: string
  readonly SERVER_NAME: string
  readonly SERVER_PORT: string
  readonly SERVER_PROTOCOL: string
  readonly REQUEST_URI: string
  readonly RAW_URI: string
  readonly REMOTE_ADDR?: string
  readonly REMOTE_PORT?: string
  /** The interface version, `"0.1"`: the same form as `scope.egi.version` (spec.md §3.5, §10.2). */
  readonly "egi.version": string
  /** The version of spec.md whose §10 the shim implements, e.g. `"0.4"` (as `scope.egi.specVersion`). */
  readonly "egi.spec_version": string
  readonly "egi.url_scheme": "http" | "https"
  readonly "egi.input": Input
  readonly "egi.input_terminated": true
  readonly "egi.errors": ErrorStream
  readonly "egi.multithread": boolean
  readonly "egi.multiprocess": boolean
  readonly "egi.run_once": boolean
  readonly "egi.correlator": { readonly connectionId: number; readonly streamId: number }
  readonly "egi.file_wrapper": FileWrapper
  readonly "egi.upgrade": Upgrade
  readonly [key: string]: unknown
}

/**
 * A classic app: called once per request, in a worker thread, with the
 * environ and `start_response`; returns the response body (spec.md §10.1).
 * It may block (on `egi.input`, on `write`, on anything of its own).
 *
 * @since 0.3.0
 * @category classic
 */
export type ClassicApp = (environ: Environ, startResponse: StartResponse) => ClassicBody
