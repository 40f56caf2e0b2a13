/**
 * The runner's `lifespan` option (spec.md §6, §8.3, rule RUN-20): `"auto"`
 * serves without lifespan when the app does not support it, `"on"` makes
 * that fatal, `"off"` never calls the app with a lifespan scope. In-process;
 * the CLI's `--lifespan` is tested in cli-config.test.ts.
 */
import { Cause, ConfigProvider, Effect, Exit } from "effect"
import { describe, expect, it } from "vitest"
import type { App } from "../../src/protocol/app.ts"
import { optionsConfig } from "../../src/runner/config.ts"
import { ServeError } from "../../src/runner/errors.ts"
import { start } from "../../src/runner/server.ts"
import { listen } from "../support/server.ts"

/** An app that answers lifespan when `supports`, else fails on it (as an app without lifespan does); http: the state it sees. */
const appOf = (supports: boolean, calls: Array<string>): App => (scope, receive, send) => {
  if (scope.type === "lifespan") {
    calls.push("lifespan")
    if (!supports) return Effect.fail(new Error("lifespan not supported (fixture)"))
    return Effect.gen(function*() {
      yield* receive
      scope.state["ready"] = true
      yield* send({ type: "lifespan.startup.complete" })
      yield* receive
      yield* send({ type: "lifespan.shutdown.complete" })
    })
  }
  if (scope.type !== "http") return Effect.void
  return Effect.gen(function*() {
    yield* send({ type: "http.response.start", status: 200, headers: [] })
    yield* send({ type: "http.response.body", body: new TextEncoder().encode(JSON.stringify(scope.state)) })
  })
}

/** The exit of starting `app` with `lifespan: mode` (the server closed again at once). */
const startExit = (app: App, mode: "auto" | "on" | "off") =>
  Effect.runPromiseExit(Effect.scoped(Effect.asVoid(start(app, { port: 0, log: false, lifespan: mode }))))

describe("RUN-20: the lifespan option", () => {
  it("RUN-20: lifespan \"off\": the app is never called with a lifespan scope, requests see an empty state, shutdown calls nothing", async () => {
    const calls: Array<string> = []
    const server = await listen(appOf(true, calls), { lifespan: "off" })
    try {
      const res = await fetch(server.url + "/")
      expect(await res.text()).toBe("{}")
    } finally {
      await server.close()
    }
    expect(calls).toEqual([])
    expect(server.lines.info.join("\n")).not.toContain("lifespan")
  })

  it("RUN-20: lifespan \"on\": an app without lifespan support fails the start with ServeError StartupFailed naming why; one with support serves its state", async () => {
    const exit = await startExit(appOf(false, []), "on")
    expect(Exit.isFailure(exit)).toBe(true)
    const error = Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined
    expect(error).toBeInstanceOf(ServeError)
    expect((error as ServeError).reason).toBe("StartupFailed")
    expect((error as ServeError).message).toMatch(/^StartupFailed: lifespan is on: not supported by the app \(.*lifespan not supported \(fixture\)/)
    // An app that returns without answering lifespan.startup fails too.
    const silent: App = () => Effect.void
    const silentExit = await startExit(silent, "on")
    expect(Exit.isFailure(silentExit) && String(Cause.squash(silentExit.cause))).toMatch(/returned without answering lifespan\.startup/)

    const calls: Array<string> = []
    const server = await listen(appOf(true, calls), { lifespan: "on" })
    try {
      expect(await (await fetch(server.url + "/")).text()).toBe(`{"ready":true}`)
    } finally {
      await server.close()
    }
    expect(calls).toEqual(["lifespan"])
  })

  it("RUN-20: lifespan \"auto\" (the default) serves an app without lifespan support, with one line saying so", async () => {
    const calls: Array<string> = []
    const server = await listen(appOf(false, calls))
    try {
      expect((await fetch(server.url + "/")).status).toBe(200)
    } finally {
      await server.close()
    }
    expect(calls).toEqual(["lifespan"])
    expect(server.lines.info.filter((l) => l.includes("lifespan: not supported by the app"))).toHaveLength(1)
  })

  it("RUN-20: a lifespan value other than auto, on, off is ServeError Options; EGI_LIFESPAN sets it through optionsConfig", async () => {
    const exit = await Effect.runPromiseExit(
      Effect.scoped(start(appOf(true, []), { port: 0, log: false, lifespan: "sometimes" as "on" }))
    )
    expect(Exit.isFailure(exit) && String(Cause.squash(exit.cause))).toMatch(/Options: lifespan must be "auto", "on" or "off"/)
    const read = (env: Record<string, string>) => Effect.runPromise(optionsConfig.parse(ConfigProvider.fromEnv({ env })))
    expect(await read({ EGI_LIFESPAN: "off" })).toEqual({ lifespan: "off" })
    await expect(read({ EGI_LIFESPAN: "maybe" })).rejects.toThrow()
  })
})
