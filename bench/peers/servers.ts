/**
 * The servers the peer benchmark compares, per protocol: the raw Node
 * server (the reference), EGI, and the peers a user would pick instead.
 * Every one answers GET / with 200 `Hello, world!` (text/plain), in one
 * process with one thread of JavaScript or Python.
 */
import { execFileSync } from "node:child_process"
import { existsSync, readFileSync } from "node:fs"
import type { Command } from "./process.ts"

/** h2c: HTTP/2 over cleartext with prior knowledge; h1: HTTP/1.1 with keep-alive. */
export type Protocol = "h2c" | "h1"

/** The reference for ratios (`raw`), EGI itself (`egi`, highlighted in the chart), or a peer. */
export type Kind = "raw" | "egi" | "peer"

/** One server to measure: its label, protocol, kind, what it runs on, and how to start it on a port. */
export interface Server {
  readonly name: string
  readonly protocol: Protocol
  readonly kind: Kind
  /** The implementation and versions used, e.g. `Hypercorn 0.13.2, uvloop worker, Python 3.11.2`. */
  readonly implementation: string
  readonly command: (port: number) => Command
}

/** A server that is not installed here: its label, protocol and why it is skipped. */
export interface Skipped {
  readonly name: string
  readonly protocol: Protocol
  readonly reason: string
}

const python = "/usr/bin/python3"
const peersDir = new URL(".", import.meta.url).pathname
const node = (...args: Array<string>) => (port: number): Command => ({ command: process.execPath, args: args.map((a) => a.replace("PORT", String(port))), port })
// The launcher users run (`npx egi`): it keeps Node's compile cache, as a deployed server does (~30 MiB less idle RSS).
const egi = (...flags: Array<string>) => node("bin/egi.mjs", "serve", "examples/hello.ts", "--port", "PORT", "--no-access-log", ...flags)

/** The version of an npm package installed here, or undefined if it is not installed. */
const npmVersion = (name: string): string | undefined => {
  try {
    const dir = new URL(`../../node_modules/${name}/package.json`, import.meta.url)
    return (JSON.parse(readFileSync(dir, "utf8")) as { version: string }).version
  } catch {
    return undefined
  }
}

/** `/usr/bin/python3`'s version and the versions of the given modules it can import (undefined: cannot import). */
const pythonModules = (modules: ReadonlyArray<string>): { python?: string; versions: Map<string, string | undefined> } => {
  const versions = new Map<string, string | undefined>(modules.map((m) => [m, undefined]))
  if (!existsSync(python)) return { versions }
  const script = [
    "import importlib.metadata as m, importlib.util as u, json, platform",
    `mods = ${JSON.stringify(modules)}`,
    "print(json.dumps({'python': platform.python_version(), 'versions': {x: (m.version(x) if u.find_spec(x) else None) for x in mods}}))"
  ].join("\n")
  try {
    const out = JSON.parse(execFileSync(python, ["-c", script], { encoding: "utf8", timeout: 10_000 })) as {
      python: string
      versions: Record<string, string | null>
    }
    for (const m of modules) versions.set(m, out.versions[m] ?? undefined)
    return { python: out.python, versions }
  } catch {
    return { versions }
  }
}

const install = "install it: bash scripts/setup.sh --bench-tools"

/** The servers to measure for `protocols`, in chart order, and the ones skipped because they are not installed. */
export const servers = (protocols: ReadonlyArray<Protocol>): { servers: Array<Server>; skipped: Array<Skipped> } => {
  const fastify = npmVersion("fastify")
  const effect = npmVersion("@effect/platform-node")
  const hono = npmVersion("hono")
  const honoNode = npmVersion("@hono/node-server")
  const py = pythonModules(["hypercorn", "uvicorn", "uvloop", "httptools"])
  const uvloop = py.versions.get("uvloop")
  const httptools = py.versions.get("httptools")
  const hypercorn = py.versions.get("hypercorn")
  const uvicorn = py.versions.get("uvicorn")
  const all: Array<Server | Skipped> = []
  const missing = (name: string, protocol: Protocol, what: string): Skipped => ({ name, protocol, reason: `${what} not installed; ${install}` })
  if (protocols.includes("h2c")) {
    all.push(
      { name: "node:http2 (raw)", protocol: "h2c", kind: "raw", implementation: "node:http2, bench/raw-h2.ts", command: node("bench/raw-h2.ts", "PORT") },
      { name: "EGI --h2c", protocol: "h2c", kind: "egi", implementation: "egi serve examples/hello.ts --h2c", command: egi("--h2c") },
      { name: "EGI (auto: h2c + HTTP/1.1)", protocol: "h2c", kind: "egi", implementation: "egi serve examples/hello.ts", command: egi() },
      fastify === undefined ? missing("Fastify 5", "h2c", "fastify (npm)") : {
        name: "Fastify 5 (http2: true)",
        protocol: "h2c",
        kind: "peer",
        implementation: `fastify ${fastify}`,
        command: node("bench/peers/fastify.ts", "PORT", "--h2c")
      },
      {
        name: "NodeHttpServer (http2) + HttpRouter",
        protocol: "h2c",
        kind: "peer",
        implementation: `@effect/platform-node ${effect}, node:http2 compat API`,
        command: node("bench/node-router.ts", "PORT", "--h2c")
      },
      hypercorn === undefined ? missing("Hypercorn", "h2c", `${python} with hypercorn`) : {
        name: "Hypercorn (1 worker)",
        protocol: "h2c",
        kind: "peer",
        implementation: `Hypercorn ${hypercorn}, ${uvloop === undefined ? "asyncio" : `uvloop ${uvloop}`} worker, Python ${py.python}`,
        command: (port) => ({
          command: python,
          args: ["-m", "hypercorn", "--workers", "1", "-k", uvloop === undefined ? "asyncio" : "uvloop", "--bind", `127.0.0.1:${port}`, "--error-logfile", "/dev/null", "hello_asgi:app"],
          port,
          cwd: peersDir
        })
      }
    )
  }
  if (protocols.includes("h1")) {
    all.push(
      { name: "node:http (raw)", protocol: "h1", kind: "raw", implementation: "node:http, bench/raw-h1.ts", command: node("bench/raw-h1.ts", "PORT") },
      { name: "EGI (auto: h2c + HTTP/1.1)", protocol: "h1", kind: "egi", implementation: "egi serve examples/hello.ts", command: egi() },
      fastify === undefined ? missing("Fastify 5", "h1", "fastify (npm)") : {
        name: "Fastify 5",
        protocol: "h1",
        kind: "peer",
        implementation: `fastify ${fastify}`,
        command: node("bench/peers/fastify.ts", "PORT")
      },
      {
        name: "NodeHttpServer + HttpRouter",
        protocol: "h1",
        kind: "peer",
        implementation: `@effect/platform-node ${effect}, node:http`,
        command: node("bench/node-router.ts", "PORT")
      },
      honoNode === undefined ? missing("Hono on @hono/node-server", "h1", "@hono/node-server (npm)") : {
        name: "Hono on @hono/node-server",
        protocol: "h1",
        kind: "peer",
        implementation: `hono ${hono}, @hono/node-server ${honoNode}`,
        command: node("bench/hono-node.ts", "PORT")
      },
      uvicorn === undefined ? missing("uvicorn", "h1", `${python} with uvicorn`) : {
        name: "uvicorn (1 worker)",
        protocol: "h1",
        kind: "peer",
        implementation: `uvicorn ${uvicorn}, ${httptools === undefined ? "h11" : `httptools ${httptools}`}, ${uvloop === undefined ? "asyncio" : `uvloop ${uvloop}`}, Python ${py.python}`,
        command: (port) => ({
          command: python,
          args: [
            "-m", "uvicorn", "--workers", "1",
            "--http", httptools === undefined ? "h11" : "httptools",
            "--loop", uvloop === undefined ? "asyncio" : "uvloop",
            "--no-access-log", "--log-level", "warning",
            "--host", "127.0.0.1", "--port", String(port), "hello_asgi:app"
          ],
          port,
          cwd: peersDir
        })
      }
    )
  }
  return {
    servers: all.filter((s): s is Server => "command" in s),
    skipped: all.filter((s): s is Skipped => "reason" in s)
  }
}
