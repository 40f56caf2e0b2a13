/**
 * The one-line answer to a scope an app does not handle (spec.md §3.3, rule CORE-4).
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { UnsupportedScopeError } from "./errors.ts"

/**
 * Fails with `UnsupportedScopeError` for `scope.type`. An app returns this for
 * every scope type it does not serve: `return yield* unsupportedScope(scope)`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const unsupportedScope = (scope: { readonly type: string }): Effect.Effect<never, UnsupportedScopeError> =>
  Effect.fail(new UnsupportedScopeError({ scopeType: scope.type }))
