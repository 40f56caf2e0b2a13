/**
 * EGI as a consumer gets it (issue: installable package): `npm pack`, the
 * tarball installed into a fresh project, then on Node 22 LTS and Node 24
 * (both from the npm registry's `node` package, bootstrapped into .tools by
 * `bash scripts/setup.sh --test-tools`):
 *
 * - the tarball holds the built package and nothing of the repository's
 *   tests, benchmarks, fixtures or keys;
 * - `egi`, `egi/effect-http`, `egi/fetch` and `egi/testing` import from an `.mjs` file;
 * - `egi --help` runs from `node_modules/.bin`;
 * - `egi serve app.ts` serves the consumer's own TypeScript app (Node strips
 *   its types; EGI itself runs from `dist/`), reached over h2c, HTTP/1.1
 *   and a WebSocket (whose machinery loads from `dist/` at the handshake),
 *   and drains on SIGTERM with exit 0;
 * - a classic app runs in the shim's worker threads from `dist/`;
 * - the consumer's property test runs with `egi/testing` and fast-check,
 *   and without fast-check `egi/testing` says what to install;
 * - a strict NodeNext TypeScript consumer type-checks against the shipped
 *   declarations with `tsc --noEmit` (skipLibCheck off).
 *
 * Everything talks to 127.0.0.1 and is bounded in time; npm installs from
 * its cache where it can (`--prefer-offline`).
 */
import { execFile, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as http from "node:http"
import * as http2 from "node:http2"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ROOT } from "../support/cli.ts"

const node24 = path.join(ROOT, ".tools/node_modules/.bin/node")
const node22 = path.join(ROOT, ".tools/node22/node_modules/.bin/node")
const fixtures = path.join(ROOT, "test/package/consumer")

interface Run {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs `file args` with `env`, at most `ms`; never rejects (the code says how it went). */
const run = (file: string, args: ReadonlyArray<string>, options: { cwd: string; env?: NodeJS.ProcessEnv; ms?: number }): Promise<Run> =>
  new Promise((resolve) => {
    execFile(
      file,
      [...args],
      { cwd: options.cwd, env: options.env ?? process.env, timeout: options.ms ?? 60_000, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : null
        resolve({ code, stdout, stderr })
      }
    )
  })

/** The environment with `nodeBin`'s folder first on PATH (so `#!/usr/bin/env node` and npm pick it). */
const withNode = (nodeBin: string): NodeJS.ProcessEnv => ({ ...process.env, PATH: `${path.dirname(nodeBin)}:${process.env["PATH"] ?? ""}` })

const npm = (args: ReadonlyArray<string>, cwd: string, ms = 120_000): Promise<Run> =>
  run("npm", [...args, "--no-audit", "--no-fund", "--loglevel=error"], { cwd, env: withNode(node24), ms })

let work: string
let project: string
let tarball: string
let packed: { readonly files: ReadonlyArray<{ readonly path: string }>; readonly size: number; readonly entryCount: number }

beforeAll(async () => {
  for (const bin of [node24, node22]) {
    if (!fs.existsSync(bin)) throw new Error(`${bin} is missing: run bash scripts/setup.sh --test-tools`)
  }
  work = fs.mkdtempSync(path.join(os.tmpdir(), "egi-package-"))
  const pack = await npm(["pack", "--json", "--pack-destination", work], ROOT)
  expect(pack.code, pack.stderr).toBe(0)
  // npm prints the prepack script's output before the JSON.
  packed = JSON.parse(pack.stdout.slice(pack.stdout.indexOf("[")))[0]
  tarball = path.join(work, fs.readdirSync(work).find((f) => f.endsWith(".tgz"))!)
  project = path.join(work, "consumer")
  fs.mkdirSync(project)
  for (const f of fs.readdirSync(fixtures)) fs.copyFileSync(path.join(fixtures, f), path.join(project, f))
  const own = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8"))
  fs.writeFileSync(
    path.join(project, "package.json"),
    JSON.stringify({
      name: "egi-consumer",
      private: true,
      type: "module",
      dependencies: { egi: `file:${tarball}`, effect: own.devDependencies.effect, "fast-check": own.devDependencies["fast-check"] },
      devDependencies: { typescript: own.devDependencies.typescript, "@types/node": own.devDependencies["@types/node"] }
    })
  )
  const install = await npm(["install", "--prefer-offline"], project)
  expect(install.code, install.stderr).toBe(0)
}, 240_000)

afterAll(() => {
  if (work !== undefined) fs.rmSync(work, { recursive: true, force: true })
})

describe("the npm package", () => {
  it("the tarball holds dist, the launcher, spec.md, README and LICENSE; nothing under test/, bench/, src/ or .ci/, no key", () => {
    const files = packed.files.map((f) => f.path)
    expect(files).toContain("dist/index.js")
    expect(files).toContain("dist/index.d.ts")
    expect(files).toContain("dist/testing/index.js")
    expect(files).toContain("dist/shim/worker.js")
    expect(files).toContain("dist/cli/main.js")
    expect(files).toContain("bin/egi.mjs")
    expect(files).toContain("LICENSE")
    expect(files.filter((f) => /^(test|bench|src|scripts|examples|\.ci|\.tools)\//.test(f) || f.endsWith(".key") || f.endsWith(".pem"))).toEqual([])
    // Reported in the closing note: the tarball's size and file count.
    console.log(`npm pack: ${packed.entryCount} files, ${(packed.size / 1024).toFixed(0)} kB`)
  })

  it("a strict NodeNext TypeScript consumer type-checks against the shipped declarations (tsc --noEmit, skipLibCheck off)", async () => {
    const tsc = await run(node24, [path.join(project, "node_modules/typescript/bin/tsc"), "--noEmit", "-p", "."], { cwd: project, ms: 120_000 })
    expect(`${tsc.stdout}${tsc.stderr}`).toBe("")
    expect(tsc.code).toBe(0)
  })

  describe.each([
    ["Node 22", node22],
    ["Node 24", node24]
  ])("on %s", (_name, nodeBin) => {
    const env = () => withNode(nodeBin)

    it("imports egi, egi/effect-http, egi/fetch and egi/testing from an .mjs file, and egi --help and --version run from node_modules/.bin", async () => {
      const check = await run(nodeBin, ["check.mjs"], { cwd: project })
      expect(check.stderr).toBe("")
      expect(check.stdout).toMatch(/^ok v2[24]\./)
      const help = await run(path.join(project, "node_modules/.bin/egi"), ["--help"], { cwd: project, env: env() })
      expect(help.code, help.stderr).toBe(0)
      expect(help.stdout).toContain("egi serve <module>[:export] [options]")
      const version = await run(path.join(project, "node_modules/.bin/egi"), ["--version"], { cwd: project, env: env() })
      expect(version.stdout.trim()).toBe(JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")).version)
    })

    it("the consumer's property test runs with egi/testing; without fast-check, egi/testing says what to install", async () => {
      const prop = await run(nodeBin, ["property.mjs"], { cwd: project, ms: 60_000 })
      expect(prop.stderr).toBe("")
      expect(prop.stdout.trim()).toBe("property ok")
      const fcDir = path.join(project, "node_modules/fast-check")
      const aside = path.join(project, "node_modules/.fast-check-aside")
      fs.renameSync(fcDir, aside)
      try {
        const bare = await run(nodeBin, ["-e", `import("egi/testing").then(() => console.log("loaded"), (e) => console.log(e._tag, e.message))`], { cwd: project })
        expect(bare.stdout.trim()).toBe(
          "MissingPeerDependencyError egi/testing needs fast-check, an optional peer dependency of egi: npm install --save-dev fast-check"
        )
        const main = await run(nodeBin, ["-e", `import("egi").then((m) => console.log(typeof m.serve))`], { cwd: project })
        expect(main.stdout.trim()).toBe("function")
      } finally {
        fs.renameSync(aside, fcDir)
      }
    })

    it("egi serve app.ts serves the consumer's own TypeScript app over h2c, HTTP/1.1 and a WebSocket (its machinery loaded from dist/ at the handshake), and drains on SIGTERM with exit 0", async () => {
      await serving(nodeBin, ["app.ts"], async (port) => {
        expect(await h2post(port, "abc")).toBe("consumer 2 3")
        expect(await h1post(port, "abcdef")).toBe("consumer 1.1 6")
        expect(await wsEcho(port, "hi")).toBe("consumer hi")
      })
    })

    it("egi serve loads the fetch adapter from dist/ for an object with fetch (--interface auto)", async () => {
      await serving(nodeBin, ["hono-like.mjs"], async (port) => {
        expect(await h1post(port, "x")).toBe("fetched POST /")
        expect(await h2post(port, "y")).toBe("fetched POST /")
      })
    })

    it("a classic app runs in the shim's worker threads from dist/", async () => {
      await serving(nodeBin, ["classic.mjs:app", "--sync-workers", "1"], async (port) => {
        expect(await h1post(port, "")).toBe("classic POST")
      })
    })
  })
})

/** Sends `text` over a WebSocket (HTTP/1.1 Upgrade, Node's own WebSocket client) and resolves with the first message back. */
const wsEcho = (port: number, text: string): Promise<string> =>
  new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`)
    const timer = setTimeout(() => reject(new Error("no WebSocket echo within 10 s")), 10_000)
    ws.onopen = () => ws.send(text)
    ws.onmessage = (event) => {
      clearTimeout(timer)
      resolve(String(event.data))
      ws.close()
    }
    ws.onerror = () => reject(new Error("WebSocket error"))
  })

/** `egi serve …args --port 0 --no-access-log` on `nodeBin`: runs `check` with its port, then SIGTERM, which must end it with exit 0. */
const serving = async (nodeBin: string, args: ReadonlyArray<string>, check: (port: number) => Promise<void>): Promise<void> => {
  const server = await startServe(nodeBin, ["serve", ...args, "--port", "0", "--no-access-log"])
  try {
    await check(server.port)
  } finally {
    server.child.kill("SIGTERM")
  }
  expect(await server.exit).toBe(0)
}

/** `node_modules/.bin/egi …args` on `nodeBin`, once it logged its port. */
const startServe = async (nodeBin: string, args: ReadonlyArray<string>) => {
  const child = spawn(path.join(project, "node_modules/.bin/egi"), [...args], { cwd: project, env: withNode(nodeBin), stdio: ["ignore", "pipe", "pipe"] })
  let stderr = ""
  const exit = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)))
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "listening" within 20 s: ${stderr}`)), 20_000)
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d
      const m = /listening on https?:\/\/127\.0\.0\.1:(\d+)/.exec(stderr)
      if (m !== null) {
        clearTimeout(timer)
        resolve(Number(m[1]))
      }
    })
    child.on("close", () => reject(new Error(`exited before listening: ${stderr}`)))
  })
  child.stdout.resume()
  return { child, port, exit }
}

const h2post = (port: number, body: string): Promise<string> =>
  new Promise((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${port}`)
    session.on("error", reject)
    const req = session.request({ ":method": "POST", ":path": "/" })
    let text = ""
    req.setEncoding("utf8").on("data", (d: string) => void (text += d))
    req.on("end", () => {
      session.close()
      resolve(text)
    })
    req.on("error", reject)
    req.end(body)
  })

const h1post = (port: number, body: string): Promise<string> =>
  new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, method: "POST", path: "/", agent: false }, (res) => {
      let text = ""
      res.setEncoding("utf8").on("data", (d: string) => void (text += d))
      res.on("end", () => resolve(text))
    })
    req.on("error", reject)
    req.end(body)
  })
