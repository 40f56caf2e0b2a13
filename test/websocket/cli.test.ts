/**
 * The WebSocket options of `egi serve` (spec.md §11.4), against the real
 * CLI in a child process.
 */
import { describe, expect, it } from "vitest"
import WebSocket from "ws"
import { runCli } from "../support/cli.ts"

const extensionsOf = (url: string): Promise<string> =>
  new Promise((resolve, reject) => {
    const ws = new WebSocket(url.replace("http://", "ws://") + "/")
    ws.once("open", () => {
      resolve(ws.extensions)
      ws.close()
    })
    ws.once("error", reject)
  })

describe("egi serve WebSocket options", () => {
  it("WS-19: permessage-deflate is not negotiated by default, only with --ws-deflate (or EGI_WS_DEFLATE=true); --no-ws-deflate keeps it off", async () => {
    const cases: ReadonlyArray<readonly [ReadonlyArray<string>, Record<string, string>, string]> = [
      [[], {}, ""],
      [["--ws-deflate"], {}, "permessage-deflate"],
      [[], { EGI_WS_DEFLATE: "true" }, "permessage-deflate"],
      [["--no-ws-deflate"], {}, ""]
    ]
    for (const [args, env, expected] of cases) {
      const cli = runCli(["serve", "examples/ws-echo.ts", "--port", "0", ...args], { env })
      try {
        const { url } = await cli.listening()
        const extensions = await extensionsOf(url)
        if (expected === "") expect(extensions).toBe("")
        else expect(extensions).toContain(expected)
      } finally {
        await cli.dispose()
      }
    }
  })

  it("--help gives --ws-deflate's memory cost and --ws-max-queued-bytes's default", async () => {
    const cli = runCli(["--help"])
    expect((await cli.exit).code).toBe(0)
    const help = cli.stdout().replace(/\s+/g, " ")
    expect(help).toMatch(/--ws-deflate .*KiB of memory per such socket/)
    expect(help).toMatch(/--ws-max-queued-bytes <bytes> .*default 1048576; EGI_WS_MAX_QUEUED_BYTES/)
  })

  it("rejects a WebSocket option out of range (exit 2)", async () => {
    const cli = runCli(["serve", "examples/ws-echo.ts", "--ws-ping-interval", "-1"])
    expect((await cli.exit).code).toBe(2)
    expect(cli.stderr()).toContain("--ws-ping-interval")
  })
})
