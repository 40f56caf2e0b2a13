/**
 * fast-check, loaded for the arbitraries of `egi/testing`. It is an
 * optional peer dependency of the package: `egi` itself never needs it, and
 * `egi/testing` without it fails at import with `MissingPeerDependencyError`
 * saying what to install, instead of node's bare ERR_MODULE_NOT_FOUND.
 *
 * @since 0.4.0
 */
import * as Data from "effect/Data"
import type * as FastCheck from "fast-check"

/**
 * A peer dependency `egi/testing` needs is not installed: `name` is the
 * package, `install` the command that adds it.
 *
 * @since 0.4.0
 * @category errors
 */
export class MissingPeerDependencyError extends Data.TaggedError("MissingPeerDependencyError")<{
  readonly name: string
  readonly install: string
  readonly cause?: unknown
}> {
  override get message(): string {
    return `egi/testing needs ${this.name}, an optional peer dependency of egi: ${this.install}`
  }
}

/** The fast-check module (its namespace, as `import * as fc from "fast-check"`). */
export const fc: typeof FastCheck = await import("fast-check").then(
  (m) => m as typeof FastCheck,
  (cause: unknown) => {
    throw new MissingPeerDependencyError({ name: "fast-check", install: "npm install --save-dev fast-check", cause })
  }
)
