/**
 * The benchmark (a script, not a test): h2load against EGI served by the CLI
 * and against a raw node:http2 server, in the same run, alternating rounds
 * (each starting one server later than the one before, bench/measure.ts
 * roundOrder),
 * printing requests/s for each and the ratio.
 *
 *     node bench/run.ts [--rounds 3] [--requests 200000] [--baseline DIR]
 *
 * `--baseline DIR`: also serve hello from another checkout of EGI (e.g. a
 * `git worktree` of an earlier commit, with `node_modules` linked in), so a
 * change's cost on the hello path is measured in the same run.
 *
 * `--pin`: each server on the first core and h2load on the last (`taskset`),
 * so that they do not take each other's time: on a shared 2-core machine
 * the server CPU per request then swings far less between rounds. It
 * confines the shim's worker threads to one core too.
 *
 * Scenarios (`--scenarios hello,hello-h1,stream,files,shim,adapters-h1,adapters-h2c`,
 * default all): `hello`
 * (h2load -c 16 -m 16 GET /) against `egi --h2c`, the default
 * auto-detecting listener, hello under `validate` (egi/testing), the
 * raw server, and the raw server with an effect fiber per stream
 * (bench/effect-floor.ts: what running an Effect per request costs
 * without EGI); `hello-h1` (h2load --h1 -c 16, keep-alive) against the
 * auto-detecting listener and a raw node:http server; `stream` (1 MiB responses in
 * 64 KiB chunks, -c 4 -m 4) against `egi --h2c` and raw; `files`: a 1 MiB
 * and a 16 KiB file by pathsend (examples/files.ts) against node's own
 * `respondWithFile`; `shim`: the
 * classic hello through the sync shim on 2 workers against the async hello,
 * and a 64 MiB upload hashed through blocking `read(65536)`
 * (examples/legacy.ts) against the same hashing on async `receive`
 * (bench/upload-async.ts); `adapters-h1`, `adapters-h2c`: the same hello
 * as HttpRouter routes and as a Hono app (bench/adapter-apps.ts), served by
 * EGI's adapters and by their usual servers (NodeHttpServer,
 * @hono/node-server), against EGI's native hello (the reference).
 */
import { randomBytes } from "node:crypto"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { availableParallelism, tmpdir } from "node:os"
import { join } from "node:path"
import { parseArgs } from "node:util"
import { helpIfAsked } from "./usage.ts"
import { cpuMicros, h2load, median, roundOrder } from "./measure.ts"
import { checkoutPrefix, startServer, stopServers } from "./servers.ts"

helpIfAsked(`node bench/run.ts [--pin] [--rounds 3] [--requests 200000] [--scenarios LIST] [--baseline DIR]

  --scenarios   hello,hello-h1,stream,files,shim,adapters-h1,adapters-h2c (default: all)
  --pin         each server on the first core, h2load on the last (taskset)
  --baseline    also serve hello from another checkout of EGI (a git worktree with node_modules linked)

h2load against EGI and the raw node:http2 / node:http servers, alternating rounds; medians of
requests/s and of server CPU per request (from /proc). Needs h2load (scripts/setup.sh --test-tools).`)
const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "3" },
    requests: { type: "string", default: "200000" },
    baseline: { type: "string" },
    scenarios: { type: "string", default: "hello,hello-h1,stream,files,shim,adapters-h1,adapters-h2c" },
    pin: { type: "boolean", default: false }
  }
})
/** `--pin`: the cores of the servers and of h2load. */
const pinned = values.pin ? { server: 0, load: availableParallelism() - 1 } : undefined
const scenarios = new Set(values.scenarios.split(","))
const baseline = checkoutPrefix(values.baseline)
const rounds = Number(values.rounds)
const requests = Number(values.requests)

interface Target {
  readonly name: string
  readonly args: ReadonlyArray<string>
  readonly port: number
  readonly path: string
}

/**
 * Runs `targets` alternately for `rounds` rounds; ratios are to the target
 * named `reference`. With `upload` (a file and its size in bytes), every
 * request posts the file and throughput is also printed in MB/s.
 */
const scenario = async (
  title: string,
  targets: ReadonlyArray<Target>,
  n: number,
  c: number,
  m: number,
  reference = "raw node:http2",
  upload?: { readonly file: string; readonly bytes: number },
  h1 = false
) => {
  // A server that fails to start fails the scenario, after the others are stopped; else servers[i] is targets[i]'s.
  const started = await Promise.allSettled(targets.map((t) => startServer(t.args, pinned?.server)))
  const servers = started.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []))
  const failed = started.find((s): s is PromiseRejectedResult => s.status === "rejected")
  if (failed !== undefined) {
    await stopServers(servers)
    throw failed.reason
  }
  try {
    const results = new Map<string, Array<number>>(targets.map((t) => [t.name, []]))
    const cpu = new Map<string, Array<number>>(targets.map((t) => [t.name, []]))
    for (const t of targets) await h2load(`http://127.0.0.1:${t.port}${t.path}`, Math.min(n, 20000), c, m, upload?.file, h1, pinned?.load) // warm-up
    for (let r = 0; r < rounds; r++) {
      for (const [i, t] of roundOrder(targets, r)) {
        const before = cpuMicros(servers[i]!.pid!)
        const res = await h2load(`http://127.0.0.1:${t.port}${t.path}`, n, c, m, upload?.file, h1, pinned?.load)
        cpu.get(t.name)!.push((cpuMicros(servers[i]!.pid!) - before) / n)
        if (res.failed > 0) throw new Error(`${t.name}: ${res.failed} failed requests`)
        results.get(t.name)!.push(res.rps)
      }
    }
    const base = median(results.get(reference)!)
    const baseCpu = median(cpu.get(reference)!)
    process.stdout.write(`\n${title} (h2load${h1 ? " --h1" : ""} -n ${n} -c ${c} -m ${m}, median of ${rounds} rounds${pinned === undefined ? "" : ", pinned"})\n`)
    for (const t of targets) {
      const med = median(results.get(t.name)!)
      const medCpu = median(cpu.get(t.name)!)
      process.stdout.write(
        `  ${t.name.padEnd(28)} ${med.toFixed(0).padStart(8)} req/s  ratio ${(med / base).toFixed(3)}` +
          (upload === undefined ? "" : `  ${((med * upload.bytes) / 1e6).toFixed(0).padStart(5)} MB/s`) +
          `  | server CPU ${medCpu.toFixed(2).padStart(6)} µs/req  ref/this ${(baseCpu / medCpu).toFixed(3)}` +
          `  [${results.get(t.name)!.map((x) => x.toFixed(0)).join(", ")}]\n`
      )
    }
  } finally {
    await stopServers(servers)
  }
}

if (scenarios.has("hello")) {
await scenario(
  "hello",
  [
    { name: "raw node:http2", args: ["bench/raw-h2.ts", "9100"], port: 9100, path: "/" },
    // Raw node:http2 with an effect fiber per stream, no EGI: Effect's share of the gap (bench/effect-floor.ts).
    { name: "raw + effect fiber", args: ["--no-allocation-site-pretenuring", "bench/effect-floor.ts", "hello", "9108"], port: 9108, path: "/" },
    { name: "egi --h2c", args: ["bin/egi.mjs", "serve", "examples/hello.ts", "--port", "9101", "--h2c", "--no-access-log"], port: 9101, path: "/" },
    { name: "egi (auto: h2c + http/1.1)", args: ["bin/egi.mjs", "serve", "examples/hello.ts", "--port", "9102", "--no-access-log"], port: 9102, path: "/" },
    { name: "egi --h2c, access log on", args: ["bin/egi.mjs", "serve", "examples/hello.ts", "--port", "9103", "--h2c"], port: 9103, path: "/" },
    {
      name: "egi --h2c, --no-tracing",
      args: ["bin/egi.mjs", "serve", "examples/hello.ts", "--port", "9106", "--h2c", "--no-access-log", "--no-tracing"],
      port: 9106,
      path: "/"
    },
    {
      name: "egi --h2c, validate(hello)",
      args: ["bin/egi.mjs", "serve", "bench/validated-hello.ts", "--port", "9105", "--h2c", "--no-access-log"],
      port: 9105,
      path: "/"
    },
    ...(baseline === undefined ? [] : [{
      name: "egi --h2c (baseline)",
      args: [`${baseline}bin/egi.mjs`, "serve", `${baseline}examples/hello.ts`, "--port", "9104", "--h2c", "--no-access-log"],
      port: 9104,
      path: "/"
    }, {
      name: "egi --h2c, access log (base)",
      args: [`${baseline}bin/egi.mjs`, "serve", `${baseline}examples/hello.ts`, "--port", "9107", "--h2c"],
      port: 9107,
      path: "/"
    }])
  ],
  requests,
  16,
  16
)
}

// The adapters (spec.md §12): the same hello written as HttpRouter routes and
// as a Hono app, each on its usual Node server and on EGI, beside EGI's own.
const egiServe = (target: string, port: number, ...flags: Array<string>): ReadonlyArray<string> =>
  ["bin/egi.mjs", "serve", target, "--port", String(port), "--no-access-log", ...flags]
if (scenarios.has("adapters-h1")) {
  await scenario(
    "adapters: hello over HTTP/1.1",
    [
      { name: "egi, native EGI app", args: egiServe("examples/hello.ts", 9150), port: 9150, path: "/" },
      { name: "NodeHttpServer + HttpRouter", args: ["bench/node-router.ts", "9151"], port: 9151, path: "/" },
      { name: "egi, HttpRouter routes", args: egiServe("bench/adapter-apps.ts:Routes", 9152), port: 9152, path: "/" },
      { name: "@hono/node-server + Hono", args: ["bench/hono-node.ts", "9153"], port: 9153, path: "/" },
      { name: "egi, Hono (fromFetch)", args: egiServe("bench/adapter-apps.ts:hono", 9154), port: 9154, path: "/" }
    ],
    Math.max(1000, Math.floor(requests / 2)),
    16,
    1,
    "egi, native EGI app",
    undefined,
    true
  )
}
if (scenarios.has("adapters-h2c")) {
  await scenario(
    "adapters: hello over h2c",
    [
      { name: "egi, native EGI app", args: egiServe("examples/hello.ts", 9160, "--h2c"), port: 9160, path: "/" },
      { name: "NodeHttpServer (http2) + HttpRouter", args: ["bench/node-router.ts", "9161", "--h2c"], port: 9161, path: "/" },
      { name: "egi, HttpRouter routes", args: egiServe("bench/adapter-apps.ts:Routes", 9162, "--h2c"), port: 9162, path: "/" },
      { name: "egi, Hono (fromFetch)", args: egiServe("bench/adapter-apps.ts:hono", 9164, "--h2c"), port: 9164, path: "/" }
    ],
    requests,
    16,
    16,
    "egi, native EGI app"
  )
}
if (scenarios.has("hello-h1")) {
  await scenario(
    "hello over HTTP/1.1",
    [
      { name: "raw node:http", args: ["bench/raw-h1.ts", "9140"], port: 9140, path: "/" },
      { name: "egi (auto: h2c + http/1.1)", args: ["bin/egi.mjs", "serve", "examples/hello.ts", "--port", "9141", "--no-access-log"], port: 9141, path: "/" },
      ...(baseline === undefined ? [] : [{
        name: "egi (baseline)",
        args: [`${baseline}bin/egi.mjs`, "serve", `${baseline}examples/hello.ts`, "--port", "9142", "--no-access-log"],
        port: 9142,
        path: "/"
      }])
    ],
    Math.max(1000, Math.floor(requests / 2)),
    16,
    1,
    "raw node:http",
    undefined,
    true
  )
}
if (scenarios.has("stream")) {
await scenario(
  "stream 1 MiB",
  [
    { name: "raw node:http2", args: ["bench/raw-h2.ts", "9110"], port: 9110, path: "/stream?chunks=16&size=65536" },
    { name: "egi --h2c", args: ["bin/egi.mjs", "serve", "examples/stream.ts", "--port", "9111", "--h2c", "--no-access-log"], port: 9111, path: "/?chunks=16&size=65536&delay=0" }
  ],
  Math.max(1000, Math.floor(requests / 20)),
  4,
  4
)
}
if (scenarios.has("files")) {
  // The servers inherit FILES_ROOT: examples/files.ts and raw-h2.ts serve it.
  const dir = mkdtempSync(join(tmpdir(), "egi-bench-files-"))
  process.env["FILES_ROOT"] = dir
  writeFileSync(join(dir, "1m.bin"), randomBytes(1024 * 1024))
  writeFileSync(join(dir, "16k.bin"), randomBytes(16 * 1024))
  try {
    for (const [name, n] of [["1m.bin", Math.max(1000, Math.floor(requests / 20))], ["16k.bin", Math.max(1000, Math.floor(requests / 4))]] as const) {
      await scenario(
        `pathsend ${name}`,
        [
          { name: "raw node:http2", args: ["bench/raw-h2.ts", "9130"], port: 9130, path: `/files/${name}` },
          { name: "egi --h2c", args: ["bin/egi.mjs", "serve", "examples/files.ts", "--port", "9131", "--h2c", "--no-access-log"], port: 9131, path: `/${name}` },
          ...(baseline === undefined ? [] : [{
            name: "egi --h2c (baseline)",
            args: [`${baseline}bin/egi.mjs`, "serve", `${baseline}examples/files.ts`, "--port", "9132", "--h2c", "--no-access-log"],
            port: 9132,
            path: `/${name}`
          }])
        ],
        n,
        4,
        4
      )
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
if (scenarios.has("shim")) {
  const async = "async hello (egi --h2c)"
  await scenario(
    "classic hello through the sync shim",
    [
      { name: async, args: ["bin/egi.mjs", "serve", "examples/hello.ts", "--port", "9120", "--h2c", "--no-access-log"], port: 9120, path: "/" },
      {
        name: "classic hello, 2 workers",
        args: ["bin/egi.mjs", "serve", "bench/classic-hello.ts:hello", "--sync-workers", "2", "--port", "9121", "--h2c", "--no-access-log"],
        port: 9121,
        path: "/"
      }
    ],
    Math.max(1000, Math.floor(requests / 2)),
    16,
    16,
    async
  )
  const file = join(tmpdir(), `egi-bench-upload-${process.pid}`)
  const bytes = 64 * 1024 * 1024
  writeFileSync(file, randomBytes(bytes))
  try {
    const receiveName = "async receive"
    await scenario(
      "upload 64 MiB, hashed",
      [
        { name: receiveName, args: ["bin/egi.mjs", "serve", "bench/upload-async.ts", "--port", "9122", "--h2c", "--no-access-log"], port: 9122, path: "/upload" },
        {
          name: "classic input.read(65536)",
          args: ["bin/egi.mjs", "serve", "examples/legacy.ts", "--port", "9123", "--h2c", "--no-access-log"],
          port: 9123,
          path: "/upload"
        }
      ],
      24,
      2,
      1,
      receiveName,
      { file, bytes }
    )
  } finally {
    rmSync(file, { force: true })
  }
}
