import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { inject } from "vitest";

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
 * The settings of the control plane all e2e files share: short leases, so a killed agent's run moves on
 * within seconds, and a streamed-upload limit small enough to cross with a test's upload.
 */
export const SHARED_WORKER_VARS = {
  LEASE_TTL_MS: "3000",
  MAX_STREAMED_UPLOAD_BYTES: String(12 * 1024 * 1024),
};

/**
 * The project's shared control plane (started once by `global-worker.ts`, with SHARED_WORKER_VARS).
 * Every test makes its own users, so files do not see each other's rows.
 */
export function sharedWorker(): Pick<RunningWorker, "url" | "createUser"> {
  const url = inject("sharedWorkerUrl");
  return { url, createUser: userFactory(url) };
}

/** wrangler dev's words when a port it was given was taken between choosing it and binding it. */
const PORT_TAKEN = /Address already in use|EADDRINUSE/;

type Launched = { url: string; inspectorPort: number; child: ChildProcess; logs: () => string };

/** One `wrangler dev` on free ports; picks new ones when another process took them first. */
async function launch(
  args: string[],
  env: NodeJS.ProcessEnv,
  options: { cwd: string; timeoutMs: number },
): Promise<Launched> {
  for (let attempt = 1; ; attempt++) {
    const [port, inspectorPort] = [await freePort(), await freePort()];
    const ports = ["--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(inspectorPort)];
    const child = spawn(wrangler, ["dev", ...ports, ...args], {
      cwd: options.cwd,
      env,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    const collect = (d: Buffer) => {
      output = (output + d.toString()).slice(-20_000);
    };
    child.stdout?.on("data", collect);
    child.stderr?.on("data", collect);
    const url = `http://127.0.0.1:${port}`;
    try {
      await waitForHealth(url, child, options.timeoutMs, () => output);
      return { url, inspectorPort, child, logs: () => output };
    } catch (err) {
      await stopProcessGroup(child);
      if (attempt >= 3 || !PORT_TAKEN.test(output)) throw err;
    }
  }
}

/**
 * Starts the real control plane (`wrangler dev`: workerd with local D1, R2, Durable Objects) on a
 * free port, with its own state in a temporary directory and the migrations applied there first.
 */
export async function startWorker(options: StartOptions = {}): Promise<RunningWorker> {
  const persistTo = await mkdtemp(path.join(tmpdir(), "comfy-edge-e2e-"));
  const env = { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "1", NO_COLOR: "1" };
  await run(["d1", "migrations", "apply", "DB", "--local", "--persist-to", persistTo], env);

  const vars = {
    JWT_SECRET: "e2e-jwt-secret-0123456789abcdef0123456789abcdef",
    URL_SIGNING_SECRET: "e2e-url-secret-0123456789abcdef0123456789abcdef",
    ...options.vars,
  };
  const args = [
    "--persist-to",
    persistTo,
    "--show-interactive-dev-session=false",
    "--var",
    ...Object.entries(vars).map(([name, value]) => `${name}:${value}`),
  ];
  let launched: Launched;
  try {
    launched = await launch(args, env, { cwd: root, timeoutMs: options.timeoutMs ?? 90_000 });
  } catch (err) {
    await rm(persistTo, { recursive: true, force: true });
    throw err;
  }
  const { url, child } = launched;
  const stop = async () => {
    await stopProcessGroup(child);
    await rm(persistTo, { recursive: true, force: true });
  };
  return { url, createUser: userFactory(url), logs: launched.logs, stop };
}

/** Registers a fresh user on the control plane at `url`, logs in and creates an API key. */
export function userFactory(url: string): RunningWorker["createUser"] {
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
  return createUser;
}
