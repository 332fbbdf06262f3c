import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { createServer } from "node:net";
import path from "node:path";
import { newLocalS3Credentials, writeLocalWranglerConfig } from "../../../scripts/lib/local-s3.mjs";

export const root = path.resolve(import.meta.dirname, "../../..");
/** Run with this process's Node: wrangler needs ≥ 22, which the dev dependencies bring. */
export const wranglerJs = path.join(root, "node_modules", "wrangler", "bin", "wrangler.js");
const productConfig = path.join(root, "wrangler.toml");

/** wrangler dev's words when a port it was given was taken between choosing it and binding it. */
const PORT_TAKEN = /Address already in use|EADDRINUSE/;
const BUILD_FAILED = /Build failed/;

const wranglerEnv = (): NodeJS.ProcessEnv => ({
  ...process.env,
  WRANGLER_SEND_METRICS: "false",
  CI: "1",
  NO_COLOR: "1",
  FORCE_COLOR: "0",
});

/** A port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function runWrangler(args: string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [wranglerJs, ...args], {
      cwd,
      env: wranglerEnv(),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    const add = (d: Buffer) => {
      output += d;
    };
    child.stdout.on("data", add);
    child.stderr.on("data", add);
    child.on("error", reject);
    child.on("exit", (code) =>
      code === 0
        ? resolve(output)
        : reject(new Error(`wrangler ${args.join(" ")} failed (${code}):\n${output}`)),
    );
  });
}

/** Applies a config's D1 migrations (default: the product's) to a local state directory. */
export async function applyMigrations(persistTo: string, config = productConfig) {
  await mkdir(persistTo, { recursive: true });
  const args = ["d1", "migrations", "apply", "DB", "--local", "--config", config, "--persist-to", persistTo];
  await runWrangler(args, path.dirname(config));
}

async function waitForHealth(url: string, child: ChildProcess, timeoutMs: number, logs: () => string) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited (${child.exitCode}):\n${logs()}`);
    if (BUILD_FAILED.test(logs())) throw new Error(`wrangler dev could not build the Worker:\n${logs()}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`wrangler dev did not answer ${url} within ${timeoutMs} ms:\n${logs()}`);
}

/** Stops a process group: SIGTERM, then SIGKILL after 5 s. */
export function stopProcessGroup(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return resolve();
    const pid = child.pid;
    const kill = setTimeout(() => {
      try {
        process.kill(-pid, "SIGKILL");
      } catch {
        // already gone
      }
    }, 5000);
    child.once("exit", () => {
      clearTimeout(kill);
      resolve();
    });
    try {
      process.kill(-pid, "SIGTERM");
    } catch {
      clearTimeout(kill);
      resolve();
    }
  });
}

export type DevServerOptions = {
  /** The wrangler config; default the product's `wrangler.toml`. */
  config?: string;
  /** Local D1/R2/Durable Object state (migrations applied there already). */
  persistTo: string;
  /** Listen here instead of on a free port (a restart on the same address). */
  port?: number;
  /** `--var NAME:value` bindings (vars or secrets). */
  vars?: Record<string, string>;
  /** What answers 2xx once it is up; default `/api/health`. */
  healthPath?: string;
  timeoutMs?: number;
  /** A file that gets everything it prints, besides the in-memory tail. */
  logFile?: string;
  extraArgs?: string[];
};

/** Credentials of the local S3 endpoint (`/cdn-cgi/local/r2/s3/<bucket>`) that `wrangler dev` serves. */
export type LocalS3Credentials = { accessKeyId: string; secretAccessKey: string };

export type DevServer = {
  url: string;
  port: number;
  /** Null when the caller brought its own config. */
  s3: LocalS3Credentials | null;
  inspectorPort: number;
  /** Its process group, stopped as one. */
  pid: number;
  logs(): string;
  stop(): Promise<void>;
};

/**
 * Starts `wrangler dev` (real workerd, local D1/R2/Durable Objects) on free ports of 127.0.0.1, its
 * inspector's included, so it runs beside `npm start`; picks new ports when another process took them
 * before it bound them. The one launcher of the end-to-end tests and the bench.
 */
export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  const local = options.config ? null : localS3Config();
  const config = options.config ?? (local?.config as string);
  const allVars = { ...local?.vars, ...options.vars };
  const vars = Object.entries(allVars).flatMap(([name, value]) => ["--var", `${name}:${value}`]);
  const log = options.logFile ? createWriteStream(options.logFile) : null;
  for (let attempt = 1; ; attempt++) {
    const [port, inspectorPort] = [options.port ?? (await freePort()), await freePort()];
    const args = [wranglerJs, "dev", "--config", config, "--ip", "127.0.0.1", "--port", String(port)];
    args.push("--inspector-port", String(inspectorPort), "--persist-to", options.persistTo);
    args.push("--show-interactive-dev-session=false", ...(options.extraArgs ?? []), ...vars);
    const child = spawn(process.execPath, args, {
      cwd: path.dirname(config),
      env: wranglerEnv(),
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    const collect = (d: Buffer) => {
      log?.write(d);
      output = (output + d.toString()).slice(-20_000);
    };
    child.stdout?.on("data", collect);
    child.stderr?.on("data", collect);
    const url = `http://127.0.0.1:${port}`;
    const health = `${url}${options.healthPath ?? "/api/health"}`;
    try {
      await waitForHealth(health, child, options.timeoutMs ?? 90_000, () => output);
    } catch (err) {
      await stopProcessGroup(child);
      if (attempt < 3 && PORT_TAKEN.test(output)) continue;
      log?.end();
      if (local) await rm(local.config, { force: true });
      throw err;
    }
    const stop = async () => {
      await stopProcessGroup(child);
      log?.end();
      if (local) await rm(local.config, { force: true });
    };
    const s3 = local?.s3 ?? null;
    return { url, port, s3, inspectorPort, pid: child.pid as number, logs: () => output, stop };
  }
}

/**
 * The product's config with fresh local S3 credentials (nothing is fixed in `wrangler.toml`), and the
 * vars the Worker signs presigned URLs with.
 */
function localS3Config() {
  const s3 = newLocalS3Credentials();
  const config = writeLocalWranglerConfig(`test-${randomUUID().slice(0, 8)}`, s3);
  return {
    config,
    s3,
    vars: { R2_ACCESS_KEY_ID: s3.accessKeyId, R2_SECRET_ACCESS_KEY: s3.secretAccessKey },
  };
}
