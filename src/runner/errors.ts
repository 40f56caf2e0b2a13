/**
 * Errors of starting and running a server (spec.md §8.9).
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"

/**
 * The server could not start (spec.md §8.9): an option is out of range
 * (`Options`), the address could not be bound (`Listen`: EADDRINUSE,
 * EACCES…), the TLS material could not be loaded (`Tls`), or the app
 * answered `lifespan.startup.failed` (`StartupFailed`, spec.md §6.3, its
 * `message` as `detail`). `cause` is the underlying error when there is
 * one. The CLI prints its message as one `egi:` line and exits 1 (the
 * CLI checks its flags itself first: a bad flag exits 2 before any
 * server starts).
 *
 * @since 0.1.0
 * @category errors
 */
export class ServeError extends Data.TaggedError("ServeError")<{
  readonly reason: "Options" | "Listen" | "Tls" | "StartupFailed"
  readonly detail: string
  readonly cause?: unknown
}> {
  override get message(): string {
    return `${this.reason}: ${this.detail}`
  }
}
