import { applyMigrations as applyTo, root, startDevServer, wranglerJs } from "../../test/e2e/support/worker";
import { adopt } from "./procs";

export { root, wranglerJs };

export type WranglerServer = {
  name: string;
  url: string;
  port: number;
  inspectorPort: number;
  /** Its process group, for CPU accounting. */
  pid: number;
};

/** Applies a config's D1 migrations to a throwaway local state directory. */
export const applyMigrations = (config: string, persistTo: string) => applyTo(persistTo, config);

/**
 * Starts `wrangler dev` for a config with the tests' launcher (free ports, its inspector's too), with
 * its state under `persistTo`; it stops with the bench.
 */
export async function startWrangler(opts: {
  name: string;
  config: string;
  persistTo: string;
  healthPath: string;
  vars?: Record<string, string>;
  logFile?: string;
}): Promise<WranglerServer> {
  const { name, ...options } = opts;
  const server = await startDevServer({ ...options, timeoutMs: 120_000, extraArgs: ["--log-level", "warn"] });
  adopt(server.pid, server.stop);
  return { name, url: server.url, port: server.port, inspectorPort: server.inspectorPort, pid: server.pid };
}
