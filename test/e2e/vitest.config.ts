import path from "node:path";
import { defineConfig } from "vitest/config";

/** End-to-end tests: real processes (`wrangler dev`, agents) and real sockets, in Node. */
export default defineConfig({
  test: {
    name: "e2e",
    root: path.resolve(import.meta.dirname, "../.."),
    include: ["test/e2e/**/*.e2e.test.ts"],
    environment: "node",
    // Builds the dashboard and the agent, then starts the shared `wrangler dev`, in the background.
    globalSetup: ["test/e2e/support/global-worker.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
});
