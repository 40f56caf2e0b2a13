/**
 * Server memory while a large body is uploaded (issue 15's target: flat,
 * growth under 64 MiB): each server, in its own process, gets one warm-up
 * upload of 64 MiB and then one upload of `--mib` MiB (default 1024) over
 * h2c, sent in 64 KiB chunks as fast as the stream's window allows; its
 * RSS is sampled from /proc every 50 ms. Prints the RSS before the upload,
 * the peak during it and the growth, and checks the byte count the server
 * answered.
 *
 *     node bench/upload-rss.ts [--mib 1024]
 *
 * Servers: EGI's native async hash (bench/upload-async.ts), a Hono app
 * through fromFetch and HttpRouter routes through EgiHttpServer
 * (bench/adapter-apps.ts, POST /upload).
 */
import { readFileSync } from "node:fs"
import * as http2 from "node:http2"
import { parseArgs } from "node:util"
import { helpIfAsked } from "./usage.ts"
import { startServer, stopServers } from "./servers.ts"

helpIfAsked(`node bench/upload-rss.ts [--mib 1024]

Server RSS while one upload of --mib MiB goes over h2c to the native app, fromFetch and HttpRouter.`)
const { values } = parseArgs({ options: { mib: { type: "string", default: "1024" } } })
const MiB = 1024 * 1024
const total = Number(values.mib) * MiB

/** Resident set size of a process, bytes (/proc/<pid>/status VmRSS). */
const rss = (pid: number): number => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) * 1024

/** POSTs `bytes` zero bytes to `url` over h2c, respecting backpressure; resolves with the response body. */
const upload = (url: string, bytes: number): Promise<string> =>
  new Promise((resolve, reject) => {
    const session = http2.connect(url)
    session.on("error", reject)
    const stream = session.request({ ":method": "POST", ":path": "/upload", "content-type": "application/octet-stream" })
    const chunk = Buffer.alloc(64 * 1024)
    let sent = 0
    const pump = () => {
      while (sent < bytes) {
        const n = Math.min(chunk.length, bytes - sent)
        sent += n
        if (!stream.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return void stream.once("drain", pump)
      }
      stream.end()
    }
    let body = ""
    stream.setEncoding("utf8").on("data", (d: string) => (body += d))
    stream.on("end", () => session.close(() => resolve(body)))
    stream.on("error", reject)
    pump()
  })

const servers = [
  { name: "egi, native (receive)", args: ["bin/egi.mjs", "serve", "bench/upload-async.ts", "--port", "9170", "--h2c", "--no-access-log"], port: 9170 },
  { name: "egi, Hono (fromFetch)", args: ["bin/egi.mjs", "serve", "bench/adapter-apps.ts:hono", "--port", "9171", "--h2c", "--no-access-log"], port: 9171 },
  { name: "egi, HttpRouter routes", args: ["bin/egi.mjs", "serve", "bench/adapter-apps.ts:Routes", "--port", "9172", "--h2c", "--no-access-log"], port: 9172 }
]

process.stdout.write(`upload ${values.mib} MiB over h2c (after a 64 MiB warm-up): server RSS\n`)
for (const s of servers) {
  const [child] = [await startServer(s.args)]
  try {
    const url = `http://127.0.0.1:${s.port}`
    await upload(url, 64 * MiB)
    const before = rss(child!.pid!)
    let peak = before
    const timer = setInterval(() => (peak = Math.max(peak, rss(child!.pid!))), 50)
    const t0 = performance.now()
    const answer = await upload(url, total)
    const seconds = (performance.now() - t0) / 1000
    clearInterval(timer)
    const counted = /\d+/.exec(answer)?.[0]
    if (Number(counted) !== total) throw new Error(`${s.name}: answered ${JSON.stringify(answer)}, expected ${total} bytes`)
    process.stdout.write(
      `  ${s.name.padEnd(24)} before ${(before / MiB).toFixed(0).padStart(4)} MiB  peak ${(peak / MiB).toFixed(0).padStart(4)} MiB` +
        `  growth ${((peak - before) / MiB).toFixed(1).padStart(6)} MiB  ${(total / MiB / seconds).toFixed(0).padStart(5)} MiB/s\n`
    )
  } finally {
    await stopServers([child!])
  }
}
