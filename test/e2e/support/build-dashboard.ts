import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";

const root = path.resolve(import.meta.dirname, "../../..");

/** wrangler dev serves the dashboard from dist/dashboard (wrangler.toml [assets]); build it from source first. */
export default async function buildDashboard() {
  const vite = path.join(root, "node_modules", "vite", "bin", "vite.js");
  await promisify(execFile)(
    process.execPath,
    [vite, "build", "--config", "app/vite.config.ts", "--logLevel", "warn"],
    {
      cwd: root,
    },
  );
}
