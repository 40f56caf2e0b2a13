/**
 * `npm run spec:coverage`: prints each rule of spec.md with the tests that
 * name it, and the coverage; exits 1 below 100 % (or when a MUST has no
 * rule ID), 0 otherwise.
 */
import { readFileSync } from "node:fs"
import { definedRules, namingTests, unnumberedMusts } from "../test/support/coverage.ts"

const root = new URL("..", import.meta.url).pathname
const spec = readFileSync(`${root}spec.md`, "utf8")
const rules = definedRules(spec)
const named = namingTests(root, ["test", "examples"])
let covered = 0
for (const rule of rules) {
  const tests = named.get(rule) ?? []
  if (tests.length > 0) covered++
  process.stdout.write(`${rule.padEnd(11)} ${tests.length === 0 ? "NOT TESTED" : `${tests.length} test(s)`}\n`)
  for (const t of tests) process.stdout.write(`            ${t}\n`)
}
const musts = unnumberedMusts(spec)
for (const line of musts) process.stdout.write(`MUST without a rule ID: ${line}\n`)
const percent = rules.length === 0 ? 0 : (100 * covered) / rules.length
process.stdout.write(`\n${covered}/${rules.length} rules named by a test (${percent.toFixed(1)} %)\n`)
process.exitCode = covered === rules.length && musts.length === 0 ? 0 : 1
