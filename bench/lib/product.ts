import { randomBytes } from "node:crypto";
import { cpSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import {
  type LocalS3Credentials,
  newLocalS3Credentials,
  withLocalS3Credentials,
} from "../../scripts/lib/local-s3.mjs";
import { bearer, call } from "./http";
import { runCommand } from "./procs";
import { applyMigrations, root, startWrangler, type WranglerServer, wranglerJs } from "./wrangler";

export type Account = { apiKey: string };
export type Machine = { id: string; token: string };

/**
 * Builds the control plane once into `workDir` (the bundle `wrangler deploy --dry-run` makes, with a
 * copy of wrangler.toml and the migrations beside it), so the bench measures one fixed build: wrangler
 * dev reloads on source changes, and a reload in the middle of a figure would spoil it.
 */
async function snapshotControlPlane(workDir: string, s3: LocalS3Credentials): Promise<string> {
  const dir = path.join(workDir, "control-plane");
  mkdirSync(dir, { recursive: true });
  const rootConfig = path.join(root, "wrangler.toml");
  await runCommand(
    process.execPath,
    [wranglerJs, "deploy", "--dry-run", "--outdir", path.join(dir, "bundle"), "--config", rootConfig],
    { cwd: root, env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "1" }, timeoutMs: 120_000 },
  );
  cpSync(path.join(root, "migrations"), path.join(dir, "migrations"), { recursive: true });
  const toml = readFileSync(rootConfig, "utf8");
  if (!/^main\s*=.*$/m.test(toml)) throw new Error("wrangler.toml has no top-level `main`");
  const config = path.join(dir, "wrangler.toml");
  const snapshot = toml
    .replace(/^main\s*=.*$/m, 'main = "bundle/index.js"\nno_bundle = true')
    // The dashboard's assets stay where `npm run build:app` put them.
    .replace(/^directory\s*=\s*"([^"]+)"/m, (_, dir: string) => `directory = "${path.join(root, dir)}"`);
  writeFileSync(config, withLocalS3Credentials(snapshot, s3));
  return config;
}

/** Starts comfy-edge's control plane (`wrangler dev` on a fixed build) on a free port with throwaway state. */
export async function startControlPlane(workDir: string) {
  const s3 = newLocalS3Credentials();
  const persistTo = path.join(workDir, "control-plane-state");
  // The root config names the same database and migrations as the snapshot: its state is made while
  // the build runs.
  const [config] = await Promise.all([
    snapshotControlPlane(workDir, s3),
    applyMigrations(path.join(root, "wrangler.toml"), persistTo),
  ]);
  return startWrangler({
    name: "control plane",
    config,
    persistTo,
    healthPath: "/api/health",
    logFile: path.join(workDir, "control-plane.log"),
    vars: {
      JWT_SECRET: randomBytes(32).toString("hex"),
      URL_SIGNING_SECRET: randomBytes(32).toString("hex"),
      R2_ACCESS_KEY_ID: s3.accessKeyId,
      R2_SECRET_ACCESS_KEY: s3.secretAccessKey,
      // The limiter stays in the path (its cost is measured) but never refuses the bench's load.
      RATE_LIMIT_PER_MINUTE: "100000000",
      RATE_LIMIT_PER_HOUR: "100000000",
      RATE_LIMIT_PER_DAY: "100000000",
    },
  });
}

/** A fresh user with an API key, made the way a user would: register, log in, create a key. */
export async function createAccount(server: WranglerServer, name: string): Promise<Account> {
  const username = `${name}-${randomBytes(4).toString("hex")}`;
  const password = randomBytes(18).toString("base64url");
  await call("POST", `${server.url}/api/auth/register`, {
    body: { email: `${username}@bench.local`, username, password },
  });
  const { access_token } = await call<{ access_token: string }>("POST", `${server.url}/api/auth/login`, {
    body: { username, password },
  });
  const { key } = await call<{ key: string }>("POST", `${server.url}/api/keys`, {
    body: { name: "bench" },
    headers: bearer(access_token),
  });
  return { apiKey: key };
}

export async function createMachine(server: WranglerServer, account: Account, name: string, pool: string) {
  return call<Machine>("POST", `${server.url}/api/machine/custom`, {
    body: { name, pool },
    headers: bearer(account.apiKey),
  });
}

/**
 * A deployment in `pool` of `graph`, with one integer run input `marker` bound to
 * `graph[markerNode].inputs[markerInput]`, so every run's graph is unique and ComfyUI's side can
 * tell which run a prompt belongs to.
 */
export async function createDeployment(
  server: WranglerServer,
  account: Account,
  pool: string,
  graph: Record<string, unknown>,
  marker: { node: string; input: string; type: "integer" | "string" },
  /** Pins the deployment's runs to this machine. */
  machineId?: string,
): Promise<string> {
  const headers = bearer(account.apiKey);
  const workflow = await call<{ id: string }>("POST", `${server.url}/api/workflow`, {
    body: { name: `bench-${pool}`, workflow_api: graph },
    headers,
  });
  const deployment = await call<{ id: string }>("POST", `${server.url}/api/deployment`, {
    body: {
      workflow_id: workflow.id,
      name: `bench-${pool}`,
      environment: "production",
      pool,
      inputs: [{ input_id: "marker", node_id: marker.node, input_name: marker.input, type: marker.type }],
      ...(machineId ? { machine_id: machineId } : {}),
    },
    headers,
  });
  return deployment.id;
}

/** Queues one run of a deployment; returns its id. */
export async function queueRun(
  server: WranglerServer,
  account: Account,
  deploymentId: string,
  marker: number | string,
  headers: Record<string, string> = {},
) {
  const { run_id } = await call<{ run_id: string }>("POST", `${server.url}/api/run/deployment/queue`, {
    body: { deployment_id: deploymentId, inputs: { marker } },
    headers: { ...bearer(account.apiKey), ...headers },
  });
  return run_id;
}

export async function getRunStatus(server: WranglerServer, account: Account, runId: string) {
  return call<{ status: string; [k: string]: unknown }>("GET", `${server.url}/api/run/${runId}`, {
    headers: bearer(account.apiKey),
  });
}
