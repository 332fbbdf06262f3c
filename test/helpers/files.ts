import { env, exports } from "cloudflare:workers";
import { api, BASE } from "./http";

export const PNG_BYTES = new Uint8Array([
  0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52,
]);
export const JPEG_BYTES = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 16, 0x4a, 0x46, 0x49, 0x46, 0]);

export type FormField = { name: string; value: string | Uint8Array; filename?: string; type?: string };

/** A `multipart/form-data` body built by hand, so tests control every byte. */
export function multipartBody(fields: FormField[], boundary = `----e2e${crypto.randomUUID()}`) {
  const encoder = new TextEncoder();
  const chunks: Uint8Array[] = [];
  for (const field of fields) {
    let head = `--${boundary}\r\nContent-Disposition: form-data; name="${field.name}"`;
    if (field.filename !== undefined) head += `; filename="${field.filename}"`;
    head += "\r\n";
    if (field.type) head += `Content-Type: ${field.type}\r\n`;
    chunks.push(encoder.encode(`${head}\r\n`));
    chunks.push(typeof field.value === "string" ? encoder.encode(field.value) : field.value);
    chunks.push(encoder.encode("\r\n"));
  }
  chunks.push(encoder.encode(`--${boundary}--\r\n`));
  const body = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.length;
  }
  return { body, contentType: `multipart/form-data; boundary=${boundary}` };
}

export function uploadForm(
  path: string,
  token: string | undefined,
  fields: FormField[],
  headers: Record<string, string> = {},
) {
  const { body, contentType } = multipartBody(fields);
  return api<Record<string, unknown>>(path, {
    method: "POST",
    token,
    body,
    headers: { "Content-Type": contentType, ...headers },
  });
}

/** The R2 key inside a presigned local S3 URL (`…/cdn-cgi/local/r2/s3/<bucket>/<key>?…`). */
export function keyFromUploadUrl(url: string): string {
  const { pathname } = new URL(url);
  const match = /^\/cdn-cgi\/local\/r2\/s3\/[^/]+\/(.+)$/.exec(pathname);
  if (!match?.[1]) throw new Error(`not a local S3 URL: ${url}`);
  return decodeURIComponent(match[1]);
}

/** Stands in for the client's PUT to the presigned URL (the test pool has no S3 endpoint). */
export async function putToPresigned(
  upload: { upload_url: string },
  bytes: Uint8Array | string,
  contentType: string,
) {
  await env.BUCKET.put(keyFromUploadUrl(upload.upload_url), bytes, { httpMetadata: { contentType } });
}

export type PresignedUpload = {
  upload_url: string;
  upload_headers: Record<string, string>;
  file_id: string;
  download_url: string;
  file_url: string;
  expires_at: string;
  confirm_url: string;
  file: Record<string, unknown>;
};

export async function presignedUpload(token: string, type: string, size: number, filename?: string) {
  const res = await api<PresignedUpload>("/api/file/upload", {
    method: "POST",
    token,
    json: { type, file_size: size, ...(filename ? { filename } : {}) },
  });
  if (res.status !== 200) throw new Error(`presign failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/** A ready file: presigned, "PUT" and confirmed. */
export async function readyFile(token: string, bytes: Uint8Array | string, type: string, filename?: string) {
  const size = typeof bytes === "string" ? new TextEncoder().encode(bytes).length : bytes.length;
  const upload = await presignedUpload(token, type, size, filename);
  await putToPresigned(upload, bytes, type);
  const confirmed = await api<{ status: string }>(`/api/files/${upload.file_id}/confirm`, {
    method: "POST",
    token,
  });
  if (confirmed.status !== 200)
    throw new Error(`confirm failed: ${confirmed.status} ${JSON.stringify(confirmed.body)}`);
  return upload;
}

/** Moves a file's expiry into the past, as if its upload URL had long lapsed. */
export async function expireNow(fileId: string) {
  await env.DB.prepare("UPDATE files SET expires_at = ? WHERE id = ?")
    .bind(new Date(Date.now() - 3600_000).toISOString(), fileId)
    .run();
}

/** A raw call to the Worker, for binary bodies and their headers. */
export function fetchWorker(
  path: string,
  init: { token?: string; headers?: Record<string, string>; method?: string } = {},
) {
  const headers = new Headers(init.headers);
  if (init.token) headers.set("Authorization", `Bearer ${init.token}`);
  const url = path.startsWith("http") ? path : `${BASE}${path}`;
  return exports.default.fetch(url, { method: init.method ?? "GET", headers });
}

/** Records a ready file of `userId` that fills their storage quota up to `leftBytes` short of it. */
export async function fillQuota(userId: string, leftBytes: number) {
  await env.DB.prepare(
    "INSERT INTO files (id, user_id, r2_key, filename, content_type, size, status) VALUES (?, ?, ?, 'big', 'a/b', ?, 'ready')",
  )
    .bind(
      crypto.randomUUID(),
      userId,
      `quota/${crypto.randomUUID()}`,
      Number(env.STORAGE_QUOTA_BYTES) - leftBytes,
    )
    .run();
}
