import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";

const root = path.resolve(import.meta.dirname, "../../..");
const node = (...args: string[]) => promisify(execFile)(process.execPath, args, { cwd: root });

/**
 * Builds what the e2e files run, once for the project: the dashboard (wrangler dev serves it from
 * dist/dashboard, wrangler.toml [assets]) and the one-file agent that GPU hosts run (`agentBundle`).
 */
export async function buildArtifacts() {
  const vite = path.join(root, "node_modules", "vite", "bin", "vite.js");
  await Promise.all([
    node(vite, "build", "--config", "app/vite.config.ts", "--logLevel", "warn"),
    node(path.join(root, "gpu-agent", "build.mjs")),
  ]);
}
