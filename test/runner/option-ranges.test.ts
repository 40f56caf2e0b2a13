/**
 * RUN-39: each numeric runner option has one range, and `start`
 * (checkOptionRanges), `optionsConfig` and the CLI's flag take exactly it:
 * both ends accepted, one past either end refused, a fraction refused. Its
 * `EGI_*` variable means the same to `optionsConfig` and to the CLI: a time
 * in seconds for both (`optionsConfig` took ms before, so
 * `EGI_DRAIN_TIMEOUT=10` was 10 s for `egi serve` and 10 ms there).
 * Before the table, backlog took 0–65535 on the command line and up to
 * 2^31−1 through `start` and the Config; wsMaxMessageSize 2^31−1 on the
 * command line and any safe integer through the Config.
 */
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { describe, expect, it } from "vitest"
import { serveOptions } from "../../src/cli/flags.ts"
import { optionsConfig } from "../../src/runner/config.ts"
import { checkOptionRanges, isTime, type NumericOption, optionRanges } from "../../src/runner/option-ranges.ts"
import { defaults } from "../../src/runner/options.ts"

const options = Object.keys(optionRanges) as Array<NumericOption>

/** `maxBodySize` → `EGI_MAX_BODY_SIZE`. */
const keyOf = (option: string): string => `EGI_${option.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`

/** The values at and just past each end of `option`'s range. */
const edges = (option: NumericOption) => {
  const { max, min } = optionRanges[option]
  return { inside: [min, max], outside: [min - 1, max + 1, min + 0.5] }
}

/** `n` as the flag and the variable write it: seconds for a time (500 → "0.5"). */
const text = (option: NumericOption, n: number): string => isTime(option) ? String(n / 1000) : String(n)

const parseConfig = (env: Record<string, string>) => Effect.runPromise(Effect.exit(optionsConfig.parse(ConfigProvider.fromEnv({ env }))))

describe("RUN-39: one range per numeric option", () => {
  it("RUN-39: covers every numeric option of RunnerOptions", () => {
    const numeric = Object.entries(defaults).filter(([, v]) => typeof v === "number").map(([k]) => k).sort()
    expect([...options].sort()).toEqual(numeric)
  })

  it.each(options)("RUN-39: %s: start takes the range's ends and refuses one past either, and a fraction", (option) => {
    const { inside, outside } = edges(option)
    for (const n of inside) expect(checkOptionRanges({ ...defaults, [option]: n }), `${option} = ${n}`).toBeUndefined()
    for (const n of outside) expect(checkOptionRanges({ ...defaults, [option]: n }), `${option} = ${n}`).toMatch(new RegExp(`^${option} must be an integer from`))
  })

  it.each(options)("RUN-39: %s: optionsConfig reads the same range from its EGI_ key, in the same units as the CLI's variable (times in seconds)", async (option) => {
    const { inside, outside } = edges(option)
    for (const n of inside) {
      const exit = await parseConfig({ [keyOf(option)]: text(option, n) })
      expect(exit, `${keyOf(option)}=${text(option, n)}`).toEqual(Exit.succeed({ [option]: n }))
    }
    for (const n of outside) {
      const exit = await parseConfig({ [keyOf(option)]: text(option, n) })
      expect(Exit.isFailure(exit), `${keyOf(option)}=${text(option, n)} was accepted`).toBe(true)
    }
  })

  it.each(options)("RUN-39: %s: the CLI's flag takes the same range (times in seconds)", (option) => {
    const spec = Object.entries(serveOptions).find(([key]) => key === option)?.[1] as { readonly name: string; readonly parse?: (text: string, source: string) => unknown } | undefined
    expect(spec?.parse, `no flag for ${option}`).toBeDefined()
    const { inside, outside } = edges(option)
    for (const n of inside) expect(spec!.parse!(text(option, n), `--${spec!.name}`), `--${spec!.name} ${text(option, n)}`).toBe(n)
    for (const n of outside) {
      // A time one millisecond past either end, or half a millisecond in.
      expect(spec!.parse!(text(option, n), `--${spec!.name}`), `--${spec!.name} ${text(option, n)}`).toHaveProperty("refused")
    }
  })
})
