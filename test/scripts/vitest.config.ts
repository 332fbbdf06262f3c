import { defineConfig } from "vitest/config";

/** Tests of `npm start`'s own logic (scripts/), in Node. */
export default defineConfig({
  test: {
    name: "scripts",
    root: import.meta.dirname,
    include: ["**/*.test.ts"],
    environment: "node",
  },
});
