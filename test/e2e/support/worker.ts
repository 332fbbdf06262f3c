import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { newLocalS3Credentials, writeLocalWranglerConfig } from "../../../scripts/lib/local-s3.mjs";

const root = path.resolve(import.meta.dirname, "../../..");
const wrangler = path.join(root, "node_modules", ".bin", "wrangler");

export type E2EUser = {
  id: string;
  email: string;
  username: string;
  password: string;
  access: string;
  apiKey: string;
};

export type RunningWorker = {
  /** e.g. `http://127.0.0.1:40123` */
  url: string;
  /** Registers a fresh user, logs in and creates an API key. */
  createUser(label?: string): Promise<E2EUser>;
  /** Everything wrangler printed so far, for failure messages. */
  logs(): string;
  stop(): Promise<void>;
};

export type StartOptions = {
  /** Extra `--var NAME:value` bindings (vars or secrets), e.g. a smaller quota. */
  vars?: Record<string, string>;
  /** Milliseconds to wait for `/api/health`. */
  timeoutMs?: number;
};

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

function run(args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(wrangler, args, { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d) => {
      output += d;
    });
    child.stderr.on("data", (d) => {
      output += d;
    });
    child.on("error", reject);
    child.on("exit", (code) =>
      code === 0
        ? resolve(output)
        : reject(new Error(`wrangler ${args.join(" ")} failed (${code}):\n${output}`)),
    );
  });
}

async function waitForHealth(url: string, child: ChildProcess, timeoutMs: number, logs: () => string) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited (${child.exitCode}):\n${logs()}`);
    try {
      const res = await fetch(`${url}/api/health`, { signal: AbortSignal.timeout(2000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`wrangler dev did not answer /api/health within ${timeoutMs} ms:\n${logs()}`);
}

function stopProcessGroup(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.pid === undefined) return resolve();
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

async function json<T>(res: Response, what: string): Promise<T> {
  const text = await res.text();
  if (!res.ok) throw new Error(`${what} failed: ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

/**
 * Starts the real control plane (`wrangler dev`: workerd with local D1, R2, Durable Objects) on a
 * free port, with its own state in a temporary directory and the migrations applied there first.
 */
export async function startWorker(options: StartOptions = {}): Promise<RunningWorker> {
  const persistTo = await mkdtemp(path.join(tmpdir(), "comfy-edge-e2e-"));
  const env = { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "1", NO_COLOR: "1" };
  await run(["d1", "migrations", "apply", "DB", "--local", "--persist-to", persistTo], env);

  const [port, inspectorPort] = [await freePort(), await freePort()];
  const s3 = newLocalS3Credentials();
  const config = writeLocalWranglerConfig(`e2e-${port}`, s3);
  const vars = {
    JWT_SECRET: "e2e-jwt-secret-0123456789abcdef0123456789abcdef",
    URL_SIGNING_SECRET: "e2e-url-secret-0123456789abcdef0123456789abcdef",
    R2_ACCESS_KEY_ID: s3.accessKeyId,
    R2_SECRET_ACCESS_KEY: s3.secretAccessKey,
    ...options.vars,
  };
  const args = [
    "dev",
    "--config",
    config,
    "--port",
    String(port),
    "--ip",
    "127.0.0.1",
    "--inspector-port",
    String(inspectorPort),
    "--persist-to",
    persistTo,
    "--show-interactive-dev-session=false",
    "--var",
    ...Object.entries(vars).map(([name, value]) => `${name}:${value}`),
  ];
  const child = spawn(wrangler, args, { cwd: root, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const collect = (d: Buffer) => {
    output = (output + d.toString()).slice(-20_000);
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    await stopProcessGroup(child);
    await rm(persistTo, { recursive: true, force: true });
    await rm(config, { force: true });
  };
  try {
    await waitForHealth(url, child, options.timeoutMs ?? 90_000, () => output);
  } catch (err) {
    await stop();
    throw err;
  }

  let counter = 0;
  const createUser = async (label = "user"): Promise<E2EUser> => {
    counter += 1;
    const username = `${label}${counter}${crypto.randomUUID().slice(0, 8)}`.toLowerCase();
    const email = `${username}@example.com`;
    const password = "correct horse battery";
    const post = (p: string, body: unknown, token?: string) =>
      fetch(`${url}${p}`, {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          ...(token ? { Authorization: `Bearer ${token}` } : {}),
        },
        body: JSON.stringify(body),
      });
    const user = await json<{ id: string }>(
      await post("/api/auth/register", { email, username, password }),
      "register",
    );
    const login = await json<{ access_token: string }>(
      await post("/api/auth/login", { email, password }),
      "login",
    );
    const key = await json<{ key: string }>(
      await post("/api/keys", { name: "e2e" }, login.access_token),
      "create key",
    );
    return { id: user.id, email, username, password, access: login.access_token, apiKey: key.key };
  };

  return { url, createUser, logs: () => output, stop };
}
