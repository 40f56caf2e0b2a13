/**
 * Repository tooling, not part of the package: rule coverage (spec.md
 * Appendix A), which tests name which rule. Every MUST in spec.md carries a
 * rule ID (`- **HTTP-7** …`); a test names the rules it exercises at the
 * start of its title (`it("HTTP-7 HTTP-8: …")`). Used by
 * `scripts/spec-coverage.ts` (`npm run spec:coverage`) and
 * `test/spec-coverage.test.ts`; it reads the repository's files with
 * node:fs, which is why it lives here and not in `egi/testing`.
 */
import { readdirSync, readFileSync, statSync } from "node:fs"
import { join, relative } from "node:path"

/**
 * The rule IDs spec.md defines, in order of definition.
 */
export const definedRules = (spec: string): Array<string> => [...spec.matchAll(/^- \*\*([A-Z]+-\d+)\*\*/gm)].map((m) => m[1]!)

/**
 * Lines of spec.md with a MUST in a rule list item that carries no rule ID.
 */
export const unnumberedMusts = (spec: string): Array<string> =>
  spec.split("\n").filter((l) => /\bMUST\b/.test(l) && l.startsWith("- **") && !/^- \*\*[A-Z]+-\d+\*\*/.test(l))

/** `*.test.ts` files under `dir`, recursively. */
const testFiles = (dir: string): Array<string> =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return testFiles(path)
    return name.endsWith(".test.ts") ? [path] : []
  })

/**
 * For each rule ID named in a test title under `dirs`, the tests that name
 * it (`file › title`, file relative to `root`).
 */
export const namingTests = (root: string, dirs: ReadonlyArray<string>): Map<string, Array<string>> => {
  const named = new Map<string, Array<string>>()
  for (const file of dirs.flatMap((d) => testFiles(join(root, d)))) {
    for (const m of readFileSync(file, "utf8").matchAll(/\b(?:it|test)(?:\.\w+)*\(\s*["'`]([^"'`]*)/g)) {
      const title = m[1]!
      for (const id of title.matchAll(/\b([A-Z]+-\d+)\b/g)) {
        const list = named.get(id[1]!) ?? []
        list.push(`${relative(root, file)} › ${title}`)
        named.set(id[1]!, list)
      }
    }
  }
  return named
}
