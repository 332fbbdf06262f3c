import { defineConfig } from "vitest/config";

/** One command runs every suite: the Worker inside workerd, the agent, and the end-to-end tests. */
export default defineConfig({
  test: {
    projects: [
      "test/vitest.config.ts",
      "gpu-agent/vitest.config.ts",
      "test/e2e/vitest.config.ts",
      "bench/vitest.config.ts",
      "test/scripts/vitest.config.ts",
    ],
    // Two test files at a time on the 2-core machines CI runs on (vitest's default there is one): a file
    // spends much of its time waiting on its workerd or child processes, so the second core stays busy.
    // The e2e project runs its files one by one after the rest (`fileParallelism: false`).
    maxWorkers: 2,
    // A workerd is torn down while its Durable Objects may still be finishing fire-and-forget work
    // (fleet events, webhook sends); vitest reports those calls as teardown errors, not failures.
    onUnhandledError: (error) => error.name !== "EnvironmentTeardownError",
  },
});
