import { randomBytes } from "node:crypto";
import path from "node:path";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

const root = path.resolve(import.meta.dirname, "..");

export default defineConfig(async () => {
  const migrations = await readD1Migrations(path.join(root, "migrations"));
  return {
    plugins: [
      cloudflareTest({
        wrangler: { configPath: path.join(root, "wrangler.toml") },
        miniflare: {
          bindings: {
            TEST_MIGRATIONS: migrations,
            JWT_SECRET: "test-jwt-secret-0123456789abcdef0123456789",
            URL_SIGNING_SECRET: "test-url-secret-0123456789abcdef0123456789",
            // per run, as `npm start` does per checkout; nothing is fixed in wrangler.toml
            R2_ACCESS_KEY_ID: `test-${randomBytes(6).toString("hex")}`,
            R2_SECRET_ACCESS_KEY: randomBytes(32).toString("hex"),
          },
        },
      }),
    ],
    test: {
      name: "worker",
      include: ["worker/**/*.test.ts"],
      setupFiles: ["worker/setup.ts"],
    },
  };
});
