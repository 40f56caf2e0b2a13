/**
 * Peer servers as child processes: started from the repository root (or a
 * given directory), ready once their port accepts a connection, and always
 * stopped — at the end, on failure, and on Ctrl-C or SIGTERM.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { once } from "node:events"
import { connect } from "node:net"
import { setTimeout as sleep } from "node:timers/promises"

const root = new URL("../..", import.meta.url).pathname
const running = new Set<ChildProcess>()

/** What to run: an executable with its arguments, in `cwd` (default: the repository root), listening on 127.0.0.1:`port`. */
export interface Command {
  readonly command: string
  readonly args: ReadonlyArray<string>
  readonly port: number
  readonly cwd?: string
}

const accepts = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1")
    socket.once("connect", () => {
      socket.destroy()
      resolve(true)
    })
    socket.once("error", () => resolve(false))
  })

/**
 * Spawns `command` and resolves once 127.0.0.1:port accepts a TCP
 * connection; rejects if the port is taken already (another process would
 * be measured in its place), if the process exits first or `timeoutMs`
 * (default 20 000 ms) passes (the process is then stopped).
 */
export const startCommand = async (cmd: Command, timeoutMs = 20_000): Promise<ChildProcess> => {
  if (await accepts(cmd.port)) throw new Error(`port ${cmd.port} is in use by another process: stop it, then run again`)
  const child = spawn(cmd.command, cmd.args, { cwd: cmd.cwd ?? root, stdio: ["ignore", "ignore", "pipe"] })
  running.add(child)
  child.once("exit", () => running.delete(child))
  let stderr = ""
  child.stderr!.setEncoding("utf8")
  child.stderr!.on("data", (d: string) => {
    if (stderr.length < 4096) stderr += d
  })
  const exited = once(child, "exit").then(([code, signal]) => {
    throw new Error(`${cmd.command} ${cmd.args.join(" ")} exited (${code ?? signal}) before listening: ${stderr.trim()}`)
  })
  const ready = (async () => {
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) return exited
      if (await accepts(cmd.port)) return
      await sleep(50)
    }
    throw new Error(`${cmd.command} ${cmd.args.join(" ")}: port ${cmd.port} not open after ${timeoutMs} ms: ${stderr.trim()}`)
  })()
  try {
    await Promise.race([ready, exited])
  } catch (err) {
    await stopAll([child])
    throw err
  }
  exited.catch(() => {}) // a later exit is noticed by the measurements
  return child
}

/** SIGTERM to each process, SIGKILL after `graceMs` (default 5 000 ms); resolves when all have exited. */
export const stopAll = async (children: Iterable<ChildProcess> = running, graceMs = 5_000): Promise<void> => {
  await Promise.all(
    [...children].map(async (child) => {
      if (child.exitCode !== null || child.signalCode !== null) return
      const exit = once(child, "exit")
      child.kill("SIGTERM")
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs)
      await exit
      clearTimeout(timer)
    })
  )
}

/** On Ctrl-C or SIGTERM: stop every server started here, then exit (130 / 143). On any exit: SIGKILL to stragglers. */
export const stopOnSignals = (): void => {
  for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
    process.once(signal, () => {
      process.stderr.write(`\n${signal}: stopping the servers\n`)
      void stopAll().finally(() => process.exit(code))
    })
  }
  process.once("exit", () => {
    for (const child of running) child.kill("SIGKILL")
  })
}
