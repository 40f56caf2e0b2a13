/**
 * Instructions per function from a callgrind run of node, for
 * bench/in-process.ts --by-function: callgrind names the functions of node
 * and V8's builtins itself, and the functions V8 compiled at run time are
 * looked up in the symbol map node writes with `--perf-basic-prof`
 * (`/tmp/perf-<pid>.map`: start, size and name of each compiled function).
 * Costs are a function's own (exclusive), in instructions.
 */
import { readFileSync } from "node:fs"

/** One symbol map: compiled functions' start addresses, sorted, with their ends and names. */
interface SymbolMap {
  readonly starts: Array<number>
  readonly ends: Array<number>
  readonly names: Array<string>
}

const readSymbolMap = (path: string): SymbolMap => {
  const rows = readFileSync(path, "utf8").split("\n").flatMap((line) => {
    const m = /^([0-9a-f]+) ([0-9a-f]+) (.*)$/.exec(line)
    return m === null ? [] : [{ start: parseInt(m[1]!, 16), size: parseInt(m[2]!, 16), name: m[3]! }]
  })
  rows.sort((a, b) => a.start - b.start)
  return { starts: rows.map((r) => r.start), ends: rows.map((r) => r.start + r.size), names: rows.map((r) => r.name) }
}

/** The compiled function at `address`, if the map has one. */
const lookup = (map: SymbolMap, address: number): string | undefined => {
  let lo = 0
  let hi = map.starts.length - 1
  let found = -1
  while (lo <= hi) {
    const mid = (lo + hi) >> 1
    if (map.starts[mid]! <= address) {
      found = mid
      lo = mid + 1
    } else hi = mid - 1
  }
  return found >= 0 && address < map.ends[found]! ? map.names[found] : undefined
}

/** A map entry's name without its prefix and this checkout's path. */
const shortName = (name: string, root: string): string => name.replace(/^(JS|LazyCompile|Function):/, "").replaceAll(`file://${root}/`, "").replaceAll(`${root}/`, "")

/**
 * Each function's own instructions in `callgrindOut`, written with
 * `--dump-instr=yes --compress-pos=no --compress-strings=no`; compiled
 * JavaScript named from `symbolMap`, paths shown from `root`.
 */
export const functionCounts = (callgrindOut: string, symbolMap: string, root: string): Map<string, number> => {
  const map = readSymbolMap(symbolMap)
  const counts = new Map<string, number>()
  let fn = ""
  let object = ""
  let callCost = false
  for (const line of readFileSync(callgrindOut, "utf8").split("\n")) {
    if (line.startsWith("fn=")) fn = line.slice(3)
    else if (line.startsWith("ob=")) object = line.slice(3)
    else if (line.startsWith("calls=")) callCost = true
    else if (line.startsWith("0x")) {
      // The line after `calls=` is the callee's inclusive cost, not this function's own.
      if (callCost) {
        callCost = false
        continue
      }
      const [address, , cost] = line.split(" ")
      const unnamed = object === "???" || /^0x[0-9a-f]+$/.test(fn)
      const name = unnamed ? shortName(lookup(map, parseInt(address!, 16)) ?? "(compiled code not in the map)", root) : fn
      counts.set(name, (counts.get(name) ?? 0) + Number(cost))
    }
  }
  return counts
}

/** Per item: (`many` − `few`) / `items` for every function, largest first. */
export const perItem = (few: Map<string, number>, many: Map<string, number>, items: number): Array<readonly [string, number]> =>
  [...new Set([...few.keys(), ...many.keys()])]
    .map((name) => [name, ((many.get(name) ?? 0) - (few.get(name) ?? 0)) / items] as const)
    .sort((a, b) => b[1] - a[1])
