/**
 * examples/chat.ts: one room for WebSockets over HTTP/1.1 (the `ws` client)
 * and HTTP/2 (undici over h2c) at once (spec.md §11.6).
 */
import { Agent, WebSocket as H2WebSocket } from "undici"
import { afterAll, describe, expect, it } from "vitest"
import WebSocket from "ws"
import chat, { layer } from "../../examples/chat.ts"
import { runCli } from "../support/cli.ts"
import { until } from "../support/clients.ts"
import { useServer } from "../support/server.ts"

const server = useServer(chat, {}, layer)
const dispatcher = new Agent({ allowH2: true, useH2c: true } as ConstructorParameters<typeof Agent>[0])
afterAll(() => dispatcher.close())

describe("examples/chat.ts", () => {
  it("WS-9: a message from an HTTP/1.1 client reaches an HTTP/2 client and back", async () => {
    const url = server().url.replace("http://", "ws://") + "/"
    const fromH1: Array<string> = []
    const fromH2: Array<string> = []
    const h2 = new H2WebSocket(url, { dispatcher } as unknown as ConstructorParameters<typeof H2WebSocket>[1])
    h2.onmessage = (e) => fromH2.push(String(e.data))
    await new Promise((resolve) => (h2.onopen = resolve))
    const h1 = new WebSocket(url)
    h1.on("message", (d: Buffer) => fromH1.push(d.toString()))
    await new Promise((resolve) => h1.once("open", resolve))
    await until(() => fromH2.some((m) => m.includes("2 here")), "the HTTP/2 member saw the join")
    h1.send("hello from h1")
    await until(() => fromH2.includes("hello from h1"), "the HTTP/2 member got the HTTP/1.1 message")
    h2.send("hello from h2")
    await until(() => fromH1.includes("hello from h2"), "the HTTP/1.1 member got the HTTP/2 message")
    const size = await fetch(server().url + "/").then((r) => r.text())
    expect(size).toBe("2 in the room\n")
    h1.close()
    await until(() => fromH2.some((m) => m.includes("someone left (1 here)")), "the leave was announced")
    h2.close()
  })

  it("the room's Layer comes from the module's layer export: egi serve builds it once, and its finalizer runs at shutdown, after the drain, not before", async () => {
    const cli = runCli(["serve", "examples/chat.ts", "--port", "0", "--no-access-log"])
    try {
      const { url } = await cli.listening()
      const ws = new WebSocket(url.replace("http://", "ws://") + "/")
      const seen: Array<string> = []
      ws.on("message", (d: Buffer) => seen.push(d.toString()))
      await new Promise((resolve) => ws.once("open", resolve))
      // One room for every stream: the HTTP request sees the WebSocket member.
      expect(await fetch(url + "/").then((r) => r.text())).toBe("1 in the room\n")
      const output = () => cli.stdout() + cli.stderr()
      expect(output()).not.toContain("chat room closed")
      const closed = new Promise((resolve) => ws.once("close", resolve))
      cli.signal("SIGTERM")
      expect((await cli.exit).code).toBe(0)
      await closed
      // The runner drained (its log, stderr), then the room closed (Effect's logger, stdout).
      expect(cli.stderr()).toContain("shutdown complete")
      expect(cli.stdout()).toContain("chat room closed (0 still here)")
    } finally {
      await cli.dispose()
    }
  })
})
