/**
 * Benchmark support: servers in child processes (the CLI, the raw
 * baselines), started from the repository root and stopped with SIGTERM.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { once } from "node:events"

const root = new URL("..", import.meta.url).pathname

/**
 * `node ...args` from the repository root; resolves once it prints
 * "listening" on stderr. With `cpu`, the server runs on that core alone
 * (`taskset -c cpu`, which execs node: the child's pid is node's).
 */
export const startServer = async (args: ReadonlyArray<string>, cpu?: number): Promise<ChildProcess> => {
  const child = cpu === undefined
    ? spawn(process.execPath, args, { cwd: root, stdio: ["ignore", "ignore", "pipe"] })
    : spawn("taskset", ["-c", String(cpu), process.execPath, ...args], { cwd: root, stdio: ["ignore", "ignore", "pipe"] })
  let err = ""
  child.stderr!.setEncoding("utf8")
  await new Promise<void>((resolve, reject) => {
    const onData = (d: string) => {
      err += d
      if (err.includes("listening")) {
        child.stderr!.off("data", onData)
        resolve()
      }
    }
    child.stderr!.on("data", onData)
    child.once("exit", (code) => reject(new Error(`server exited ${code}: ${err}`)))
  })
  child.stderr!.resume()
  return child
}

/** SIGTERM to each server, then waits for it to exit. */
export const stopServers = async (servers: ReadonlyArray<ChildProcess>): Promise<void> => {
  for (const s of servers) {
    s.kill("SIGTERM")
    if (s.exitCode === null) await once(s, "exit")
  }
}

/**
 * `--baseline DIR` as a path prefix: another checkout of EGI (a git worktree
 * with node_modules linked), relative to the working directory, ending in
 * `/`; undefined without the option.
 */
export const checkoutPrefix = (dir: string | undefined): string | undefined =>
  dir === undefined ? undefined : new URL(`${dir.replace(/\/$/, "")}/`, `file://${process.cwd()}/`).pathname
