import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // the long load tests: `npm run test:load` (vitest.load.config.ts)
    exclude: ["test/load/**", "**/node_modules/**"],
    globalSetup: ["test/harness/globalSetup.ts"],
    // real servers and real programs: give them time, and keep files apart
    testTimeout: 120_000,
    hookTimeout: 180_000,
    pool: "forks",
    reporters: ["default"]
  }
})
