import type { FilePurpose } from "../db/schema";
import { AppError, invalid } from "../lib/errors";
import { bytesMatchType, sanitiseFilename } from "../lib/file-types";
import { newId } from "../lib/ids";
import { presign, s3Target } from "../lib/s3-presign";
import { type FileRow, insertFile, markExpired, markReady } from "../stores/files";
import { checkQuota, type FileContext, getOwnedFile, objectKey } from "./files";

const MiB = 1024 * 1024;
export const MIN_PART_BYTES = 5 * MiB;
export const DEFAULT_PART_BYTES = 16 * MiB;
const MAX_PARTS = 10_000;
/** Parts signed per request; the rest are signed on demand. */
const MAX_PARTS_PER_RESPONSE = 1_000;
/** How long an unfinished large upload may take before it is aborted. */
const LARGE_UPLOAD_TTL_MS = 24 * 3600_000;
const PART_URL_TTL_SECONDS = 6 * 3600;

export type LargeUploadInput = {
  filename: string;
  contentType: string;
  size: number;
  partSize?: number;
  purpose?: FilePurpose;
  folder?: string;
};

/** Parts of equal size (R2 requires it) but the last, within R2's 10,000-part limit. */
export function planParts(size: number, requested?: number) {
  let partSize = Math.max(MIN_PART_BYTES, requested ?? DEFAULT_PART_BYTES);
  if (Math.ceil(size / partSize) > MAX_PARTS) partSize = Math.ceil(size / MAX_PARTS / MiB) * MiB;
  const count = Math.max(1, Math.ceil(size / partSize));
  return { partSize, count };
}

const partLength = (row: FileRow, partNumber: number) => {
  const { partSize, count } = planParts(row.size ?? 0, row.partSize ?? undefined);
  return partNumber < count ? partSize : (row.size ?? 0) - partSize * (count - 1);
};

async function signParts(ctx: FileContext, row: FileRow, partNumbers: number[]) {
  const target = s3Target(ctx.env, ctx.origin);
  return Promise.all(
    partNumbers.map(async (partNumber) => {
      const size = partLength(row, partNumber);
      const signed = await presign(target, {
        method: "PUT",
        key: row.r2Key,
        ttlSeconds: PART_URL_TTL_SECONDS,
        query: { partNumber: String(partNumber), uploadId: row.uploadId! },
        headers: { "Content-Length": String(size) },
      });
      return { part_number: partNumber, size, upload_url: signed.url, headers: signed.headers };
    }),
  );
}

function largeUploadView(row: FileRow, parts: Awaited<ReturnType<typeof signParts>>) {
  const { partSize, count } = planParts(row.size ?? 0, row.partSize ?? undefined);
  return {
    file_id: row.id,
    upload_id: row.uploadId!,
    key: row.r2Key,
    part_size: partSize,
    part_count: count,
    parts,
    expires_at: row.expiresAt!,
  };
}

/** Starts an R2 multipart upload whose parts the client PUTs straight to R2 with presigned URLs. */
export async function createLargeUpload(ctx: FileContext, input: LargeUploadInput) {
  await checkQuota(ctx.env, ctx.db, ctx.userId, input.size);
  const { partSize, count } = planParts(input.size, input.partSize);
  const id = newId();
  const purpose = input.purpose ?? "upload";
  const key = objectKey(purpose, ctx.userId, id);
  s3Target(ctx.env, ctx.origin); // fail before creating anything when direct uploads are not configured
  const upload = await ctx.env.BUCKET.createMultipartUpload(key, {
    httpMetadata: { contentType: input.contentType },
  });
  const row = await insertFile(ctx.db, {
    id,
    userId: ctx.userId,
    r2Key: key,
    filename: sanitiseFilename(input.filename),
    contentType: input.contentType,
    size: input.size,
    purpose,
    folder: input.folder ?? "/",
    uploadId: upload.uploadId,
    partSize,
    expiresAt: new Date(Date.now() + LARGE_UPLOAD_TTL_MS).toISOString(),
  });
  const first = Array.from({ length: Math.min(count, MAX_PARTS_PER_RESPONSE) }, (_, i) => i + 1);
  return largeUploadView(row, await signParts(ctx, row, first));
}

async function pendingLargeUpload(ctx: FileContext, id: string) {
  const row = await getOwnedFile(ctx, id);
  if (row.status === "expired") throw new AppError("gone", "This upload expired before it was completed");
  if (row.status !== "pending" || !row.uploadId) {
    throw new AppError("conflict", "This file has no multipart upload in progress");
  }
  return row;
}

/** Fresh URLs for some parts (default: all), e.g. after the first ones expired. */
export async function signLargeUploadParts(ctx: FileContext, id: string, partNumbers?: number[]) {
  const row = await pendingLargeUpload(ctx, id);
  const { count } = planParts(row.size ?? 0, row.partSize ?? undefined);
  const wanted = partNumbers ?? Array.from({ length: count }, (_, i) => i + 1);
  const bad = wanted.find((n) => !Number.isInteger(n) || n < 1 || n > count);
  if (bad !== undefined) throw invalid("part_numbers", `Part numbers run from 1 to ${count}`);
  return largeUploadView(row, await signParts(ctx, row, wanted.slice(0, MAX_PARTS_PER_RESPONSE)));
}

/** Completes the upload from the parts' ETags and checks the object against what was declared. */
export async function completeLargeUpload(
  ctx: FileContext,
  id: string,
  parts: { part_number: number; etag: string }[],
) {
  const row = await pendingLargeUpload(ctx, id);
  const { count } = planParts(row.size ?? 0, row.partSize ?? undefined);
  const sorted = [...parts].sort((a, b) => a.part_number - b.part_number);
  if (sorted.length !== count || sorted.some((p, i) => p.part_number !== i + 1)) {
    throw invalid("parts", `Expected parts 1 to ${count}, each once`);
  }
  const upload = ctx.env.BUCKET.resumeMultipartUpload(row.r2Key, row.uploadId!);
  let object: R2Object;
  try {
    object = await upload.complete(
      sorted.map((p) => ({ partNumber: p.part_number, etag: p.etag.replace(/^(W\/)?"|"$/g, "") })),
    );
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new AppError("bad_request", `R2 could not complete the upload: ${why}`);
  }
  const fail = async (error: AppError): Promise<never> => {
    await markExpired(ctx.db, row.id);
    await ctx.env.BUCKET.delete(row.r2Key);
    throw error;
  };
  if (object.size !== row.size) {
    return fail(new AppError("bad_request", `Uploaded ${object.size} bytes, but ${row.size} were declared`));
  }
  if (row.contentType.startsWith("image/")) {
    const head = await ctx.env.BUCKET.get(row.r2Key, { range: { offset: 0, length: 64 } });
    if (
      !bytesMatchType(row.contentType, new Uint8Array(head ? await head.arrayBuffer() : new ArrayBuffer(0)))
    ) {
      return fail(new AppError("unsupported_media_type", `The bytes are not a ${row.contentType} image`));
    }
  }
  const ready = await markReady(ctx.db, row.id, { size: object.size });
  if (!ready) throw new AppError("conflict", "This upload was settled by another request");
  return ready;
}

/** Abandons the upload: R2 drops the parts and the record expires (no longer counting to the quota). */
export async function abortLargeUpload(ctx: FileContext, id: string) {
  const row = await pendingLargeUpload(ctx, id);
  await ctx.env.BUCKET.resumeMultipartUpload(row.r2Key, row.uploadId!).abort();
  await markExpired(ctx.db, row.id);
  return row;
}
