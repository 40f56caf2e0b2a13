/**
 * Every MUST in spec.md has a rule ID, and every rule ID is named by at
 * least one test title (`it("HTTP-7: …")`).
 */
import { readdirSync, readFileSync, statSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"

const root = new URL("..", import.meta.url).pathname

const testFiles = (dir: string): Array<string> =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return testFiles(path)
    return name.endsWith(".test.ts") ? [path] : []
  })

const spec = readFileSync(join(root, "spec.md"), "utf8")
/** Rule IDs defined in the spec: `- **HTTP-7** …`. */
const defined = [...spec.matchAll(/^- \*\*([A-Z]+-\d+)\*\*/gm)].map((m) => m[1]!)

/** Rule IDs at the start of a test title: it("HTTP-7 HTTP-8: …"). */
const named = new Set<string>()
for (const file of [...testFiles(join(root, "test")), ...testFiles(join(root, "examples"))]) {
  for (const m of readFileSync(file, "utf8").matchAll(/\b(?:it|test)(?:\.\w+)*\(\s*["'`]([^"'`]*)/g)) {
    for (const id of m[1]!.matchAll(/\b([A-Z]+-\d+)\b/g)) named.add(id[1]!)
  }
}

describe("spec coverage", () => {
  it("spec.md defines its rules once each, and every MUST line carries a rule ID", () => {
    expect(defined.length).toBeGreaterThan(20)
    expect(new Set(defined).size).toBe(defined.length)
    const mustLines = spec.split("\n").filter((l) => /\bMUST\b/.test(l) && l.startsWith("- **") && !/^- \*\*[A-Z]+-\d+\*\*/.test(l))
    expect(mustLines).toEqual([])
  })

  it("every rule ID in spec.md is named by a test title", () => {
    const missing = defined.filter((id) => !named.has(id))
    expect(missing).toEqual([])
  })

  it("every rule ID a test names exists in spec.md", () => {
    const unknown = [...named].filter((id) => !defined.includes(id) && /^(CORE|HTTP|RUN|LIFE)-/.test(id))
    expect(unknown).toEqual([])
  })
})
