import { mkdirSync } from "node:fs";
import path from "node:path";
import { freePort, type Managed, runCommand, startProcess, waitForHttp } from "./procs";

export const root = path.resolve(import.meta.dirname, "../..");
export const wranglerJs = path.join(root, "node_modules", "wrangler", "bin", "wrangler.js");

export type WranglerServer = {
  name: string;
  url: string;
  port: number;
  inspectorPort: number;
  proc: Managed;
};

const env = () => ({
  ...process.env,
  WRANGLER_SEND_METRICS: "false",
  CI: "1",
  NO_COLOR: "1",
  FORCE_COLOR: "0",
});

/** Applies a config's D1 migrations to a throwaway local state directory. */
export async function applyMigrations(config: string, persistTo: string, binding = "DB") {
  mkdirSync(persistTo, { recursive: true });
  await runCommand(
    process.execPath,
    [
      wranglerJs,
      "d1",
      "migrations",
      "apply",
      binding,
      "--local",
      "--config",
      config,
      "--persist-to",
      persistTo,
    ],
    { cwd: path.dirname(config), env: env(), timeoutMs: 120_000 },
  );
}

/**
 * Starts `wrangler dev` (real workerd, local D1/R2/Durable Objects) for a config on a free port of
 * 127.0.0.1, with its state under `persistTo`; resolves once `healthPath` answers.
 */
export async function startWrangler(opts: {
  name: string;
  config: string;
  persistTo: string;
  healthPath: string;
  vars?: Record<string, string>;
  logFile?: string;
}): Promise<WranglerServer> {
  const port = await freePort();
  const inspectorPort = await freePort();
  const args = [
    wranglerJs,
    "dev",
    "--config",
    opts.config,
    "--ip",
    "127.0.0.1",
    "--port",
    String(port),
    "--inspector-port",
    String(inspectorPort),
    "--persist-to",
    opts.persistTo,
    "--show-interactive-dev-session=false",
    "--log-level",
    "warn",
  ];
  for (const [k, v] of Object.entries(opts.vars ?? {})) args.push("--var", `${k}:${v}`);
  const proc = startProcess(opts.name, process.execPath, args, {
    cwd: path.dirname(opts.config),
    env: env(),
    logFile: opts.logFile,
  });
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}${opts.healthPath}`, 120_000, proc, /Build failed|EADDRINUSE/);
  return { name: opts.name, url, port, inspectorPort, proc };
}
