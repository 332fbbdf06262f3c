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
            // Webhook tests post to a closed loopback port: allowed, and quick to give up on.
            ALLOW_LOCAL_WEBHOOKS: "true",
            WEBHOOK_MAX_ATTEMPTS: "2",
            WEBHOOK_RETRY_BASE_SECONDS: "0",
            WEBHOOK_TIMEOUT_SECONDS: "2",
            // Tests poll freely; the rate-limit tests pass small limits to the app themselves.
            RATE_LIMIT_PER_MINUTE: "1000000",
            RATE_LIMIT_PER_HOUR: "1000000",
            RATE_LIMIT_PER_DAY: "1000000",
            AUTH_MAX_FAILURES: "1000000",
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
      // One workerd per vitest worker for all its files instead of one per file (most of a file's time):
      // files then share D1, R2, Durable Objects and module state, so each test scopes itself to the
      // users and rows it creates.
      isolate: false,
      // A deadline for a test that hangs, not a measure: a loaded 2-core machine is several times slower.
      testTimeout: 60_000,
    },
  };
});
