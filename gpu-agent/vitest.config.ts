import { defineConfig } from "vitest/config";

/** The agent's suite (client, simulator, agent); runs alone or as the root's `agent` project. */
export default defineConfig({
  root: import.meta.dirname,
  test: {
    name: "agent",
    environment: "node",
    include: ["test/**/*.test.ts"],
    testTimeout: 15_000,
  },
});
