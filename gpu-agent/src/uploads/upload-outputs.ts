import type { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import type * as z from "zod/mini";
import type { RunOutput, UploadGrant } from "../../../src/protocol/v1";
import { contentTypeFor } from "../filenames";
import { sendRequest } from "../http-request";
import type { Logger } from "../log";
import { type DescribedOutput, type OutputFile, uploadNames } from "./output-files";
import type { OpenOutput, OutputSource } from "./output-source";

type Grant = z.infer<typeof UploadGrant>;

const MAX_RETRY_DELAY_MS = 5_000;

export class UploadError extends Error {
  override name = "UploadError";
}

export interface UploadOptions {
  concurrency: number;
  /**
   * How long transient failures (network errors, 408/429/5xx) are retried: long enough to outlast a
   * control-plane or storage restart, since the run's work is done and only its delivery is left.
   */
  retryForMs: number;
  /** Base delay between attempts; doubles each time, up to 5 s. */
  retryDelayMs?: number;
  signal: AbortSignal;
  log: Logger;
  /** Sources opened already (by `describeOutputs`), for each file's first attempt. */
  kept?: KeptSources;
}

/**
 * Sources opened to describe outputs, each kept for its file's first upload attempt, so ComfyUI is
 * asked for a file once rather than once to describe it and again to send it. Only the first `limit`
 * files' are kept (those start uploading at once; keeping more would hold ComfyUI's connections while
 * they wait); `release` closes whatever was not used.
 */
export class KeptSources {
  private readonly kept = new Map<string, OutputSource>();

  constructor(readonly limit: number) {}

  keep(name: string, source: OutputSource): void {
    // A kept stream that fails before its upload takes it fails that attempt, which opens it again.
    source.body.on("error", () => {});
    this.kept.set(name, source);
  }

  /** The source kept for this upload name, once. */
  take(name: string): OutputSource | undefined {
    const source = this.kept.get(name);
    this.kept.delete(name);
    return source;
  }

  release(): void {
    for (const source of this.kept.values()) source.body.destroy();
    this.kept.clear();
  }
}

/**
 * Reads each output's content type and size from its source (file or /view headers), not its bytes;
 * the first sources are left open in `kept` for the upload.
 */
export async function describeOutputs(
  files: OutputFile[],
  open: OpenOutput,
  signal: AbortSignal,
  kept?: KeptSources,
): Promise<DescribedOutput[]> {
  const names = uploadNames(files);
  return Promise.all(
    files.map(async (file, i) => {
      const source = await open(file, signal);
      const name = names[i] ?? file.filename;
      // Without a Content-Length (chunked), count the bytes once: the PUT needs the size up front.
      const size = source.size ?? (await countBytes(source.body));
      if (kept && source.size !== null && i < kept.limit) kept.keep(name, source);
      else source.body.destroy();
      const header = source.contentType?.split(";")[0]?.trim();
      const contentType =
        header && header !== "application/octet-stream" ? header : contentTypeFor(file.filename);
      return { ...file, upload_name: name, content_type: contentType, size };
    }),
  );
}

/**
 * Streams every output from its source straight into its presigned PUT (never whole in memory), a few
 * at a time, retrying transient failures. Returns the run's outputs with the keys they were stored under.
 */
export async function uploadOutputs(
  outputs: DescribedOutput[],
  grants: Grant[],
  open: OpenOutput,
  options: UploadOptions,
): Promise<RunOutput[]> {
  const byName = new Map(grants.map((grant) => [grant.name, grant]));
  const missing = outputs.find((output) => !byName.has(output.upload_name));
  if (missing) throw new UploadError(`the control plane sent no upload URL for ${missing.upload_name}`);
  // One failed file fails the run, so stop the others instead of finishing them for nothing.
  const failed = new AbortController();
  const signal = AbortSignal.any([options.signal, failed.signal]);
  return mapLimit(outputs, options.concurrency, async (output) => {
    const grant = byName.get(output.upload_name) as Grant;
    try {
      await uploadWithRetries(output, grant, open, { ...options, signal });
    } catch (error) {
      failed.abort();
      throw error;
    }
    const { upload_name: _name, ...described } = output;
    return { ...described, key: grant.key };
  });
}

async function uploadWithRetries(
  output: DescribedOutput,
  grant: Grant,
  open: OpenOutput,
  options: UploadOptions,
) {
  const giveUpAt = Date.now() + options.retryForMs;
  for (let attempt = 1; ; attempt++) {
    try {
      const kept = attempt === 1 ? options.kept?.take(output.upload_name) : undefined;
      await uploadOnce(output, grant, open, options.signal, kept);
      return;
    } catch (error) {
      const retryable = !(error instanceof UploadError) || /HTTP (408|429|5\d\d)/.test(error.message);
      if (options.signal.aborted || !retryable || Date.now() >= giveUpAt) {
        throw error instanceof UploadError
          ? error
          : new UploadError(`uploading ${output.filename}: ${message(error)}`);
      }
      options.log.warn("upload failed; retrying", { file: output.filename, attempt, error: message(error) });
      const delay = Math.min(
        MAX_RETRY_DELAY_MS,
        (options.retryDelayMs ?? 500) * 2 ** Math.min(attempt - 1, 10),
      );
      await sleep(delay, undefined, { signal: options.signal });
    }
  }
}

async function uploadOnce(
  output: DescribedOutput,
  grant: Grant,
  open: OpenOutput,
  signal: AbortSignal,
  kept: OutputSource | undefined,
) {
  // Allow a slow link 64 KiB/s on top of a fixed minute before calling an upload stuck. A timer of our
  // own, cleared once the PUT is answered: `AbortSignal.timeout` would stay armed for that minute, then
  // fire and build an abort error for an upload long done.
  const stuck = new AbortController();
  const timer = setTimeout(() => stuck.abort(), 60_000 + Math.ceil(output.size / 64));
  const limit = AbortSignal.any([signal, stuck.signal]);
  try {
    const source = kept ?? (await open(output, limit));
    const response = await sendRequest(grant.url, {
      method: "PUT",
      headers: { ...grant.headers, "content-length": String(output.size) },
      body: source.body,
      signal: limit,
    });
    response.discard();
    if (!response.ok) throw new UploadError(`storage refused ${output.filename}: HTTP ${response.status}`);
  } finally {
    clearTimeout(timer);
  }
}

async function countBytes(body: Readable): Promise<number> {
  let size = 0;
  for await (const chunk of body) size += (chunk as Buffer).byteLength;
  return size;
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  let stopped = false;
  const worker = async () => {
    while (next < items.length && !stopped) {
      const index = next++;
      try {
        results[index] = await fn(items[index] as T);
      } catch (error) {
        stopped = true;
        throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));
