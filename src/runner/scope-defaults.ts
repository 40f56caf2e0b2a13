/**
 * What every `http` scope of a server shares: the frozen `egi` and
 * `extensions` values, the lifespan state to copy, and whether the server
 * is draining.
 */
import { EGI_VERSION, type EgiInfo, type Extensions } from "../protocol/scope.ts"

/** `scope.egi` of EGI 0.1, shared by every scope. */
export const egiInfo: EgiInfo = Object.freeze({ version: EGI_VERSION })

/** `scope.extensions` when the runner offers none (EGI 0.1). */
export const noExtensions: Extensions = Object.freeze({})

/** Per-server values the protocol servers read for every request. */
export interface ScopeDefaults {
  /** A fresh shallow copy of the lifespan state (spec.md §6.4). */
  readonly state: () => Record<string, unknown>
  /** True once graceful shutdown began. */
  readonly draining: () => boolean
}
