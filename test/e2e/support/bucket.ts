import { AwsClient } from "aws4fetch";
import type { RunningWorker } from "./worker";

/** The bucket `wrangler.toml` binds as BUCKET. */
const BUCKET = "comfy-edge-files";

/**
 * The keys R2 holds under `prefix`, listed through the local S3 endpoint of `wrangler dev` (what is
 * really stored, whatever the API's records say).
 */
export async function objectKeys(
  worker: Pick<RunningWorker, "url" | "s3">,
  prefix: string,
): Promise<string[]> {
  const client = new AwsClient({ ...worker.s3, service: "s3", region: "auto" });
  const query = new URLSearchParams({ "list-type": "2", prefix });
  const res = await client.fetch(`${worker.url}/cdn-cgi/local/r2/s3/${BUCKET}?${query}`);
  const body = await res.text();
  if (!res.ok) throw new Error(`listing ${prefix}: ${res.status} ${body}`);
  return [...body.matchAll(/<Key>([^<]*)<\/Key>/g)].map((match) => match[1] as string);
}
