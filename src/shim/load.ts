/**
 * Loading what a {@link ModuleRef} names, the same way on both threads:
 * the classic app in a worker, the async app of an escape on the main
 * thread (spec.md §10.1, §10.6).
 */
import { isAbsolute } from "node:path"
import { pathToFileURL } from "node:url"
import type { ModuleRef } from "./wire.ts"

/** `import()`-able form of a module specifier: absolute paths become `file:` URLs. */
export const moduleUrl = (module: string): string => (isAbsolute(module) ? pathToFileURL(module).href : module)

/**
 * Imports `ref.module` (node keeps each module once per thread) and returns
 * its export `ref.export`. Rejects with the import's error, or a
 * `TypeError` when the export is not a function.
 */
export const importFunction = async (ref: ModuleRef): Promise<(...args: Array<never>) => unknown> => {
  const mod = (await import(moduleUrl(ref.module))) as Record<string, unknown>
  const fn = mod[ref.export]
  if (typeof fn !== "function") throw new TypeError(`${ref.module} has no function export ${JSON.stringify(ref.export)}`)
  return fn as (...args: Array<never>) => unknown
}
