import type { Bindings } from "../env";
import { hmacSha256, timingSafeEqual } from "./crypto";
import { AppError } from "./errors";
import { presign, s3Target } from "./s3-presign";

/** Every URL the control plane signs: presigned R2 PUTs and token-free file downloads. */

/**
 * A presigned S3 PUT for one object. `Content-Type` (and `Content-Length` when `size` is given) are
 * bound into the signature, so the upload must send exactly those.
 */
export async function presignPut(
  env: Bindings,
  origin: string,
  key: string,
  contentType: string,
  size: number | null,
  ttlSeconds: number,
) {
  const headers: Record<string, string> = { "Content-Type": contentType };
  if (size !== null) headers["Content-Length"] = String(size);
  const signed = await presign(s3Target(env, origin), { method: "PUT", key, ttlSeconds, headers });
  return {
    url: signed.url,
    headers: signed.headers,
    expiresAt: new Date(Date.now() + ttlSeconds * 1000).toISOString(),
  };
}

const signingSecret = (env: Bindings) => env.URL_SIGNING_SECRET ?? env.JWT_SECRET;
const downloadMessage = (fileId: string, expires: number) => `file-download\n${fileId}\n${expires}`;

/** A URL that streams the file without a token until it expires (for browsers and agents). */
export async function signedDownloadUrl(env: Bindings, origin: string, fileId: string, ttlSeconds: number) {
  const expires = Math.floor(Date.now() / 1000) + Math.max(1, Math.floor(ttlSeconds));
  const sig = await hmacSha256(signingSecret(env), downloadMessage(fileId, expires));
  return `${new URL(origin).origin}/api/files/${fileId}/content?expires=${expires}&sig=${sig}`;
}

export async function verifyDownloadSignature(env: Bindings, fileId: string, expires: number, sig: string) {
  const expected = await hmacSha256(signingSecret(env), downloadMessage(fileId, expires));
  if (!timingSafeEqual(expected, sig)) throw new AppError("forbidden", "Invalid download signature");
  if (expires * 1000 < Date.now()) throw new AppError("forbidden", "This download link has expired");
}
