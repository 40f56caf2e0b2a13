/**
 * Header fields between effect's HTTP modules and EGI (spec.md §3.4, §12.1):
 * effect speaks `Headers.Input` (a record, values possibly arrays, or an
 * iterable of pairs) and `Headers.Headers` (a record, one string per name);
 * EGI speaks ordered `[name, value]` lists with duplicates kept.
 *
 * @since 0.5.0
 */
import * as Headers from "effect/http/Headers"
import type { Headers as EgiHeaders } from "../../protocol/headers.ts"

/**
 * EGI fields from effect's `Headers.Input`: names lower-cased, a record's
 * array value as one field per element (in order), `undefined` values
 * dropped, an iterable's pairs kept in order with their duplicates. Values
 * are passed on unchecked: `send` checks them (rules HTTP-5, HTTP-6).
 *
 * @since 0.5.0
 * @category conversions
 */
export const fieldsFromInput = (input: Headers.Input | undefined): Array<readonly [string, string]> => {
  const out: Array<readonly [string, string]> = []
  if (input === undefined) return out
  if (Symbol.iterator in input) {
    for (const [name, value] of input as Iterable<readonly [string, string]>) out.push([name.toLowerCase(), value])
    return out
  }
  for (const [name, value] of Object.entries(input)) {
    if (value === undefined) continue
    const lower = name.toLowerCase()
    if (typeof value === "string") out.push([lower, value])
    else for (const v of value) out.push([lower, v])
  }
  return out
}

/**
 * effect's `Headers.Headers` from EGI fields: a repeated name's values
 * joined with `", "` (RFC 9110 §5.3), as a record can hold one value per
 * name.
 *
 * @since 0.5.0
 * @category conversions
 */
export const headersFromFields = (fields: EgiHeaders): Headers.Headers => {
  const record: Record<string, string> = Object.create(null)
  for (const [name, value] of fields) {
    const prior = record[name]
    record[name] = prior === undefined ? value : `${prior}, ${value}`
  }
  return Headers.fromRecordUnsafe(record)
}
