import type { Db } from "../db/client";
import type { FilePurpose } from "../db/schema";
import type { Bindings } from "../env";
import { AppError, invalid, notFound } from "../lib/errors";
import {
  bytesMatchType,
  CHECKED_IMAGE_TYPES,
  normaliseContentType,
  sanitiseFilename,
} from "../lib/file-types";
import { newId, nowIso } from "../lib/ids";
import { MAX_PRESIGN_TTL_SECONDS } from "../lib/s3-presign";
import { presignPut, signedDownloadUrl, verifyDownloadSignature } from "../lib/signed-urls";
import {
  deleteOwnedFile,
  type FileFilter,
  type FileRow,
  findFileById,
  findOwnedFile,
  insertFile,
  listOwnedFiles,
  markExpired,
  markReady,
  pendingPastExpiry,
  updateOwnedFile,
  usedBytes,
} from "../stores/files";

export type { FileRow } from "../stores/files";

/** What a file operation acts for: the caller, its database and the origin its URLs point at. */
export type FileContext = { env: Bindings; db: Db; userId: string; origin: string };

const GiB = 1024 ** 3;
/** A pending upload may still arrive this long after its URL expired (the PUT began in time). */
const ARRIVAL_GRACE_MS = 5 * 60_000;
export const UPLOAD_URL_TTL_SECONDS = 3600;
export const DOWNLOAD_URL_TTL_SECONDS = 86400;
/** R2's limit for one PUT; larger files use the multipart routes. */
export const MAX_SINGLE_PUT_BYTES = 5 * GiB - 5 * 1024 * 1024;

export const objectKey = (purpose: FilePurpose, userId: string, fileId: string) =>
  `${purpose === "asset" ? "assets" : "uploads"}/${userId}/${fileId}`;

/**
 * Presigned PUTs write here, never to the file's own key: a signed URL stays valid until it expires
 * and S3 cannot revoke it, so confirming moves the bytes to a key no URL names and checks them there.
 * Whatever lands here later is swept.
 */
const STAGING_PREFIX = "staging/";
export const stagingKey = (r2Key: string) => `${STAGING_PREFIX}${r2Key}`;
/** Staged bytes older than the longest upload URL (plus its grace) can belong to no pending upload. */
const STAGING_MAX_AGE_MS = MAX_PRESIGN_TTL_SECONDS * 1000 + ARRIVAL_GRACE_MS;

export const quotaBytes = (env: Bindings) => Number(env.STORAGE_QUOTA_BYTES) || 10 * GiB;

/** Refuses `adding` more bytes when the user's files and pending uploads would pass the quota. */
export async function checkQuota(env: Bindings, db: Db, userId: string, adding: number, field = "file_size") {
  const quota = quotaBytes(env);
  const used = await usedBytes(db, userId);
  if (used + adding > quota) throw quotaExceeded(used, quota, field);
  return quota - used;
}

export function quotaExceeded(used: number, quota: number, field = "file_size") {
  const message = `Storage quota exceeded: ${used} of ${quota} bytes used`;
  return new AppError("payload_too_large", message, [{ code: "STORAGE_QUOTA_EXCEEDED", message, field }]);
}

/** A declared type we can store: well-formed, and for images one whose bytes we can check. */
export function contentTypeOrThrow(value: string, field = "content_type"): string {
  const type = normaliseContentType(value);
  if (!type) throw invalid(field, "Not a valid media type (type/subtype)");
  if (type.startsWith("image/") && type !== "image/svg+xml" && !CHECKED_IMAGE_TYPES.has(type)) {
    const known = [...CHECKED_IMAGE_TYPES, "image/svg+xml"].join(", ");
    throw new AppError("unsupported_media_type", `Images must be one of ${known}`, [
      { code: "INVALID_VALUE", message: `Unsupported image type ${type}`, field },
    ]);
  }
  return type;
}

/** The file a signed download URL names, once its signature and expiry check out. */
export async function signedDownloadFile(
  env: Bindings,
  db: Db,
  fileId: string,
  expires: number,
  sig: string,
) {
  await verifyDownloadSignature(env, fileId, expires, sig);
  const row = await findFileById(db, fileId);
  if (!row) throw notFound("File");
  return assertReadable(row);
}

/** The public shape: seed 004's fields, ComfyDeploy's names, and ours. */
export async function fileView(ctx: Pick<FileContext, "env" | "origin">, row: FileRow) {
  const url = await signedDownloadUrl(ctx.env, ctx.origin, row.id, DOWNLOAD_URL_TTL_SECONDS);
  return {
    id: row.id,
    file_id: row.id,
    filename: row.filename,
    file_name: row.filename,
    size: row.size,
    content_type: row.contentType,
    status: row.status,
    purpose: row.purpose,
    folder: row.folder,
    description: row.description,
    sha256: row.sha256,
    run_id: row.runId,
    created_at: row.createdAt,
    updated_at: row.updatedAt,
    expires_at: row.expiresAt,
    confirmed_at: row.confirmedAt,
    download_url: url,
    file_url: url,
  };
}

export type PresignInput = {
  filename: string;
  contentType: string;
  size: number | null;
  purpose?: FilePurpose;
  folder?: string;
  description?: string | null;
  ttlSeconds?: number;
};

/** Records a pending file and signs the PUT that will bring its bytes straight to R2. */
export async function createPresignedUpload(ctx: FileContext, input: PresignInput) {
  if (input.size !== null && input.size > MAX_SINGLE_PUT_BYTES) {
    throw new AppError(
      "payload_too_large",
      `One PUT takes at most ${MAX_SINGLE_PUT_BYTES} bytes; use POST /api/files/multipart for larger files`,
    );
  }
  await checkQuota(ctx.env, ctx.db, ctx.userId, input.size ?? 0);
  const id = newId();
  const purpose = input.purpose ?? "upload";
  const key = objectKey(purpose, ctx.userId, id);
  const ttl = input.ttlSeconds ?? UPLOAD_URL_TTL_SECONDS;
  const upload = await presignPut(ctx.env, ctx.origin, stagingKey(key), input.contentType, input.size, ttl);
  const row = await insertFile(ctx.db, {
    id,
    userId: ctx.userId,
    r2Key: key,
    filename: sanitiseFilename(input.filename),
    contentType: input.contentType,
    size: input.size,
    purpose,
    folder: input.folder ?? "/",
    description: input.description ?? null,
    expiresAt: new Date(Date.now() + ttl * 1000 + ARRIVAL_GRACE_MS).toISOString(),
  });
  return { row, upload };
}

async function reject(env: Bindings, row: FileRow, error: AppError): Promise<never> {
  await env.BUCKET.delete(row.r2Key);
  throw error;
}

/**
 * Moves staged bytes to the file's own key and returns that object, which no URL can change; what the
 * checks then read is what will be served. Without staged bytes, the object already at the file's key
 * (one a concurrent confirm moved, or an upload signed before staging existed), if any.
 */
async function takeStagedObject(env: Bindings, row: FileRow): Promise<R2Object | null> {
  const staged = await env.BUCKET.get(stagingKey(row.r2Key));
  if (!staged) return env.BUCKET.head(row.r2Key);
  // Create-only: when two confirms race, the second keeps the first one's bytes.
  const moved = await env.BUCKET.put(row.r2Key, staged.body, {
    httpMetadata: staged.httpMetadata,
    onlyIf: new Headers({ "If-None-Match": "*" }),
  });
  await env.BUCKET.delete(stagingKey(row.r2Key));
  return moved ?? env.BUCKET.head(row.r2Key);
}

/**
 * Settles a pending upload from what R2 holds: ready when the object is there with the declared size,
 * type and (for images) matching bytes; expired when it never came. Returns the row as it now is.
 */
export async function settleUpload(env: Bindings, db: Db, row: FileRow): Promise<FileRow> {
  if (row.status !== "pending") return row;
  const pastExpiry = row.expiresAt !== null && row.expiresAt < nowIso();
  if (row.uploadId) {
    if (!pastExpiry) return row;
    await abortMultipart(env, row.r2Key, row.uploadId);
    return (await markExpired(db, row.id)) ?? row;
  }
  const object = await takeStagedObject(env, row);
  if (!object) return pastExpiry ? ((await markExpired(db, row.id)) ?? row) : row;
  const fail = async (error: AppError) => {
    await markExpired(db, row.id);
    return reject(env, row, error);
  };
  if (row.size !== null && object.size !== row.size) {
    return fail(new AppError("bad_request", `Uploaded ${object.size} bytes, but ${row.size} were declared`));
  }
  const storedType = normaliseContentType(object.httpMetadata?.contentType ?? "");
  if (storedType !== row.contentType) {
    return fail(
      new AppError("unsupported_media_type", `Uploaded as ${storedType}, declared ${row.contentType}`),
    );
  }
  if (row.contentType.startsWith("image/")) {
    const head = await env.BUCKET.get(row.r2Key, { range: { offset: 0, length: 64 } });
    const bytes = new Uint8Array(head ? await head.arrayBuffer() : new ArrayBuffer(0));
    if (!bytesMatchType(row.contentType, bytes)) {
      return fail(new AppError("unsupported_media_type", `The bytes are not a ${row.contentType} image`));
    }
  }
  if (row.size === null) {
    const used = await usedBytes(db, row.userId);
    const quota = quotaBytes(env);
    if (used + object.size > quota) return fail(quotaExceeded(used, quota));
  }
  return (
    (await markReady(db, row.id, { size: object.size })) ?? ((await findFileById(db, row.id)) as FileRow)
  );
}

/** The caller's file, settled; another owner's id, or an unknown one, is 404. */
export async function getOwnedFile(ctx: Pick<FileContext, "env" | "db" | "userId">, id: string) {
  const row = await findOwnedFile(ctx.db, ctx.userId, id);
  if (!row) throw notFound("File");
  return settleUpload(ctx.env, ctx.db, row);
}

/** The caller's file, ready to be read, or the reason it is not. */
export async function getReadyFile(ctx: Pick<FileContext, "env" | "db" | "userId">, id: string) {
  return assertReadable(await getOwnedFile(ctx, id));
}

export function assertReadable(row: FileRow): FileRow {
  if (row.status === "expired") throw new AppError("gone", "This upload expired before its bytes arrived");
  if (row.status === "pending") throw new AppError("conflict", "This file's upload is not complete yet");
  return row;
}

/** Confirms a presigned upload: 409 while the bytes have not arrived, 410 once it expired. */
export async function confirmUpload(ctx: FileContext, id: string) {
  const row = await getOwnedFile(ctx, id);
  if (row.status === "pending" && row.uploadId) {
    throw new AppError(
      "conflict",
      "Complete the multipart upload with POST /api/files/{id}/multipart/complete",
    );
  }
  return assertReadable(row);
}

/**
 * For run inputs given as file ids: the caller's ready file, or a validation error on `field`.
 * With `env`, a pending upload is confirmed on this first use.
 */
export async function requireOwnedFile(db: Db, userId: string, id: string, field: string, env?: Bindings) {
  const found = await findOwnedFile(db, userId, id);
  if (!found) throw invalid(field, `File '${id}' not found`);
  const row = env
    ? await settleUpload(env, db, found).catch((error) => logged("upload_settle_failed", found, error))
    : found;
  if (row.status !== "ready") throw invalid(field, `File '${id}' is ${row.status}, not ready`);
  return row;
}

export async function listFiles(ctx: FileContext, filter: FileFilter) {
  const { rows, total } = await listOwnedFiles(ctx.db, ctx.userId, filter);
  return { files: await Promise.all(rows.map((row) => fileView(ctx, row))), total };
}

export async function renameFile(ctx: FileContext, id: string, filename: string) {
  const row = await updateOwnedFile(ctx.db, ctx.userId, id, { filename: sanitiseFilename(filename) });
  if (!row) throw notFound("File");
  return row;
}

/** Deletes the record and its bytes (or the unfinished multipart upload). */
export async function deleteFile(
  ctx: Pick<FileContext, "env" | "db" | "userId">,
  id: string,
  purpose?: FilePurpose,
) {
  const existing = await findOwnedFile(ctx.db, ctx.userId, id);
  if (!existing || (purpose && existing.purpose !== purpose))
    throw notFound(purpose === "asset" ? "Asset" : "File");
  const row = await deleteOwnedFile(ctx.db, ctx.userId, id);
  if (!row) throw notFound("File");
  if (row.uploadId) await abortMultipart(ctx.env, row.r2Key, row.uploadId);
  await ctx.env.BUCKET.delete([row.r2Key, stagingKey(row.r2Key)]);
  return row;
}

/** An unfinished multipart upload is dropped; one already gone is fine, but the failure is logged. */
async function abortMultipart(env: Bindings, key: string, uploadId: string) {
  await env.BUCKET.resumeMultipartUpload(key, uploadId)
    .abort()
    .catch((error) =>
      console.error(JSON.stringify({ event: "multipart_abort_failed", key, error: String(error) })),
    );
}

function logged(event: string, row: FileRow, error: unknown): FileRow {
  console.error(JSON.stringify({ event, file_id: row.id, error: String(error) }));
  return row;
}

/** Settles pending uploads past their expiry (for a scheduled sweep); returns how many it looked at. */
export async function sweepExpiredUploads(env: Bindings, db: Db, limit = 100): Promise<number> {
  const rows = await pendingPastExpiry(db, nowIso(), limit);
  for (const row of rows) {
    await settleUpload(env, db, row).catch((error) => logged("upload_sweep_failed", row, error));
  }
  await sweepStaging(env, db, limit);
  return rows.length;
}

/**
 * Deletes staged bytes that no pending upload will take: a PUT through a URL whose file was already
 * confirmed, refused or deleted, or anything older than the longest URL.
 */
export async function sweepStaging(env: Bindings, db: Db, pageSize = 100, maxPages = 10): Promise<number> {
  const oldest = Date.now() - STAGING_MAX_AGE_MS;
  let deleted = 0;
  let cursor: string | undefined;
  for (let page = 0; page < maxPages; page++) {
    const listed = await env.BUCKET.list({ prefix: STAGING_PREFIX, limit: pageSize, cursor });
    const stale: string[] = [];
    for (const object of listed.objects) {
      const row = await findFileById(db, object.key.split("/").pop() ?? "");
      const waiting = row?.status === "pending" && stagingKey(row.r2Key) === object.key;
      if (!waiting || object.uploaded.getTime() < oldest) stale.push(object.key);
    }
    if (stale.length) await env.BUCKET.delete(stale);
    deleted += stale.length;
    if (!listed.truncated) break;
    cursor = listed.cursor;
  }
  return deleted;
}
