import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, rename, stat, statfs, unlink } from "node:fs/promises";
import type { IncomingMessage } from "node:http";
import { dirname, join } from "node:path";
import { finished } from "node:stream/promises";
import { InputError } from "../inputs/bind-inputs";
import { redact, safeGet, type UrlPolicy } from "../inputs/safe-get";
import { modelFilePath, PARTIAL_DIR } from "./model-paths";

export interface ModelDownloadRequest {
  id: string;
  url: string;
  folder: string;
  name: string;
  /** The SHA-256 the file must have, when the caller knows it. */
  sha256?: string;
}

export interface DownloaderOptions {
  policy: UrlPolicy;
  /** Bytes that must stay free on the disk beside the download. */
  reserveBytes: number;
  /** Tries after a dropped connection that made no progress, before the download fails. */
  retries: number;
  retryDelayMs: number;
  /** A source silent this long is dropped (and resumed like any other drop). */
  idleTimeoutMs: number;
  signal: AbortSignal;
  /** Waited on before each chunk is written: a running job's uploads go first. */
  yieldTo(): Promise<void>;
  onProgress(bytesDone: number, bytesTotal: number | null): void;
  /** Free bytes on the disk holding `dir` (statfs, unless a test says otherwise). */
  freeBytes?(dir: string): Promise<number>;
}

export interface LandedModel {
  path: string;
  sha256: string;
  size: number;
  /** The file was already there (and matched the expected hash, when one was given). */
  alreadyPresent: boolean;
}

/** A download that cannot succeed by trying again (bad path, hash, HTTP status, disk space, SSRF). */
export class DownloadError extends Error {}

/**
 * Downloads one model file into `modelsDir/<folder>/<name>`: written to `modelsDir/.comfy-edge-downloads/
 * <id>.part`, resumed with an HTTP Range request after a dropped connection, hashed, and renamed into
 * place only when complete and (when a hash is expected) verified. On failure the partial file is gone.
 */
export async function downloadModel(
  modelsDir: string,
  request: ModelDownloadRequest,
  options: DownloaderOptions,
): Promise<LandedModel> {
  const target = modelFilePath(modelsDir, request.folder, request.name);
  if (!target) throw new DownloadError(`${request.folder}/${request.name} is outside the models folder`);
  const present = await existingFile(target, request.sha256);
  if (present) return present;
  const partDir = join(modelsDir, PARTIAL_DIR);
  await mkdir(partDir, { recursive: true });
  const part = join(partDir, `${request.id}.part`);
  try {
    const size = await fetchWithResume(request, part, options);
    const sha256 = await sha256Of(part);
    if (request.sha256 && sha256 !== request.sha256)
      throw new DownloadError(`SHA-256 mismatch: expected ${request.sha256}, got ${sha256}`);
    await mkdir(dirname(target), { recursive: true });
    await rename(part, target);
    return { path: target, sha256, size, alreadyPresent: false };
  } catch (error) {
    // Stopped by a shutdown: the part file stays, to be resumed when the download is sent again.
    if (!options.signal.aborted) await unlink(part).catch(() => undefined);
    throw error;
  }
}

/** A file already at the target: kept when no hash is expected or it has that hash; refused otherwise. */
async function existingFile(target: string, expected: string | undefined): Promise<LandedModel | undefined> {
  const stats = await stat(target).catch(() => undefined);
  if (!stats) return undefined;
  if (!stats.isFile()) throw new DownloadError("something other than a file is in the way");
  const sha256 = await sha256Of(target);
  if (expected && sha256 !== expected)
    throw new DownloadError(
      `a different file with this name is already there (SHA-256 ${sha256}); delete it first`,
    );
  return { path: target, sha256, size: stats.size, alreadyPresent: true };
}

async function fetchWithResume(request: ModelDownloadRequest, part: string, options: DownloaderOptions) {
  let fruitless = 0;
  for (;;) {
    const offset = await sizeOf(part);
    try {
      return await fetchOnce(request.url, part, offset, options);
    } catch (error) {
      if (error instanceof DownloadError || options.signal.aborted) throw error;
      fruitless = (await sizeOf(part)) > offset ? 1 : fruitless + 1;
      if (fruitless > options.retries)
        throw new DownloadError(`downloading ${redact(request.url)} failed: ${(error as Error).message}`);
      await new Promise((resolve) => setTimeout(resolve, options.retryDelayMs * fruitless));
    }
  }
}

/** One GET from `offset` (a Range request when there is one); resolves with the file's full size. */
async function fetchOnce(url: string, part: string, offset: number, options: DownloaderOptions) {
  // Silence from the source (not our own pauses for uploads) drops the connection, to be resumed.
  const silence = new AbortController();
  const stall = setTimeout(() => silence.abort(new Error("the source stalled")), options.idleTimeoutMs);
  try {
    return await fetchFrom(url, part, offset, options, {
      signal: AbortSignal.any([options.signal, silence.signal]),
      stall,
    });
  } finally {
    clearTimeout(stall);
  }
}

async function fetchFrom(
  url: string,
  part: string,
  offset: number,
  options: DownloaderOptions,
  { signal, stall }: { signal: AbortSignal; stall: NodeJS.Timeout },
) {
  const headers: Record<string, string> = offset > 0 ? { Range: `bytes=${offset}-` } : {};
  let response: IncomingMessage;
  try {
    ({ response } = await safeGet(new URL(url), options.policy, { signal, headers }));
  } catch (error) {
    // The URL policy refused it (private address, too many redirects): no retry changes that.
    if (error instanceof InputError) throw new DownloadError(error.message);
    throw error;
  }
  if (response.statusCode === 416 && offset > 0) {
    // A range past the end: the partial file is not the source's file; start over.
    response.resume();
    await unlink(part).catch(() => undefined);
    throw new Error("the source refused the range to resume from");
  }
  const span = replySpan(response, url, offset);
  if (span.start === 0 && offset > 0) await unlink(part).catch(() => undefined);
  const free = await (options.freeBytes ?? freeBytesOf)(dirname(part));
  const needed = (span.total === null ? 0 : span.total - span.start) + options.reserveBytes;
  if (free < needed) {
    response.destroy();
    throw new DownloadError(`not enough disk space: ${needed} bytes needed, ${free} free`);
  }
  let done = span.start;
  const out = createWriteStream(part, { flags: span.start > 0 ? "a" : "w" });
  try {
    for await (const chunk of response) {
      stall.refresh();
      await options.yieldTo();
      stall.refresh();
      done += (chunk as Buffer).length;
      if (span.total !== null && done > span.total)
        throw new DownloadError("the source sent more than it announced");
      if (!out.write(chunk)) await new Promise<void>((resolve) => out.once("drain", () => resolve()));
      options.onProgress(done, span.total);
    }
  } finally {
    out.end();
    await finished(out);
  }
  if (span.total !== null && done < span.total)
    throw new Error(`connection closed at ${done} of ${span.total} bytes`);
  return done;
}

/** Where the reply's body starts in the file and the file's full size, if the reply says. */
function replySpan(
  response: IncomingMessage,
  url: string,
  offset: number,
): { start: number; total: number | null } {
  const status = response.statusCode ?? 0;
  const length = Number(response.headers["content-length"] ?? Number.NaN);
  if (status === 200) return { start: 0, total: Number.isFinite(length) ? length : null };
  if (status === 206) {
    const range = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(response.headers["content-range"] ?? "");
    if (range && Number(range[1]) === offset)
      return { start: offset, total: range[2] === "*" ? null : Number(range[2]) };
    response.destroy();
    throw new Error("the source answered another range than the one asked for");
  }
  response.resume();
  if (status >= 500 || status === 429) throw new Error(`the source answered HTTP ${status}`);
  throw new DownloadError(`downloading ${redact(url)} returned HTTP ${status}`);
}

async function sizeOf(path: string): Promise<number> {
  return (await stat(path).catch(() => undefined))?.size ?? 0;
}

async function freeBytesOf(dir: string): Promise<number> {
  const stats = await statfs(dir);
  return stats.bavail * stats.bsize;
}

export async function sha256Of(path: string): Promise<string> {
  const digest = createHash("sha256");
  for await (const chunk of createReadStream(path, { highWaterMark: 4 * 1024 * 1024 }))
    digest.update(chunk as Buffer);
  return digest.digest("hex");
}
