/**
 * The HTTP/2 limits and the write buffer as `egi serve` flags and `EGI_*`
 * variables (spec.md §8.3, §8.5, RUN-29): documented in `--help` with their
 * defaults, applied to what the server advertises, and refused out of range
 * with exit code 2 and one `egi:` line.
 */
import { describe, expect, it } from "vitest"
import { refused, useClis } from "../support/cli.ts"
import { rawH2 } from "../support/h2raw.ts"

const cli = useClis()


const FLAGS = [
  ["--h2-stream-reset-burst", "1000", "EGI_H2_STREAM_RESET_BURST"],
  ["--h2-stream-reset-rate", "33", "EGI_H2_STREAM_RESET_RATE"],
  ["--h2-max-session-memory", "10", "EGI_H2_MAX_SESSION_MEMORY"],
  ["--h2-max-header-list-pairs", "128", "EGI_H2_MAX_HEADER_LIST_PAIRS"],
  ["--h2-max-invalid-frames", "1000", "EGI_H2_MAX_INVALID_FRAMES"],
  ["--h2-max-rejected-streams", "100", "EGI_H2_MAX_REJECTED_STREAMS"],
  ["--h2-initial-window-size", "65535", "EGI_H2_INITIAL_WINDOW_SIZE"],
  ["--h2-max-frame-size", "16384", "EGI_H2_MAX_FRAME_SIZE"],
  ["--h2-header-table-size", "4096", "EGI_H2_HEADER_TABLE_SIZE"],
  ["--write-buffer-size", "262144", "EGI_WRITE_BUFFER_SIZE"]
] as const


describe("RUN-29: the HTTP/2 limits and the write buffer from flags and EGI_* variables", () => {
  it("RUN-29: --help documents each HTTP/2 limit and --write-buffer-size with its default and its variable", async () => {
    const c = cli(["--help"])
    expect((await c.exit).code).toBe(0)
    const help = c.stdout().replace(/\s+/g, " ")
    for (const [flag, fallback, variable] of FLAGS) {
      expect(help, flag).toMatch(new RegExp(`${flag} <[^>]+> (?:(?! --).)*?\\(default ${fallback}; ${variable}\\)`))
    }
  })

  it("RUN-29: --h2-max-frame-size 32768, --h2-header-table-size 256 and EGI_H2_INITIAL_WINDOW_SIZE=1000 are what the server's SETTINGS say", async () => {
    const c = cli(["serve", "examples/hello.ts", "--port", "0", "--h2-max-frame-size", "32768", "--h2-header-table-size", "256"], {
      EGI_H2_INITIAL_WINDOW_SIZE: "1000"
    })
    const { port } = await c.listening(20_000)
    const h2 = await rawH2(port)
    try {
      expect([4, 5, 1].map((id) => h2.settings.get(id))).toEqual([1000, 32768, 256])
    } finally {
      h2.destroy()
    }
  })

  it("RUN-29: out of range, from the command line or the variable, exits 2 with one egi: line: --h2-max-frame-size 16383, --h2-max-header-list-pairs 3, EGI_H2_STREAM_RESET_RATE=0, EGI_WRITE_BUFFER_SIZE=-1", async () => {
    await Promise.all([
      refused(cli(["serve", "examples/hello.ts", "--port", "0", "--h2-max-frame-size", "16383"]), /--h2-max-frame-size takes an integer from 16384 to 16777215/),
      refused(cli(["serve", "examples/hello.ts", "--port", "0", "--h2-max-header-list-pairs", "3"]), /--h2-max-header-list-pairs takes an integer from 4 /),
      refused(cli(["serve", "examples/hello.ts", "--port", "0"], { EGI_H2_STREAM_RESET_RATE: "0" }), /EGI_H2_STREAM_RESET_RATE takes an integer from 1 /),
      refused(cli(["serve", "examples/hello.ts", "--port", "0"], { EGI_WRITE_BUFFER_SIZE: "-1" }), /EGI_WRITE_BUFFER_SIZE takes an integer from 0 /)
    ])
  })
})
