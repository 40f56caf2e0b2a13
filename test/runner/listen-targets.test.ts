/**
 * Where a server listens (spec.md §8.1, RUN-19): Unix domain sockets (mode
 * set, a stale socket replaced, removed at shutdown), several targets on
 * one server, and a listening socket inherited as a file descriptor.
 * Real sockets, HTTP/1.1 and HTTP/2 over each.
 */
import { spawn, spawnSync } from "node:child_process"
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs"
import * as http from "node:http"
import * as http2 from "node:http2"
import * as net from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import hello from "../../examples/hello.ts"
import { parseBind } from "../../src/runner/listen-target.ts"
import { ROOT, runCli } from "../support/cli.ts"
import { listen } from "../support/server.ts"

const dir = mkdtempSync(join(tmpdir(), "egi-listen-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** GET / over HTTP/1.1 on a Unix socket: status and body. */
const h1Unix = (path: string): Promise<[number, string]> =>
  new Promise((resolve, reject) => {
    const req = http.request({ socketPath: path, path: "/", agent: false }, (res) => {
      let body = ""
      res.setEncoding("utf8").on("data", (d: string) => (body += d))
      res.on("end", () => resolve([res.statusCode ?? 0, body]))
    })
    req.on("error", reject)
    req.end()
  })

/** GET / over h2c (prior knowledge) on a Unix socket. */
const h2Unix = (path: string): Promise<[number, string]> =>
  new Promise((resolve, reject) => {
    const session = http2.connect("http://localhost", { createConnection: () => net.connect(path) })
    session.on("error", reject)
    const req = session.request({ ":path": "/" })
    let status = 0
    let body = ""
    req.on("response", (h) => (status = Number(h[":status"])))
    req.setEncoding("utf8").on("data", (d: string) => (body += d))
    req.on("end", () => session.close(() => resolve([status, body])))
  })

const HELLO: [number, string] = [200, "Hello, world!"]

describe("RUN-19: listen targets", () => {
  it("RUN-19: parseBind reads host:port, [v6]:port, unix:PATH and fd://N, and says what is wrong with anything else", () => {
    expect(parseBind("0.0.0.0:8000")).toEqual({ kind: "tcp", host: "0.0.0.0", port: 8000 })
    expect(parseBind("[::1]:0")).toEqual({ kind: "tcp", host: "::1", port: 0 })
    expect(parseBind("unix:/run/egi.sock")).toEqual({ kind: "unix", path: "/run/egi.sock" })
    expect(parseBind("fd://3")).toEqual({ kind: "fd", fd: 3 })
    for (const bad of ["8000", "host:70000", "unix:", "fd://x", "fd://"]) expect(typeof parseBind(bad)).toBe("string")
  })

  it("RUN-19: a Unix socket serves HTTP/1.1 and h2c, gets its mode, replaces a stale socket file, and is removed at shutdown", async () => {
    const path = join(dir, "egi.sock")
    // A stale socket: bound by a process killed before it could remove it.
    spawnSync(process.execPath, ["-e", `require("node:net").createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, "SIGKILL"))`])
    expect(statSync(path).isSocket()).toBe(true)
    const server = await listen(hello, { binds: [{ kind: "unix", path, mode: 0o600 }] })
    try {
      expect(server.url).toBe(`unix:${path}`)
      expect(statSync(path).mode & 0o777).toBe(0o600)
      expect(await h1Unix(path)).toEqual(HELLO)
      expect(await h2Unix(path)).toEqual(HELLO)
    } finally {
      await server.close()
    }
    expect(existsSync(path)).toBe(false)
  })

  it("RUN-19: a Unix socket that another server answers on is not taken: start fails with Listen naming it", async () => {
    const path = join(dir, "busy.sock")
    const busy = net.createServer().listen(path)
    await new Promise((r) => busy.once("listening", r))
    try {
      await expect(listen(hello, { binds: [{ kind: "unix", path }] })).rejects.toMatchObject({ reason: "Listen", detail: expect.stringContaining(`unix:${path}`) })
    } finally {
      busy.close()
    }
  })

  it("RUN-19: several targets on one server — TCP and a Unix socket — serve alike; urls lists them in order", async () => {
    const path = join(dir, "both.sock")
    const server = await listen(hello, { binds: [{ kind: "tcp", host: "127.0.0.1", port: 0 }, { kind: "unix", path }] })
    try {
      expect(server.urls).toEqual([server.url, `unix:${path}`])
      expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
      expect(await fetch(server.url).then(async (r) => [r.status, await r.text()])).toEqual(HELLO)
      expect(await h2Unix(path)).toEqual(HELLO)
    } finally {
      await server.close()
    }
  })

  it("RUN-19: a listening socket inherited as fd 3 (socket activation) is served, on both protocols", async () => {
    const parent = net.createServer().listen(0, "127.0.0.1")
    await new Promise((r) => parent.once("listening", r))
    const port = (parent.address() as net.AddressInfo).port
    const fd = (parent as unknown as { _handle: { fd: number } })._handle.fd
    const child = spawn(process.execPath, ["test/fixtures/fd-serve.ts"], { cwd: ROOT, stdio: ["ignore", "ignore", "pipe", fd] })
    try {
      let err = ""
      await new Promise<void>((resolve, reject) => {
        child.stderr!.setEncoding("utf8").on("data", (d: string) => {
          err += d
          if (err.includes("listening on")) resolve()
        })
        child.once("exit", (code) => reject(new Error(`exited ${code}: ${err}`)))
      })
      // The parent no longer accepts: every connection is the child's.
      parent.close()
      expect(err).toMatch(/listening on fd:\/\/3 \(http:\/\/127\.0\.0\.1:\d+\)/)
      expect(await fetch(`http://127.0.0.1:${port}/`).then(async (r) => [r.status, await r.text()])).toEqual(HELLO)
      const session = http2.connect(`http://127.0.0.1:${port}`)
      const h2 = await new Promise<number>((resolve, reject) => {
        session.on("error", reject)
        const req = session.request({ ":path": "/" })
        req.on("response", (h) => resolve(Number(h[":status"])))
        req.resume()
      })
      session.close()
      expect(h2).toBe(200)
    } finally {
      child.kill("SIGTERM")
      await new Promise((r) => child.once("exit", r))
      parent.close()
    }
  })

  it("RUN-19: a bad target or backlog fails start with Options", async () => {
    await expect(listen(hello, { binds: [{ kind: "tcp", host: "127.0.0.1", port: 70000 }] })).rejects.toMatchObject({ reason: "Options" })
    await expect(listen(hello, { backlog: -1 })).rejects.toMatchObject({ reason: "Options" })
  })

  it("RUN-19: egi serve --uds PATH --uds-mode 660 also serves the Unix socket beside --host/--port, and removes it at exit; --bind with a bad entry is exit 2", async () => {
    const path = join(dir, "cli.sock")
    const cli = runCli(["serve", "examples/hello.ts", "--port", "0", "--uds", path, "--uds-mode", "660", "--no-access-log"])
    try {
      await cli.waitFor("stderr", new RegExp(`listening on http://127\\.0\\.0\\.1:\\d+, unix:${path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} \\(h2c, http/1\\.1\\)`), 30_000)
      expect(statSync(path).mode & 0o777).toBe(0o660)
      expect(await h1Unix(path)).toEqual(HELLO)
      cli.signal("SIGTERM")
      expect((await cli.exit).code).toBe(0)
      expect(existsSync(path)).toBe(false)
    } finally {
      await cli.dispose()
    }
    const bad = runCli(["serve", "examples/hello.ts", "--bind", "127.0.0.1:0,nowhere"])
    try {
      expect((await bad.exit).code).toBe(2)
      expect(bad.stderr()).toMatch(/^egi: --bind takes comma-separated host:port, unix:PATH, fd:\/\/N: "nowhere" is none of host:port, unix:PATH, fd:\/\/N\n$/)
    } finally {
      await bad.dispose()
    }
  })
})
