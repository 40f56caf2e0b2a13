/**
 * `--help` for the benchmark scripts: prints the script's usage and exits 0
 * before `parseArgs` runs (which refuses a flag it does not know).
 */
export const helpIfAsked = (usage: string): void => {
  if (!process.argv.includes("--help") && !process.argv.includes("-h")) return
  process.stdout.write(usage.endsWith("\n") ? usage : `${usage}\n`)
  process.exit(0)
}
