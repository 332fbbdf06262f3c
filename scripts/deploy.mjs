#!/usr/bin/env node
// Deploys to Cloudflare: creates the D1 database, R2 bucket and webhook queue when missing, applies remote
// migrations, then deploys the Worker. Needs `wrangler login` (or CLOUDFLARE_API_TOKEN) first.
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { root } from "./lib/dev-state.mjs";
import { run } from "./lib/processes.mjs";

const wrangler = path.join(root, "node_modules", ".bin", "wrangler");
const configPath = path.join(root, "wrangler.toml");
const PLACEHOLDER_ID = "00000000-0000-0000-0000-000000000000";

const config = () => readFileSync(configPath, "utf8");
const setting = (key) => new RegExp(`${key}\\s*=\\s*"([^"]+)"`).exec(config())?.[1];

async function ensureDatabase() {
  const name = setting("database_name");
  const list = JSON.parse(await run(wrangler, ["d1", "list", "--json"], { cwd: root }));
  let db = list.find((d) => d.name === name);
  if (!db) {
    console.log(`Creating D1 database ${name}…`);
    await run(wrangler, ["d1", "create", name], { cwd: root });
    db = JSON.parse(await run(wrangler, ["d1", "list", "--json"], { cwd: root })).find(
      (d) => d.name === name,
    );
  }
  if (config().includes(PLACEHOLDER_ID)) {
    writeFileSync(configPath, config().replace(PLACEHOLDER_ID, db.uuid));
    console.log(`Wrote database_id ${db.uuid} into wrangler.toml (commit it).`);
  }
}

async function ensureBucket() {
  const name = setting("bucket_name");
  const list = await run(wrangler, ["r2", "bucket", "list"], { cwd: root });
  if (!list.includes(name)) {
    console.log(`Creating R2 bucket ${name}…`);
    await run(wrangler, ["r2", "bucket", "create", name], { cwd: root });
  }
}

async function ensureQueue() {
  const name = /\[\[queues\.producers\]\][^[]*?queue\s*=\s*"([^"]+)"/.exec(config())?.[1];
  const list = await run(wrangler, ["queues", "list"], { cwd: root });
  if (name && !list.includes(name)) {
    console.log(`Creating queue ${name}…`);
    await run(wrangler, ["queues", "create", name], { cwd: root });
  }
}

async function main() {
  await ensureDatabase();
  await ensureBucket();
  await ensureQueue();
  console.log("Applying remote D1 migrations…");
  console.log(await run(wrangler, ["d1", "migrations", "apply", "DB", "--remote"], { cwd: root }));
  console.log(await run(wrangler, ["deploy"], { cwd: root }));
  console.log("Deployed. Set secrets once with: npx wrangler secret put JWT_SECRET (see README).");
}

main().catch((err) => {
  console.error(err.message ?? err);
  process.exit(1);
});
