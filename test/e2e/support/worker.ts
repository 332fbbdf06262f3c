import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { beforeAll, inject } from "vitest";
import { applyMigrations, type DevServer, type LocalS3Credentials, startDevServer } from "./dev-server";

declare module "vitest" {
  export interface ProvidedContext {
    /**
     * Where `global-worker.ts` writes the shared `wrangler dev`'s URL once it answers (`url`), or why
     * it or the builds before it failed (`failure`); see `sharedWorker()`.
     */
    sharedWorkerFiles: { url: string; failure: string };
  }
}

export { applyMigrations, type DevServer, freePort, root, startDevServer, wranglerJs } from "./dev-server";

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
  /** The local S3 endpoint's credentials, to look into the bucket as R2 holds it. */
  readonly s3: LocalS3Credentials;
  /** Everything wrangler printed so far, for failure messages. */
  logs(): string;
  /** Stops `wrangler dev` and starts it again on the same port with the same state, as after a crash. */
  restart(): Promise<void>;
  stop(): Promise<void>;
};

export type StartOptions = {
  /** Extra `--var NAME:value` bindings (vars or secrets), e.g. a smaller quota. */
  vars?: Record<string, string>;
  /** Lets webhooks target plain http on 127.0.0.1 (a receiver in the test), as `npm start` does. */
  allowLocalWebhooks?: boolean;
  /** Milliseconds to wait for `/api/health`. */
  timeoutMs?: number;
};

async function json<T>(res: Response, what: string): Promise<T> {
  const text = await res.text();
  if (!res.ok) throw new Error(`${what} failed: ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

/**
 * The settings of the control plane all e2e files share: short leases, so a killed agent's run moves on
 * within seconds; a streamed-upload limit small enough to cross with a test's upload; webhooks to a
 * receiver on 127.0.0.1, tried three times, retried at once, 2 s each, so the retry and dead-letter
 * paths end within seconds.
 */
export const SHARED_WORKER_VARS = {
  LEASE_TTL_MS: "3000",
  MAX_STREAMED_UPLOAD_BYTES: String(12 * 1024 * 1024),
  ALLOW_LOCAL_WEBHOOKS: "true",
  WEBHOOK_MAX_ATTEMPTS: "3",
  WEBHOOK_RETRY_BASE_SECONDS: "0",
  WEBHOOK_TIMEOUT_SECONDS: "2",
};

/** How long a file waits for the shared worker: the builds and `wrangler dev` on a loaded machine. */
const SHARED_WORKER_WAIT_MS = 300_000;

/**
 * The shared `wrangler dev`'s URL once it answers, which also means the dashboard and the agent bundle
 * are built (`global-worker.ts` starts it after them, beside the other projects' tests); throws at once
 * with the reason when they failed.
 */
export async function sharedWorkerUrl(): Promise<string> {
  const files = inject("sharedWorkerFiles");
  const deadline = Date.now() + SHARED_WORKER_WAIT_MS;
  for (;;) {
    const failure = await readFile(files.failure, "utf8").catch(() => null);
    if (failure !== null) throw new Error(`the shared wrangler dev did not start:\n${failure}`);
    const url = await readFile(files.url, "utf8").catch(() => null);
    if (url) return url;
    if (Date.now() > deadline)
      throw new Error(`the shared wrangler dev was not up within ${SHARED_WORKER_WAIT_MS} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * The project's shared control plane (started once by `global-worker.ts`, with SHARED_WORKER_VARS),
 * known from the file's first hook on. Every test makes its own users, so files do not see each other's
 * rows.
 */
export function sharedWorker(): Pick<RunningWorker, "url" | "createUser"> {
  let url: string | undefined;
  let createUser: RunningWorker["createUser"] | undefined;
  beforeAll(async () => {
    url = await sharedWorkerUrl();
    createUser = userFactory(url);
  }, SHARED_WORKER_WAIT_MS + 10_000);
  const ready = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error("the shared worker is known only once the file's hooks ran");
    return value;
  };
  return {
    get url() {
      return ready(url);
    },
    createUser: (label) => ready(createUser)(label),
  };
}

/**
 * Starts the real control plane on free ports, with its own state in a temporary directory and the
 * migrations applied there first.
 */
export async function startWorker(options: StartOptions = {}): Promise<RunningWorker> {
  const persistTo = await mkdtemp(path.join(tmpdir(), "comfy-edge-e2e-"));
  const vars = {
    JWT_SECRET: "e2e-jwt-secret-0123456789abcdef0123456789abcdef",
    URL_SIGNING_SECRET: "e2e-url-secret-0123456789abcdef0123456789abcdef",
    // Tests poll; a test wanting real limits passes them in `vars`.
    RATE_LIMIT_PER_MINUTE: "1000000",
    RATE_LIMIT_PER_HOUR: "1000000",
    RATE_LIMIT_PER_DAY: "1000000",
    ...(options.allowLocalWebhooks ? { ALLOW_LOCAL_WEBHOOKS: "true" } : {}),
    ...options.vars,
  };
  let server: DevServer;
  try {
    await applyMigrations(persistTo);
    server = await startDevServer({ persistTo, vars, timeoutMs: options.timeoutMs });
  } catch (err) {
    await rm(persistTo, { recursive: true, force: true });
    throw err;
  }
  const stop = async () => {
    await server.stop();
    await rm(persistTo, { recursive: true, force: true });
  };
  const restart = async () => {
    await server.stop();
    server = await startDevServer({ persistTo, vars, port: server.port, timeoutMs: options.timeoutMs });
  };
  return {
    url: server.url,
    // A restart writes a config with fresh credentials: always the running server's.
    get s3() {
      return server.s3 as LocalS3Credentials;
    },
    createUser: userFactory(server.url),
    logs: () => server.logs(),
    restart,
    stop,
  };
}

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
