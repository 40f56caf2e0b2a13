/**
 * FETCH-1 at scale: a 256 MiB upload through `fromFetch` — examples/hono.ts's
 * `POST /echo`, whose response body is the request's own stream — served by
 * the real CLI in a child process, streams through: the client gets every
 * byte back and the warmed-up server's RSS stays flat (grows < 64 MiB).
 * The growth is printed for the record.
 */
import { createHash } from "node:crypto"
import { patternBlock, rssPeakDuring } from "../../support/async.ts"
import { describe, expect, it } from "vitest"
import { runCli } from "../../support/cli.ts"
import { closeSession, connect, writeChunks } from "../../support/h2client.ts"

const MiB = 1024 * 1024


describe("a 256 MiB upload through fromFetch", () => {
  it("FETCH-1: the Hono echo streams 256 MiB back exactly; the warmed-up server's RSS grows by less than 64 MiB", async () => {
    const cli = runCli(["serve", "examples/hono.ts", "--port", "0", "--no-access-log"])
    try {
      const { url } = await cli.listening()
      const pid = cli.child.pid!
      const session = await connect(url)
      const block = patternBlock(MiB)
      const upload = (blocks: number) =>
        new Promise<{ status: number; bytes: number; sha256: string }>((resolve, reject) => {
          const stream = session.request({ ":method": "POST", ":path": "/echo" })
          const hash = createHash("sha256")
          let bytes = 0
          let status = 0
          stream.on("response", (h) => (status = Number(h[":status"])))
          stream.on("data", (c: Buffer) => {
            bytes += c.length
            hash.update(c)
          })
          stream.on("end", () => resolve({ status, bytes, sha256: hash.digest("hex") }))
          stream.on("error", reject)
          void writeChunks(stream, Array<Buffer>(blocks).fill(block))
        })
      expect((await upload(64)).status).toBe(200)
      const blocks = 256
      const expected = createHash("sha256")
      for (let i = 0; i < blocks; i++) expected.update(block)
      const started = Date.now()
      const { result: r, baseline, peak } = await rssPeakDuring(pid, () => upload(blocks))
      const ms = Date.now() - started
      process.stdout.write(
        `fromFetch 256 MiB echo: RSS baseline ${(baseline / MiB).toFixed(1)} MiB, peak ${(peak / MiB).toFixed(1)} MiB, growth ${((peak - baseline) / MiB).toFixed(1)} MiB, ${ms} ms\n`
      )
      expect(r).toEqual({ status: 200, bytes: blocks * MiB, sha256: expected.digest("hex") })
      expect(peak - baseline).toBeLessThan(64 * MiB)
      await closeSession(session)
    } finally {
      await cli.dispose()
    }
  }, 90_000)
})
