import { createHash, pbkdf2Sync, randomBytes, randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { newLocalS3Credentials } from "./local-s3.mjs";
import { isDevApiKey } from "./start-config.mjs";

export const root = path.resolve(import.meta.dirname, "../..");
const stateDir = path.join(root, ".dev-state");

const token = (prefix) => `${prefix}${randomBytes(32).toString("base64url")}`;

const devVarsFile = path.join(root, ".dev.vars");

function readDevVars() {
  if (!existsSync(devVarsFile)) return {};
  const lines = readFileSync(devVarsFile, "utf8").split("\n");
  return Object.fromEntries(
    lines.filter((l) => l.includes("=")).map((l) => [l.split("=")[0], l.slice(l.indexOf("=") + 1)]),
  );
}

/**
 * `.dev.vars` holds local secrets, the local S3 endpoint's credentials among them; what it lacks is
 * generated once and never committed. Returns whether anything was added.
 */
export function ensureDevVars() {
  const vars = readDevVars();
  const s3 = newLocalS3Credentials();
  const wanted = {
    JWT_SECRET: randomBytes(32).toString("hex"),
    URL_SIGNING_SECRET: randomBytes(32).toString("hex"),
    R2_ACCESS_KEY_ID: s3.accessKeyId,
    R2_SECRET_ACCESS_KEY: s3.secretAccessKey,
  };
  const missing = Object.entries(wanted).filter(([name]) => !vars[name]);
  if (missing.length === 0) return false;
  const text = Object.entries({ ...vars, ...Object.fromEntries(missing) }).map(([k, v]) => `${k}=${v}`);
  writeFileSync(devVarsFile, `${text.join("\n")}\n`, { mode: 0o600 });
  return true;
}

/** The local S3 credentials in `.dev.vars` (the Worker signs with them; wrangler dev checks them). */
export function localS3Credentials() {
  const vars = readDevVars();
  return { accessKeyId: vars.R2_ACCESS_KEY_ID, secretAccessKey: vars.R2_SECRET_ACCESS_KEY };
}

/**
 * Credentials of the local admin, kept between starts so the seed is idempotent. `apiKey` (checked
 * already) replaces the saved key; a saved key the control plane would refuse is replaced, not reused.
 */
export function devCredentials(apiKey) {
  const file = path.join(stateDir, "credentials.json");
  const saved = existsSync(file) ? JSON.parse(readFileSync(file, "utf8")) : {};
  const savedKey = isDevApiKey(saved.apiKey) ? saved.apiKey : undefined;
  const creds = {
    userId: saved.userId ?? randomUUID(),
    email: "admin@localhost.dev",
    username: "admin",
    password: saved.password ?? randomBytes(12).toString("base64url"),
    apiKeyId: saved.apiKeyId ?? randomUUID(),
    apiKey: apiKey ?? savedKey ?? token("ce_live_"),
    machineId: saved.machineId,
    machineToken: saved.machineToken,
  };
  saveCredentials(creds);
  return creds;
}

export function saveCredentials(creds) {
  mkdirSync(stateDir, { recursive: true });
  writeFileSync(path.join(stateDir, "credentials.json"), JSON.stringify(creds, null, 2), { mode: 0o600 });
}

export const sha256Hex = (text) => createHash("sha256").update(text).digest("hex");

/** The same format as the Worker's password hashing (PBKDF2-SHA256, 100,000 iterations). */
export function hashPassword(password) {
  const salt = randomBytes(16);
  const hash = pbkdf2Sync(password, salt, 100_000, 32, "sha256");
  return `pbkdf2_sha256$100000$${salt.toString("base64url")}$${hash.toString("base64url")}`;
}

export const sqlString = (value) => `'${String(value).replaceAll("'", "''")}'`;
