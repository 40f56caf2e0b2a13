#!/usr/bin/env node
// EGI command-line launcher. Plain JS (no TypeScript, no dependencies) so it
// also starts on an old system Node. Installed as a package (under
// node_modules, or wherever there is no src/ beside it) it runs the built CLI,
// dist/cli/main.js; in a checkout of the repository it runs the TypeScript
// sources directly (no build step). On a Node older than 22.19 a checkout
// re-executes itself under the Node 24 that `bash scripts/setup.sh`
// bootstraps into <repo>/.tools; an installed package says which Node it needs.
//
// Signals (spec.md §8.4, rule RUN-12): whoever starts this file must be able
// to stop the server with SIGTERM/SIGINT sent to the pid it started. On an
// old Node with process.execve (>= 22.15) the re-execution replaces this
// process (same pid). Otherwise the launcher stays as the parent: it passes
// SIGINT, SIGTERM and SIGHUP on and exits with the child's status, and the
// child, connected to it by an IPC channel, drains and exits as on SIGTERM
// when the launcher goes away without passing anything on (SIGKILL).
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import module from "node:module";
import v8 from "node:v8";
import { constants } from "node:os";
import { fileURLToPath } from "node:url";

const MIN = [22, 19];
const here = fileURLToPath(import.meta.url);
const sources = new URL("../src/cli/main.ts", import.meta.url);
// A checkout: the sources are beside this file and it is not inside node_modules.
const checkout = !here.split(/[\\/]/).includes("node_modules") && existsSync(sources);
const entry = checkout ? sources : new URL("../dist/cli/main.js", import.meta.url);
const [major, minor] = process.versions.node.split(".").map(Number);
// package.json "engines": ^22.19.0 || >=24.0.0 (Node 22 LTS from 22.19, what effect 4 needs, and Node 24 LTS on).
const supported = major >= 24 || (major === MIN[0] && minor >= MIN[1]);

if (supported) {
  const launched = process.env.EGI_LAUNCHER_REEXEC === "1";
  delete process.env.EGI_LAUNCHER_REEXEC; // don't leak the loop guard to processes the CLI starts
  if (launched && process.channel) {
    // The launcher's channel closes when the launcher exits, however it dies.
    process.once("disconnect", () => process.kill(process.pid, "SIGTERM"));
    process.channel.unref();
  }
  // V8's allocation-site pretenuring, off before anything is loaded. While
  // the server starts, the sites that allocate effect's fibers, contexts and
  // primitives make long-lived objects, so V8 decides to allocate there in
  // the old generation; per request those same sites then make short-lived
  // objects that only a full GC frees, and every young object they point to
  // (the request's, the response's) survives scavenges because of them and
  // is promoted too. Measured on Node 24 (hello, same run, pinned): server
  // CPU per request 23.5 → 20.5 µs on h2c and 39.5 → 34.5 µs on HTTP/1.1,
  // old space flat under load instead of growing ~8 MB a scavenge.
  // `node --allocation-site-pretenuring bin/egi.mjs` does not undo it;
  // EGI_V8_PRETENURING=1 keeps V8's default.
  if (process.env.EGI_V8_PRETENURING !== "1") v8.setFlagsFromString("--no-allocation-site-pretenuring");
  // V8's compiled code for effect and the CLI, kept between starts (Node's compile cache, in the OS temp dir).
  module.enableCompileCache?.();
  // V8's young generation, held at its initial size while the server starts.
  // Loading effect, the CLI and the app makes mostly long-lived objects, so
  // V8 would grow the new space to its maximum (32 MiB, both semi-spaces
  // resident) and keep it at idle. Growth factor 1 means no growth; once the
  // server listens (the runner emits `egi:listening` on process; at the
  // latest after 5 s) it may grow under load again, as below. Measured on
  // Node 24 (examples/hello.ts): idle RSS 119 → 104 MiB, time to
  // "listening" unchanged (~0.6 s).
  // EGI_V8_NEW_SPACE=1 keeps V8's default from the start.
  //
  // Under load the same flag keeps the new space at 32 MiB: V8 grows it up
  // to 128 MiB on this kind of machine, all of it resident, and scavenges
  // cost what survives them, not the space's size. After each GC the growth
  // factor is 2 while one more doubling stays within 32 MiB, else 1 (V8
  // reads it at each growth; `--max-semi-space-size` is only read at start).
  // Measured on Node 24 (hello, 250,000 requests over h2c): RSS after 370 →
  // ~255 MiB (raw node:http2: 258–277 MiB), server CPU per request the same
  // within the noise (pinned A/B, 7 rounds). A --max-semi-space-size given
  // to node is left to V8.
  //
  // The factor is steered by a timer, 10 times a second, not at each GC:
  // node builds a performance entry for every GC a PerformanceObserver is
  // told of, which cost 0.10–0.16 µs per request under load (CPU profile,
  // hello over h2c and HTTP/1.1). Between two looks the space can grow at
  // most once more than the cap allows only if V8 grows it twice within
  // 100 ms.
  let holdingNewSpace = process.env.EGI_V8_NEW_SPACE !== "1";
  const capNewSpace = () => {
    const given = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? "").split(/\s+/)].some((a) => /^--max-semi-space-size\b/.test(a));
    if (given) return v8.setFlagsFromString("--semi-space-growth-factor=2");
    const cap = 32 * 1024 * 1024;
    let factor = 0;
    const steer = () => {
      const size = v8.getHeapSpaceStatistics().find((s) => s.space_name === "new_space")?.space_size ?? 0;
      const next = size * 2 > cap ? 1 : 2;
      if (next !== factor) v8.setFlagsFromString(`--semi-space-growth-factor=${next}`);
      factor = next;
    };
    steer();
    setInterval(steer, 100).unref();
  };
  const releaseNewSpace = () => {
    if (holdingNewSpace) capNewSpace();
    holdingNewSpace = false;
  };
  if (holdingNewSpace) {
    v8.setFlagsFromString("--semi-space-growth-factor=1");
    process.once("egi:listening", releaseNewSpace);
  }
  // Node writes the compile cache at exit, which a server stopped by SIGKILL
  // (or an orchestrator) never reaches: write it once the server has started
  // too. A start from the cache holds ~25 MiB less (idle RSS of
  // examples/hello.ts 155 → 119 MiB on Node 24), and starts sooner.
  setTimeout(() => {
    module.flushCompileCache?.();
    releaseNewSpace();
  }, 5000).unref();
  if (!checkout && !existsSync(entry)) {
    process.stderr.write(`egi: ${fileURLToPath(entry)} is missing: this copy of egi was not built (npm run build)\n`);
    process.exit(1);
  }
  await import(entry.href);
} else {
  const toolsNode = fileURLToPath(new URL("../.tools/node_modules/.bin/node", import.meta.url));
  if (!checkout || !existsSync(toolsNode) || process.env.EGI_LAUNCHER_REEXEC === "1") {
    process.stderr.write(
      `egi: Node ^22.19 or >= 24 is required (found v${process.versions.node})` +
        (checkout ? "; run: bash scripts/setup.sh\n" : "\n"),
    );
    process.exit(1);
  }

  const args = [here, ...process.argv.slice(2)];
  const env = { ...process.env, EGI_LAUNCHER_REEXEC: "1" };

  if (typeof process.execve === "function") {
    // Same pid, no launcher left: signals reach the server directly.
    process.execve(toolsNode, [toolsNode, ...args], env);
  }

  const child = spawn(toolsNode, args, { stdio: ["inherit", "inherit", "inherit", "ipc"], env });

  const forwarded = ["SIGINT", "SIGTERM", "SIGHUP"];
  const forward = (signal) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  };
  for (const signal of forwarded) process.on(signal, forward);

  child.on("error", (err) => {
    process.stderr.write(`egi: failed to start ${toolsNode}: ${err.message}\n`);
    process.exit(1);
  });
  child.on("exit", (code, signal) => {
    for (const s of forwarded) process.off(s, forward);
    process.exit(signal ? 128 + (constants.signals[signal] ?? 0) : (code ?? 1));
  });
}
