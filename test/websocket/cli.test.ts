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
  it("--no-ws-deflate: permessage-deflate is offered by default and not with the flag", async () => {
    for (const [args, expected] of [[[], "permessage-deflate"], [["--no-ws-deflate"], ""]] as const) {
      const cli = runCli(["serve", "examples/ws-echo.ts", "--port", "0", ...args])
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

  it("rejects a WebSocket option out of range (exit 2)", async () => {
    const cli = runCli(["serve", "examples/ws-echo.ts", "--ws-ping-interval", "-1"])
    expect((await cli.exit).code).toBe(2)
    expect(cli.stderr()).toContain("--ws-ping-interval")
  })
})
