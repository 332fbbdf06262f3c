import { AwsClient } from "aws4fetch";
import type { Bindings } from "../env";
import { AppError } from "./errors";

/** S3 caps a presigned URL at seven days. */
export const MAX_PRESIGN_TTL_SECONDS = 7 * 86400;

export type S3Target = { endpoint: string; client: AwsClient };

/** Loopback hosts and the reserved `.localhost` / `.test` names never resolve to a deployed Worker. */
export function isLocalOrigin(origin: string): boolean {
  const host = new URL(origin).hostname.replace(/^\[|\]$/g, "");
  return (
    host === "localhost" ||
    host === "::1" ||
    /^127(\.\d{1,3}){3}$/.test(host) ||
    host.endsWith(".localhost") ||
    host.endsWith(".test")
  );
}

/**
 * Where presigned URLs point: R2's S3 endpoint with R2 API credentials (secrets) in production; the
 * local S3 endpoint of `wrangler dev` when none is configured and the request came to a local origin.
 */
export function s3Target(env: Bindings, origin: string): S3Target {
  const configured = env.R2_S3_ENDPOINT?.replace(/\/+$/, "");
  if (configured) {
    const client = r2Client(env, "Direct uploads need R2_ACCESS_KEY_ID and R2_SECRET_ACCESS_KEY");
    return { endpoint: configured, client };
  }
  if (!isLocalOrigin(origin)) {
    throw new AppError("service_unavailable", "Direct uploads are not configured (set R2_S3_ENDPOINT)");
  }
  // `wrangler dev` serves the bucket's S3 API here and checks signatures with the credentials in its
  // config; `npm start` generates them per checkout into `.dev.vars` and an ignored config copy.
  const client = r2Client(
    env,
    "Local direct uploads need R2_ACCESS_KEY_ID and R2_SECRET_ACCESS_KEY (npm start generates them)",
  );
  return { endpoint: `${new URL(origin).origin}/cdn-cgi/local/r2/s3/${env.R2_BUCKET_NAME}`, client };
}

/** A SigV4 client for R2's S3 API; `missing` says what to set when the credentials are absent. */
function r2Client(env: Bindings, missing: string): AwsClient {
  if (!env.R2_ACCESS_KEY_ID || !env.R2_SECRET_ACCESS_KEY) throw new AppError("service_unavailable", missing);
  return new AwsClient({
    accessKeyId: env.R2_ACCESS_KEY_ID,
    secretAccessKey: env.R2_SECRET_ACCESS_KEY,
    service: "s3",
    region: "auto",
  });
}

export type PresignedRequest = { url: string; method: string; headers: Record<string, string> };

/**
 * A query-signed S3 request. Every header given is bound into the signature (a different
 * `Content-Type` or `Content-Length` gets 403); the returned headers are those the client must send,
 * less `Content-Length`, which HTTP clients set from the body.
 */
export async function presign(
  target: S3Target,
  request: {
    method: "PUT" | "GET";
    key: string;
    ttlSeconds: number;
    query?: Record<string, string>;
    headers?: Record<string, string>;
  },
): Promise<PresignedRequest> {
  const path = request.key.split("/").map(encodeURIComponent).join("/");
  const url = new URL(`${target.endpoint}/${path}`);
  for (const [name, value] of Object.entries(request.query ?? {})) url.searchParams.set(name, value);
  const ttl = Math.max(1, Math.min(MAX_PRESIGN_TTL_SECONDS, Math.floor(request.ttlSeconds)));
  url.searchParams.set("X-Amz-Expires", String(ttl));
  const signed = await target.client.sign(url.toString(), {
    method: request.method,
    headers: request.headers,
    aws: { signQuery: true, allHeaders: true },
  });
  const headers = Object.fromEntries(
    Object.entries(request.headers ?? {}).filter(([name]) => name.toLowerCase() !== "content-length"),
  );
  return { url: signed.url, method: request.method, headers };
}
