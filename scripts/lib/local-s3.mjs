import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "../..");

/** Fresh credentials for the local S3 endpoint of `wrangler dev`: per checkout or per test run. */
export function newLocalS3Credentials() {
  return {
    accessKeyId: `local-${randomBytes(8).toString("hex")}`,
    secretAccessKey: randomBytes(32).toString("hex"),
  };
}

/**
 * `wrangler dev` reads the local S3 endpoint's credentials only from its config file
 * (`r2_buckets[].local_dev.experimental_s3_credentials`), so they are never committed in
 * `wrangler.toml`: this writes an ignored copy next to it, with them added, and returns its path.
 */
export function writeLocalWranglerConfig(name, credentials) {
  const source = readFileSync(path.join(root, "wrangler.toml"), "utf8");
  const file = path.join(root, `.wrangler-local-${name}.toml`);
  writeFileSync(file, withLocalS3Credentials(source, credentials), { mode: 0o600 });
  return file;
}

/** A wrangler config's text with the bucket's local S3 credentials added. */
export function withLocalS3Credentials(toml, credentials) {
  const line = `local_dev = { experimental_s3_credentials = { accessKeyId = ${JSON.stringify(credentials.accessKeyId)}, secretAccessKey = ${JSON.stringify(credentials.secretAccessKey)} } }`;
  const bucket = /(\[\[r2_buckets\]\][^[]*?bucket_name = "[^"]*"\n)/;
  if (!bucket.test(toml)) throw new Error("wrangler.toml has no [[r2_buckets]] entry with a bucket_name");
  return toml.replace(bucket, `$1${line}\n`);
}
