/**
 * `egi serve --reload` (spec.md §8.5, RUN-24): for development. This
 * process loads no app; it serves through a child process — this same
 * command, with `EGI_RELOAD_CHILD=serve` — and watches `--reload-dir` (by
 * default the app module's directory) with `node:fs` `watch` (recursive).
 * A change to a `.ts`, `.js`, `.mjs`, `.cjs`, `.mts`, `.cts` or `.json`
 * file, debounced (200 ms after the last one), is logged with the file's
 * name; then a throwaway child (`EGI_RELOAD_CHILD=check`) imports the app
 * as the server would — the module and everything it imports, the export
 * checked, nothing served — and only when that succeeds is the old server
 * stopped (SIGTERM: it drains) and a new one started on the same listeners.
 * When it fails (a syntax error, a module that throws, a missing export)
 * the error is printed and the old server keeps serving until the next
 * change. SIGINT/SIGTERM stop the server child and then this process.
 *
 * The server child runs in its own process group (a terminal's Ctrl-C
 * reaches this process, which passes it on once) and is connected by an IPC
 * channel: when this process goes away however it dies, the child drains
 * and exits (main.ts).
 */
import { type ChildProcess, spawn } from "node:child_process"
import { watch, type FSWatcher } from "node:fs"
import { extname, relative, sep } from "node:path"
import type { RunnerLog } from "../runner/log.ts"
import { exitCause, KILL_GRACE_MS } from "./children.ts"

/**
 * What the reloader does:
 * - `dirs`: the directories watched (absolute, existing);
 * - `drainTimeout`: ms the old server gets to drain (its `--drain-timeout`)
 *   before it is killed, plus a grace of 2 s.
 */
export interface ReloadPlan {
  readonly dirs: ReadonlyArray<string>
  readonly drainTimeout: number
}

/** The environment variable that tells a child of the reloader what it is. */
export const RELOAD_CHILD = "EGI_RELOAD_CHILD"

/** The files whose change restarts the server. */
export const RELOAD_EXTENSIONS: ReadonlySet<string> = new Set([".ts", ".mts", ".cts", ".js", ".mjs", ".cjs", ".json"])

const DEBOUNCE_MS = 200

/** Whether a change to `file` (relative to a watched directory) counts: a source file, not in node_modules or a dot directory. */
export const watched = (file: string): boolean => {
  if (!RELOAD_EXTENSIONS.has(extname(file))) return false
  return !file.split(/[\\/]/).some((part) => part === "node_modules" || (part.startsWith(".") && part.length > 1))
}

/** `path` relative to the current directory when it is inside it, else as it is. */
const shown = (path: string): string => {
  const rel = relative(process.cwd(), path)
  return rel === "" ? "." : rel.startsWith("..") ? path : rel
}

/** This command again (the launcher, or main.ts, and the same arguments), as `role`. */
const again = (role: "serve" | "check", stdio: "inherit" | "pipe"): ChildProcess =>
  spawn(process.execPath, [...process.execArgv, process.argv[1]!, ...process.argv.slice(2)], {
    env: { ...process.env, [RELOAD_CHILD]: role },
    stdio: role === "serve" ? ["ignore", "inherit", "inherit", "ipc"] : ["ignore", stdio, stdio],
    detached: role === "serve"
  })

const exited = (child: ChildProcess): Promise<{ readonly code: number | null; readonly signal: string | null }> =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve({ code: child.exitCode, signal: child.signalCode })
    : new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })))

/** Runs the reloader (see the module's comment); never returns: the process exits 0 after SIGINT/SIGTERM. */
export const runReloader = (plan: ReloadPlan, log: RunnerLog): void => {
  let server: ChildProcess | undefined
  let stopping = false
  /** Files changed since the last restart began. */
  const changed = new Set<string>()
  let timer: ReturnType<typeof setTimeout> | undefined
  /** A restart is under way; `pending`: changes came during it. */
  let busy = false
  let pending = false
  let check: ChildProcess | undefined

  const start = (): void => {
    const child = again("serve", "inherit")
    server = child
    child.on("error", (error) => log.error(`reload: cannot start the server: ${error.message}`))
    child.once("exit", (code, signal) => {
      if (server === child) server = undefined
      if (stopping || (child as { egiStopped?: boolean }).egiStopped === true) return
      log.error(`reload: the server exited (${exitCause(code, signal)}); waiting for a change`)
    })
  }

  /** SIGTERM to the server child (it drains); SIGKILL after its drain timeout and a grace. */
  const stop = async (child: ChildProcess, signal: NodeJS.Signals = "SIGTERM"): Promise<void> => {
    ;(child as { egiStopped?: boolean }).egiStopped = true
    const done = exited(child)
    child.kill(signal)
    const kill = setTimeout(() => child.kill("SIGKILL"), plan.drainTimeout + KILL_GRACE_MS)
    await done
    clearTimeout(kill)
  }

  /** Whether the app loads now, in a throwaway child; the child's stderr when it does not. */
  const loads = async (): Promise<{ readonly ok: boolean; readonly output: string }> => {
    const child = again("check", "pipe")
    check = child
    let output = ""
    child.stdout!.setEncoding("utf8").on("data", (d: string) => (output += d))
    child.stderr!.setEncoding("utf8").on("data", (d: string) => (output += d))
    const spawnError = new Promise<Error>((resolve) => child.once("error", resolve))
    const result = await Promise.race([exited(child), spawnError])
    check = undefined
    if (result instanceof Error) return { ok: false, output: result.message }
    return { ok: result.code === 0, output: output.trim() || exitCause(result.code, result.signal) }
  }

  const restart = async (): Promise<void> => {
    if (busy) {
      pending = true
      return
    }
    busy = true
    try {
      do {
        pending = false
        const files = [...changed]
        changed.clear()
        const which = files.length <= 3 ? files.join(", ") : `${files.slice(0, 3).join(", ")} and ${files.length - 3} more`
        log.info(`reload: ${which} changed; checking that the app loads`)
        const { ok, output } = await loads()
        if (stopping) return
        if (!ok) {
          log.error(`reload: the app does not load${server === undefined ? "" : "; the old server keeps serving"} until the next change:\n${output}`)
          continue
        }
        log.info("reload: restarting the server")
        if (server !== undefined) await stop(server)
        if (stopping) return
        start()
      } while (pending && !stopping)
    } finally {
      busy = false
    }
  }

  const onChange = (dir: string) => (_event: string, filename: string | Buffer | null): void => {
    if (stopping || filename === null) return
    const name = filename.toString()
    if (!watched(name)) return
    changed.add(shown(`${dir}${sep}${name}`))
    if (timer !== undefined) clearTimeout(timer)
    timer = setTimeout(() => {
      timer = undefined
      void restart()
    }, DEBOUNCE_MS)
  }

  const watchers: Array<FSWatcher> = plan.dirs.map((dir) => {
    const watcher = watch(dir, { recursive: true }, onChange(dir))
    watcher.on("error", (error) => log.error(`reload: watching ${dir} failed: ${error.message}`))
    return watcher
  })
  log.info(`reload: watching ${plan.dirs.map(shown).join(", ")} for ${[...RELOAD_EXTENSIONS].join(", ")} changes`)

  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) return
    stopping = true
    log.info(`${signal} received`)
    if (timer !== undefined) clearTimeout(timer)
    for (const w of watchers) w.close()
    check?.kill("SIGKILL")
    const child = server
    void (child === undefined ? Promise.resolve() : stop(child, signal)).then(() => {
      log.flush()
      process.exit(0)
    })
  }
  process.on("SIGINT", onSignal)
  process.on("SIGTERM", onSignal)
  start()
}
