/**
 * Errors of starting and running a server (spec.md §8.5).
 *
 * @since 0.1.0
 */
import { Data } from "effect"

/**
 * The server could not start: an option is out of range (`Options`), the
 * address could not be bound (`Listen`), the TLS material could not be
 * loaded (`Tls`), or the app answered `lifespan.startup.failed`
 * (`StartupFailed`, spec.md §6.3).
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
