/**
 * Test support: the tables of spec.md read from the document itself — the
 * state tables (§4.7 tables 1 and 2, §6.5 table 3, §11.5 table 4) and what
 * the Node runner lists per protocol (§7) — as the oracle that the
 * validator and the runner are both held to.
 */
import { readFileSync } from "node:fs"

const spec = readFileSync(new URL("../../spec.md", import.meta.url), "utf8")

/** A markdown table row's cells, trimmed (`\|` inside a cell is not a separator). */
const cells = (line: string): Array<string> =>
  line.trim().replace(/^\|/, "").replace(/\|$/, "").split(/(?<!\\)\|/).map((c) => c.trim())

/** The first markdown table after the first line of spec.md that starts with `heading`. */
export const tableAfter = (heading: string): { readonly head: Array<string>; readonly rows: Array<Array<string>> } => {
  const lines = spec.split("\n")
  let i = lines.findIndex((l) => l.startsWith(heading))
  if (i < 0) throw new Error(`spec.md has no line starting with ${heading}`)
  while (i < lines.length && !lines[i]!.startsWith("|")) i++
  const table: Array<string> = []
  while (i < lines.length && lines[i]!.startsWith("|")) table.push(lines[i++]!)
  return { head: cells(table[0]!), rows: table.slice(2).map(cells) }
}

/** What a state table says about one (state, input) pair: the next state, or the rule it breaks (`undefined` for an empty cell). */
export type Cell = { readonly next: string } | { readonly rule: string | undefined }

const cell = (text: string): Cell => {
  const next = /`([a-z]+)`/.exec(text)
  if (text.startsWith("→") || (next !== null && next.index === 0)) return { next: next![1]! }
  return { rule: /\b([A-Z]+-\d+)\b/.exec(text)?.[1] }
}

/**
 * A state table as `state → input → cell`. `input` names the columns
 * (header cells with backticks removed, passed through `rename`).
 */
export const stateTable = (heading: string, rename: (column: string) => string = (c) => c): Map<string, Map<string, Cell>> => {
  const { head, rows } = tableAfter(heading)
  const inputs = head.slice(1).map((h) => rename(h.replace(/`/g, "")))
  return new Map(rows.map((row) => [row[0]!.replace(/`/g, ""), new Map(inputs.map((input, i) => [input, cell(row[i + 1] ?? "")]))]))
}

/** spec.md §4.7 table 1: what the app sends on an `http` stream. */
export const table1 = (): Map<string, Map<string, Cell>> => stateTable("**Table 1")

/** spec.md §4.7 table 2: what `receive` yields on an `http` stream. */
export const table2 = (): Map<string, Map<string, Cell>> => stateTable("**Table 2")

/** spec.md §6.5 table 3: lifespan replies; inputs are full event types (`lifespan.startup.complete`). */
export const table3 = (): Map<string, Map<string, Cell>> => stateTable("### 6.5 Table 3", (c) => `lifespan.${c}`)

/** spec.md §11.5 table 4: what the app sends on a `websocket` scope; inputs as `State.WebSocketInput`. */
export const table4 = (): Map<string, Map<string, Cell>> =>
  stateTable("### 11.5 Table 4", (c) =>
    c === "http.response.body (more)"
      ? "websocket.http.response.body"
      : c === "http.response.body (last)"
      ? "websocket.http.response.body.last"
      : `websocket.${c}`)

/** spec.md §7: the extension names the Node runner lists for an `http` scope of `httpVersion`. */
export const listedExtensions = (httpVersion: "2" | "1.1" | "1.0"): Array<string> => {
  const { head, rows } = tableAfter("Where each extension can be listed, by protocol")
  const column = head.indexOf(httpVersion === "2" ? "HTTP/2" : `HTTP/${httpVersion}`)
  if (column < 0) throw new Error(`no column for HTTP/${httpVersion}`)
  return rows
    .filter((row) => row[column]!.startsWith("yes"))
    .flatMap((row) => [...row[0]!.matchAll(/`([^`]+)`/g)].map((m) => m[1]!))
    .sort()
}
