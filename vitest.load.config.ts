import { defineConfig } from "vitest/config"

// `npm run test:load`: the long load tests (test/load), outside `.ci/run` for their time
export default defineConfig({
  test: {
    include: ["test/load/**/*.test.ts"],
    globalSetup: ["test/harness/globalSetup.ts"],
    testTimeout: 3_600_000,
    hookTimeout: 180_000,
    pool: "forks",
    reporters: ["default"]
  }
})
