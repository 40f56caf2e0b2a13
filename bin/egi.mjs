#!/usr/bin/env node
// EGI command-line launcher. Plain JS (no TypeScript, no dependencies) so it
// also starts on an old system Node: on Node >= 22.19 it loads the TypeScript
// CLI directly; otherwise it re-executes itself under the Node 24 that
// `bash scripts/setup.sh` bootstraps into <repo>/.tools.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { constants } from "node:os";
import { fileURLToPath } from "node:url";

const MIN = [22, 19];
const [major, minor] = process.versions.node.split(".").map(Number);
const supported = major > MIN[0] || (major === MIN[0] && minor >= MIN[1]);

if (supported) {
  delete process.env.EGI_LAUNCHER_REEXEC; // don't leak the loop guard to processes the CLI starts
  await import(new URL("../src/cli/main.ts", import.meta.url).href);
} else {
  const toolsNode = fileURLToPath(new URL("../.tools/node_modules/.bin/node", import.meta.url));
  if (!existsSync(toolsNode) || process.env.EGI_LAUNCHER_REEXEC === "1") {
    process.stderr.write(
      `egi: Node >= ${MIN.join(".")} is required (found v${process.versions.node}); run: bash scripts/setup.sh\n`,
    );
    process.exit(1);
  }

  const child = spawn(toolsNode, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: "inherit",
    env: { ...process.env, EGI_LAUNCHER_REEXEC: "1" },
  });

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
