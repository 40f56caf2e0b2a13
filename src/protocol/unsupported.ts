/**
 * The one-line answer to a scope an app does not handle (spec.md §3.3, rule CORE-4).
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import { UnsupportedScopeError } from "./errors.ts"

/**
 * An Effect that fails with `UnsupportedScopeError` (`scopeType:
 * scope.type`) and never succeeds (spec.md §3.3, rule CORE-4). An app
 * returns it for every scope type it does not serve, which is how a runner
 * learns that, say, lifespan is unsupported:
 *
 * ```ts
 * if (scope.type !== "http") return yield* unsupportedScope(scope)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const unsupportedScope = (scope: { readonly type: string }): Effect.Effect<never, UnsupportedScopeError> =>
  Effect.fail(new UnsupportedScopeError({ scopeType: scope.type }))
