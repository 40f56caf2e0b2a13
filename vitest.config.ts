import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts", "examples/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Tests bind real sockets and spawn real clients; two cores.
    maxWorkers: 2,
    reporters: ["default", "./test/support/summary-reporter.ts"]
  }
})
