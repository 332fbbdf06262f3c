import { defineConfig } from "vitest/config";

/** The bench's smoke run: every figure measured with tiny counts, so `npm run bench` keeps working. */
export default defineConfig({
  test: {
    name: "bench",
    environment: "node",
    root: import.meta.dirname,
    include: ["**/*.test.ts"],
    // Long enough for a smoke run of rows 1-9 on a loaded 2-core machine (264 s seen at load average
    // 15); the bench's figures decide nothing here.
    testTimeout: 480_000,
    hookTimeout: 120_000,
    // After the unit suites, alone: its two `wrangler dev` servers and agent fleet would otherwise share
    // the two cores with other test files and crowd its deadline.
    sequence: { groupOrder: 1 },
  },
});
