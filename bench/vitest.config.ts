import { defineConfig } from "vitest/config";

/** The bench's smoke run: every figure measured with tiny counts, so `npm run bench` keeps working. */
export default defineConfig({
  test: {
    name: "bench",
    environment: "node",
    root: import.meta.dirname,
    include: ["**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
