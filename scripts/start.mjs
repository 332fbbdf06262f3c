#!/usr/bin/env node
// Starts the product on its embedded local default: the control plane in real workerd with local D1,
// R2 and Durable Objects (wrangler dev), an admin user and an API key seeded idempotently, and one local
// agent on COMFYUI_URL (or the bundled ComfyUI simulator when nothing answers there).
import path from "node:path";
import { ensureComfy } from "./lib/comfy.mjs";
import { ensureDemoDeployment, ensureDevMachine } from "./lib/demo.mjs";
import {
  devCredentials,
  ensureDevVars,
  hashPassword,
  localS3Credentials,
  root,
  saveCredentials,
  sha256Hex,
  sqlString,
} from "./lib/dev-state.mjs";
import { writeLocalWranglerConfig } from "./lib/local-s3.mjs";
import { run, startProcess, stopAll, waitForHttp } from "./lib/processes.mjs";
import { readStartConfig, StartConfigError } from "./lib/start-config.mjs";

const config = checkedConfig();
const port = config.port;
const baseUrl = `http://127.0.0.1:${port}`;
const wrangler = path.join(root, "node_modules", ".bin", "wrangler");

async function seed(creds) {
  const statements = [
    `INSERT INTO users (id, email, username, password_hash, role) VALUES (${sqlString(creds.userId)}, ${sqlString(creds.email)}, ${sqlString(creds.username)}, ${sqlString(hashPassword(creds.password))}, 'admin') ON CONFLICT(username) DO UPDATE SET password_hash = excluded.password_hash, role = 'admin', is_active = 1`,
    `INSERT INTO api_keys (id, user_id, name, prefix, key_hash) SELECT ${sqlString(creds.apiKeyId)}, id, 'local development', ${sqlString(creds.apiKey.slice(0, 14))}, ${sqlString(sha256Hex(creds.apiKey))} FROM users WHERE username = 'admin' ON CONFLICT(id) DO UPDATE SET key_hash = excluded.key_hash, prefix = excluded.prefix, revoked_at = NULL`,
  ];
  await run(wrangler, ["d1", "execute", "DB", "--local", "--command", statements.join("; ")], { cwd: root });
}

async function main() {
  if (ensureDevVars()) console.log("Generated .dev.vars with local secrets.");
  console.log("Applying local D1 migrations…");
  await run(wrangler, ["d1", "migrations", "apply", "DB", "--local"], { cwd: root });
  const creds = devCredentials(config.devApiKey);
  await seed(creds);

  console.log(`Starting the control plane (wrangler dev) on ${baseUrl}…`);
  const worker = startProcess(
    wrangler,
    [
      "dev",
      ...["--config", writeLocalWranglerConfig("dev", localS3Credentials())],
      "--port",
      String(port),
      "--ip",
      "127.0.0.1",
      "--show-interactive-dev-session=false",
      // Local development: webhooks may target a receiver on this machine.
      "--var",
      "ALLOW_LOCAL_WEBHOOKS:true",
    ],
    {
      cwd: root,
      env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
    },
  );
  worker.on("exit", (code) => {
    console.error(`wrangler dev exited (${code}); stopping.`);
    shutdown(1);
  });
  if (!(await waitForHttp(`${baseUrl}/api/health`, 90_000))) {
    console.error("The control plane did not answer /api/health within 90 s.");
    shutdown(1);
    return;
  }
  const comfy = await ensureComfy(config);
  const machine = await ensureDevMachine(baseUrl, creds.apiKey, creds);
  saveCredentials({ ...creds, ...machine });
  const deploymentId = await ensureDemoDeployment(baseUrl, creds.apiKey);
  await run(process.execPath, [path.join(root, "gpu-agent", "build.mjs")], { cwd: root });
  startAgent(machine.machineToken, comfy.url);
  printWelcome(creds, deploymentId, comfy);
}

/** The settings, checked before anything starts; a bad one ends the start with exit code 2. */
function checkedConfig() {
  try {
    return readStartConfig(process.env);
  } catch (err) {
    if (!(err instanceof StartConfigError)) throw err;
    console.error(`npm start: ${err.message}`);
    process.exit(2);
  }
}

function startAgent(token, comfyUrl) {
  const bundle = path.join(root, "gpu-agent", "dist", "comfy-edge-agent.mjs");
  const args = ["--server", baseUrl, "--token", token, "--comfy", comfyUrl];
  args.push("--state-dir", path.join(root, ".dev-state", "agent"), "--allow-private-inputs");
  const agent = startProcess(process.execPath, [bundle, ...args], { cwd: root });
  agent.on("exit", (code) => {
    if (!stopping) console.error(`The local agent exited (${code}).`);
  });
}

function printWelcome(creds, deploymentId, comfy) {
  console.log(`
comfy-edge is running.

  Dashboard      ${baseUrl}/app/   (sign in as ${creds.username}, or with the API key below)
  API            ${baseUrl}/api
  Reference      ${baseUrl}/api/reference
  OpenAPI        ${baseUrl}/api/doc
  Admin login    ${creds.username} / ${creds.password}
  API key        ${creds.apiKey}

  ComfyUI        ${comfy.url}${comfy.simulated ? `  (${comfy.note})` : ""}
  Demo           deployment ${deploymentId} (image → ImageInvert → SaveImage)

Run the demo:
  curl -s -X POST ${baseUrl}/api/run/deployment/sync -H "Authorization: Bearer ${creds.apiKey}" -H "Content-Type: application/json" -d '{"deployment_id":"${deploymentId}","inputs":{}}'

Press Ctrl-C to stop everything.
`);
}

let stopping = false;
function shutdown(code = 0) {
  if (stopping) return;
  stopping = true;
  stopAll("SIGTERM");
  setTimeout(() => {
    stopAll("SIGKILL");
    process.exit(code);
  }, 3000).unref();
}

process.on("SIGINT", () => shutdown(0));
process.on("SIGTERM", () => shutdown(0));
main().catch((err) => {
  console.error(err.message ?? err);
  shutdown(1);
});
