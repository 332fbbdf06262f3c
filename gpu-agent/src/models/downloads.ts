import { copyFile, mkdir, rename, stat, unlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import type {
  ModelDownloadMessage,
  ModelDownloadProgressMessage,
  ModelDownloadResultMessage,
} from "../../../src/protocol/v1";
import type { UrlPolicy } from "../inputs/safe-get";
import type { Logger } from "../log";
import { ProgressThrottle } from "../progress-throttle";
import { type DownloaderOptions, downloadModel, type LandedModel } from "./downloader";
import type { JobGate } from "./file-hasher";
import type { ModelHashCache } from "./hash-cache";
import { modelFilePath, PARTIAL_DIR } from "./model-paths";

export interface ModelDownloadsOptions {
  /** Each distinct `models/` directory of this host's ComfyUIs; the file lands in every one. */
  modelsDirs: string[];
  /** Downloads running at once; more wait their turn. */
  concurrency: number;
  policy: UrlPolicy;
  reserveBytes: number;
  progressIntervalMs: number;
  /** Running jobs' output uploads: while any is busy, downloads pause between chunks. */
  uploads: JobGate;
  cache: ModelHashCache;
  send(message: ModelDownloadProgressMessage | ModelDownloadResultMessage): void;
  /** A file landed: list the models again so the inventory carries it. */
  onLanded(): void;
  log: Logger;
  retries?: number;
  retryDelayMs?: number;
  idleTimeoutMs?: number;
  freeBytes?: DownloaderOptions["freeBytes"];
}

type Progress = { done: number; total: number | null };

/**
 * The model downloads the control plane asked this agent for: a few at a time, each reported while it
 * runs (throttled) and once when it ends. A download id seen again is the same download; a finished one
 * answers its result again (the first answer may have been lost with the link).
 */
export class ModelDownloads {
  private readonly active = new Map<string, Promise<void>>();
  private readonly results = new Map<string, ModelDownloadResultMessage>();
  private readonly waiting: (() => void)[] = [];
  private running = 0;
  private readonly abort = new AbortController();

  constructor(private readonly options: ModelDownloadsOptions) {}

  start(message: ModelDownloadMessage): void {
    const id = message.download_id;
    const result = this.results.get(id);
    if (result) {
      this.options.send(result);
      return;
    }
    if (this.active.has(id)) return;
    this.active.set(
      id,
      this.run(message).finally(() => this.active.delete(id)),
    );
  }

  /** Resolves once no download runs or waits. */
  async idle(): Promise<void> {
    while (this.active.size > 0) await Promise.allSettled([...this.active.values()]);
  }

  /** Stops every download (shutdown); their partial files stay and are resumed when asked again. */
  close(): void {
    this.abort.abort();
  }

  private async run(message: ModelDownloadMessage) {
    await this.turn();
    try {
      const result = await this.download(message);
      if (this.abort.signal.aborted) return;
      this.results.set(message.download_id, result);
      this.options.send(result);
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }

  private async turn() {
    if (this.running >= this.options.concurrency)
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.running++;
  }

  private async download(message: ModelDownloadMessage): Promise<ModelDownloadResultMessage> {
    const { download_id, folder, name } = message;
    const [first, ...others] = this.options.modelsDirs;
    if (!first) return failed(download_id, "ComfyUI's directory is not set on this agent (--comfy-dir)");
    const throttle = new ProgressThrottle<Progress>(this.options.progressIntervalMs, ({ done, total }) =>
      this.options.send({
        type: "model_download_progress",
        download_id,
        bytes_done: done,
        bytes_total: total,
      }),
    );
    try {
      const request = { id: download_id, url: message.url, folder, name, sha256: message.sha256 };
      const landed = await downloadModel(first, request, this.downloaderOptions(throttle));
      throttle.flush();
      const paths = [landed.path];
      for (const dir of others) paths.push(await copyInto(dir, download_id, folder, name, landed));
      for (const path of paths) await this.remember(path, landed.sha256);
      this.options.log.info(
        `model ${folder}/${name} ${landed.alreadyPresent ? "was already here" : "landed"}`,
        {
          download_id,
          sha256: landed.sha256,
          size: landed.size,
        },
      );
      this.options.onLanded();
      return {
        type: "model_download_result",
        download_id,
        status: "completed",
        sha256: landed.sha256,
        size_bytes: landed.size,
      };
    } catch (error) {
      throttle.dispose();
      this.options.log.warn(`model download ${folder}/${name} failed`, { download_id, error: String(error) });
      return failed(download_id, (error as Error).message);
    }
  }

  private downloaderOptions(throttle: ProgressThrottle<Progress>): DownloaderOptions {
    const { options } = this;
    return {
      policy: options.policy,
      reserveBytes: options.reserveBytes,
      retries: options.retries ?? 5,
      retryDelayMs: options.retryDelayMs ?? 1000,
      idleTimeoutMs: options.idleTimeoutMs ?? 60_000,
      signal: this.abort.signal,
      yieldTo: () => options.uploads.whenIdle(),
      onProgress: (done, total) => throttle.push({ done, total }),
      freeBytes: options.freeBytes,
    };
  }

  /** The hash is known: the inventory need not read the file again. */
  private async remember(path: string, sha256: string) {
    const stats = await stat(path);
    await this.options.cache.set(path, { size: stats.size, mtime_ms: stats.mtimeMs, sha256 });
  }
}

/** Another ComfyUI's models folder gets a copy, written aside and renamed like a download. */
async function copyInto(dir: string, id: string, folder: string, name: string, landed: LandedModel) {
  const target = modelFilePath(dir, folder, name);
  if (!target) throw new Error(`${folder}/${name} is outside the models folder`);
  if (target === landed.path) return target;
  const part = join(dir, PARTIAL_DIR, `${id}.part`);
  await mkdir(dirname(part), { recursive: true });
  try {
    await copyFile(landed.path, part);
    await mkdir(dirname(target), { recursive: true });
    await rename(part, target);
  } catch (error) {
    await unlink(part).catch(() => undefined);
    throw error;
  }
  return target;
}

const failed = (download_id: string, error: string): ModelDownloadResultMessage => ({
  type: "model_download_result",
  download_id,
  status: "failed",
  error: error.slice(0, 2000),
});
