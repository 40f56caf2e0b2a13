/**
 * CLASSIC-7 at scale: a 300 MiB upload through `examples/legacy.ts`, served
 * by the real CLI in a child process, never sits in the server's memory:
 * the classic app hashes it with read(65536) and the server's RSS grows by
 * less than the body (256 MiB bound). What it does grow by is dead
 * ArrayBuffers that V8 collects late, in two isolates (the main thread's
 * and the worker's); it does not grow with the body's size (measured: about
 * 160 MiB for 200 MiB and for 400 MiB alike; the async runner alone, about
 * 70 MiB).
 */
import { createHash } from "node:crypto"
import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import { runCli } from "../support/cli.ts"
import { closeSession, collect, connect } from "../support/h2client.ts"

const MiB = 1024 * 1024

const rssOf = (pid: number): number => {
  const status = readFileSync(`/proc/${pid}/status`, "utf8")
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024
}

describe("a 200 MiB upload through the shim", () => {
  it("CLASSIC-7: the classic app reads all 300 MiB exactly; the server's RSS grows by less than the body", async () => {
    const cli = runCli(["serve", "examples/legacy.ts", "--port", "0", "--no-access-log"])
    try {
      const { url } = await cli.listening()
      const pid = cli.child.pid!
      const session = await connect(url)
      // Warm up: one small upload, so the baseline includes loaded workers and warm buffers.
      const warm = session.request({ ":method": "POST", ":path": "/upload" })
      const warmed = collect(warm)
      warm.end(Buffer.alloc(4 * MiB, 1))
      expect((await warmed).status).toBe(200)
      const baseline = rssOf(pid)

      const block = Buffer.alloc(MiB)
      for (let i = 0; i < block.length; i++) block[i] = (i * 31 + 7) & 0xff
      const blocks = 300
      const expected = createHash("sha256")
      for (let i = 0; i < blocks; i++) expected.update(block)

      let peak = baseline
      const sampler = setInterval(() => (peak = Math.max(peak, rssOf(pid))), 20)
      const stream = session.request({ ":method": "POST", ":path": "/upload" })
      const result = collect(stream)
      for (let i = 0; i < blocks; i++) {
        if (!stream.write(block)) await new Promise((r) => stream.once("drain", r))
      }
      stream.end()
      const r = await result
      clearInterval(sampler)
      peak = Math.max(peak, rssOf(pid))
      expect(r.status).toBe(200)
      expect(JSON.parse(r.body.toString())).toEqual({ bytes: blocks * MiB, sha256: expected.digest("hex") })
      expect(peak - baseline).toBeLessThan(256 * MiB)
      await closeSession(session)
    } finally {
      await cli.dispose()
    }
  }, 60_000)
})
