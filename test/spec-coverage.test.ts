/**
 * Every MUST in spec.md has a rule ID, and every rule ID is named by at
 * least one test title (`it("HTTP-7: …")`); the same check as
 * `npm run spec:coverage`.
 */
import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import { definedRules, namingTests, unnumberedMusts } from "./support/coverage.ts"

const root = new URL("..", import.meta.url).pathname
const spec = readFileSync(`${root}spec.md`, "utf8")
const defined = definedRules(spec)
const named = namingTests(root, ["test", "examples"])

describe("spec coverage", () => {
  it("spec.md defines its rules once each, and every MUST line carries a rule ID", () => {
    expect(defined.length).toBeGreaterThan(20)
    expect(new Set(defined).size).toBe(defined.length)
    expect(unnumberedMusts(spec)).toEqual([])
  })

  it("every rule ID in spec.md is named by a test title", () => {
    expect(defined.filter((id) => !named.has(id))).toEqual([])
  })

  it("every rule ID a test names exists in spec.md", () => {
    const unknown = [...named.keys()].filter((id) => !defined.includes(id) && /^(CORE|HTTP|RUN|LIFE|CLASSIC|WS|HTTPAPP|FETCH|TLS)-/.test(id))
    expect(unknown).toEqual([])
  })
})
