import type { FilePurpose } from "../db/schema";
import { toHex } from "../lib/crypto";
import { AppError, invalid } from "../lib/errors";
import {
  bytesMatchType,
  contentTypeFromName,
  normaliseContentType,
  OCTET_STREAM,
  sanitiseFilename,
  sniffImageType,
} from "../lib/file-types";
import { newId, nowIso } from "../lib/ids";
import { boundaryOf, type FormPart, parseMultipart, readField } from "../lib/multipart";
import { type FileRow, insertFile, usedBytes } from "../stores/files";
import { type FileContext, objectKey, quotaBytes, quotaExceeded } from "./files";

/** R2 multipart parts must be at least 5 MiB and, but for the last, all the same size. */
export const STREAM_PART_BYTES = 5 * 1024 * 1024;
const SNIFF_BYTES = 64;
const FORM_OVERHEAD_BYTES = 64 * 1024;

export const maxStreamedBytes = (env: FileContext["env"]) =>
  Number(env.MAX_STREAMED_UPLOAD_BYTES) || 100 * 1024 * 1024;

/**
 * The type to store: a declared type (an image's must match its bytes), else what the bytes are,
 * else a guess from the name that the bytes do not contradict.
 */
export function resolveContentType(declared: string | null, filename: string, head: Uint8Array): string {
  if (declared && declared !== OCTET_STREAM) {
    if (!bytesMatchType(declared, head)) {
      throw new AppError("unsupported_media_type", `The bytes are not a ${declared} image`);
    }
    return declared;
  }
  const sniffed = sniffImageType(head);
  if (sniffed) return sniffed;
  const guessed = contentTypeFromName(filename);
  return bytesMatchType(guessed, head) ? guessed : OCTET_STREAM;
}

type StreamLimits = { maxBytes: number; quotaLeft: number; quota: number };

/** Chunks held until a part is full: memory grows with what arrived, up to one part. */
class PartBuffer {
  private chunks: Uint8Array[] = [];
  size = 0;

  push(chunk: Uint8Array) {
    this.chunks.push(chunk);
    this.size += chunk.length;
  }

  /** The first `n` bytes, copied out and removed. */
  take(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.chunks[0]!;
      const used = Math.min(chunk.length, n - filled);
      out.set(chunk.subarray(0, used), filled);
      filled += used;
      if (used === chunk.length) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(used);
    }
    this.size -= n;
    return out;
  }

  /** Up to `n` leading bytes, without removing them. */
  head(n: number): Uint8Array {
    const out = new Uint8Array(Math.min(n, this.size));
    let filled = 0;
    for (const chunk of this.chunks) {
      if (filled === out.length) break;
      const used = Math.min(chunk.length, out.length - filled);
      out.set(chunk.subarray(0, used), filled);
      filled += used;
    }
    return out;
  }
}

/**
 * Writes a stream of unknown length to R2 holding at most one part in memory: a single `put` when it
 * fits in one part, else an R2 multipart upload. Counts bytes and aborts past the limits.
 */
export async function streamToR2(
  bucket: R2Bucket,
  key: string,
  chunks: AsyncIterable<Uint8Array>,
  limits: StreamLimits,
  typeFor: (head: Uint8Array) => string,
) {
  const buffer = new PartBuffer();
  let total = 0;
  let contentType: string | null = null;
  let upload: R2MultipartUpload | null = null;
  const uploaded: R2UploadedPart[] = [];
  const digest = new crypto.DigestStream("SHA-256");
  const hasher = digest.getWriter();
  try {
    for await (const chunk of chunks) {
      total += chunk.length;
      if (total > limits.maxBytes) {
        throw new AppError("payload_too_large", `The file exceeds the limit of ${limits.maxBytes} bytes`);
      }
      if (total > limits.quotaLeft)
        throw quotaExceeded(limits.quota - limits.quotaLeft, limits.quota, "file");
      await hasher.write(chunk);
      buffer.push(chunk);
      while (buffer.size >= STREAM_PART_BYTES) {
        contentType ??= typeFor(buffer.head(SNIFF_BYTES));
        upload ??= await bucket.createMultipartUpload(key, { httpMetadata: { contentType } });
        uploaded.push(await upload.uploadPart(uploaded.length + 1, buffer.take(STREAM_PART_BYTES)));
      }
    }
    await hasher.close();
    const sha256 = toHex(await digest.digest);
    contentType ??= typeFor(buffer.head(SNIFF_BYTES));
    const rest = buffer.take(buffer.size);
    if (upload) {
      if (rest.length > 0) uploaded.push(await upload.uploadPart(uploaded.length + 1, rest));
      await upload.complete(uploaded);
    } else {
      await bucket.put(key, rest, { httpMetadata: { contentType } });
    }
    return { size: total, sha256, contentType };
  } catch (err) {
    await upload?.abort().catch(() => undefined);
    throw err;
  }
}

export type FormUploadOptions = {
  purpose: FilePurpose;
  folder?: string;
  /** Reads a `folder` / `parent_path` form field when `folder` was not given. */
  parseFolder?: (value: string) => string;
};

/**
 * Streams a `multipart/form-data` upload (field `file`, optional `description`) into R2 and records it
 * as ready. Never holds the whole file: bytes go to R2 part by part as they arrive.
 */
export async function storeFormUpload(
  ctx: FileContext,
  request: Request,
  options: FormUploadOptions,
): Promise<FileRow> {
  const boundary = boundaryOf(request.headers.get("Content-Type") ?? undefined);
  if (!boundary) {
    throw new AppError("unsupported_media_type", "Send multipart/form-data with a 'file' field");
  }
  if (!request.body) throw invalid("file", "Field 'file' is required", "REQUIRED_FIELD");
  const maxBytes = maxStreamedBytes(ctx.env);
  const declared = Number(request.headers.get("Content-Length") ?? Number.NaN);
  if (declared > maxBytes + FORM_OVERHEAD_BYTES) {
    throw new AppError("payload_too_large", `The file exceeds the limit of ${maxBytes} bytes`);
  }
  const quota = quotaBytes(ctx.env);
  const used = await usedBytes(ctx.db, ctx.userId);
  if (used >= quota || (declared > FORM_OVERHEAD_BYTES && used + declared - FORM_OVERHEAD_BYTES > quota)) {
    throw quotaExceeded(used, quota, "file");
  }

  const id = newId();
  const key = objectKey(options.purpose, ctx.userId, id);
  let stored: { size: number; sha256: string; contentType: string; filename: string } | null = null;
  const fields: Record<string, string> = {};
  try {
    for await (const part of parseMultipart(request.body, boundary)) {
      if (part.name === "file" && part.filename !== null) {
        if (stored) throw invalid("file", "Send one file per request");
        stored = await storePart(ctx, key, part, { maxBytes, quotaLeft: quota - used, quota });
      } else if (part.filename === null && ["description", "folder", "parent_path"].includes(part.name)) {
        fields[part.name] = await readField(part, 1024);
      }
    }
    if (!stored) throw invalid("file", "Field 'file' is required", "REQUIRED_FIELD");
    return await insertFile(ctx.db, {
      id,
      userId: ctx.userId,
      r2Key: key,
      filename: stored.filename,
      contentType: stored.contentType,
      size: stored.size,
      sha256: stored.sha256,
      status: "ready",
      purpose: options.purpose,
      folder: options.folder ?? folderField(fields, options) ?? "/",
      description: fields.description?.trim() || null,
      confirmedAt: nowIso(),
    });
  } catch (err) {
    if (stored) await ctx.env.BUCKET.delete(key);
    throw err;
  }
}

function folderField(fields: Record<string, string>, options: FormUploadOptions) {
  const raw = fields.parent_path ?? fields.folder;
  return raw !== undefined && options.parseFolder ? options.parseFolder(raw) : undefined;
}

async function storePart(ctx: FileContext, key: string, part: FormPart, limits: StreamLimits) {
  const filename = sanitiseFilename(part.filename ?? "");
  const declared = part.contentType ? normaliseContentType(part.contentType) : null;
  const result = await streamToR2(ctx.env.BUCKET, key, part.body, limits, (head) =>
    resolveContentType(declared, filename, head),
  );
  return { ...result, filename };
}
