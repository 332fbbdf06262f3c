import { createHash, randomBytes } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { ModelDownloadProgressMessage, ModelDownloadResultMessage } from "../../../src/protocol/v1";
import { silentLogger } from "../../src/log";
import { DownloadError, type DownloaderOptions, downloadModel } from "../../src/models/downloader";
import { ModelDownloads } from "../../src/models/downloads";
import { JobGate } from "../../src/models/file-hasher";
import { ModelHashCache } from "../../src/models/hash-cache";
import { PARTIAL_DIR } from "../../src/models/model-paths";
import { type ModelSource, startModelSource } from "./helpers/model-source";

const body = randomBytes(256 * 1024);
const sha256 = createHash("sha256").update(body).digest("hex");

const dirs: string[] = [];
const sources: ModelSource[] = [];

afterEach(async () => {
  await Promise.all(sources.splice(0).map((source) => source.close()));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function modelsDir() {
  const dir = mkdtempSync(join(tmpdir(), "models-"));
  dirs.push(dir);
  return dir;
}

async function source(options?: Parameters<typeof startModelSource>[1]) {
  const started = await startModelSource(body, options);
  sources.push(started);
  return started;
}

function options(overrides: Partial<DownloaderOptions> = {}): DownloaderOptions {
  return {
    policy: { allowPrivate: true, trustedOrigins: [] },
    reserveBytes: 0,
    retries: 3,
    retryDelayMs: 1,
    idleTimeoutMs: 10_000,
    signal: new AbortController().signal,
    yieldTo: async () => {},
    onProgress: () => {},
    ...overrides,
  };
}

const partials = (dir: string) =>
  existsSync(join(dir, PARTIAL_DIR)) ? readdirSync(join(dir, PARTIAL_DIR)) : [];

describe("model downloader", () => {
  it("resumes a dropped transfer with a Range request and lands the verified file", async () => {
    const dir = modelsDir();
    const from = await source({ dropOnce: true });
    const progress: number[] = [];
    const landed = await downloadModel(
      dir,
      { id: "dl_1", url: from.url, folder: "checkpoints", name: "model.safetensors", sha256 },
      options({ onProgress: (done) => progress.push(done) }),
    );
    expect(from.ranges[0]).toBeUndefined();
    const resumedAt = Number(/^bytes=(\d+)-$/.exec(from.ranges[1] ?? "")?.[1]);
    expect(resumedAt).toBeGreaterThan(0);
    expect(resumedAt).toBeLessThan(body.length);
    expect(from.ranges).toHaveLength(2);
    const path = join(dir, "checkpoints", "model.safetensors");
    expect(landed).toEqual({ path, sha256, size: body.length, alreadyPresent: false });
    expect(readFileSync(path).equals(body)).toBe(true);
    expect(progress.at(-1)).toBe(body.length);
    expect(partials(dir)).toEqual([]);
  });

  it("drops a source that goes silent mid-transfer and resumes where it stopped", async () => {
    const dir = modelsDir();
    const from = await source({ stallOnce: true });
    const landed = await downloadModel(
      dir,
      { id: "dl_stall", url: from.url, folder: "checkpoints", name: "slow.safetensors", sha256 },
      options({ idleTimeoutMs: 300 }),
    );
    expect(landed.sha256).toBe(sha256);
    expect(from.ranges[1]).toMatch(/^bytes=[1-9]\d*-$/);
  });

  it("writes to a temporary file and renames it into place only when complete", async () => {
    const dir = modelsDir();
    const from = await source();
    const target = join(dir, "loras", "sub", "style.safetensors");
    const seen: { target: boolean; partial: string[] }[] = [];
    await downloadModel(
      dir,
      { id: "dl_tmp", url: from.url, folder: "loras", name: "sub/style.safetensors" },
      options({
        yieldTo: async () => {
          seen.push({ target: existsSync(target), partial: partials(dir) });
        },
      }),
    );
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((s) => !s.target)).toBe(true);
    expect(seen.some((s) => s.partial.join() === "dl_tmp.part")).toBe(true);
    expect(readFileSync(target).equals(body)).toBe(true);
  });

  it("fails on a wrong expected hash and leaves neither the file nor the temporary file", async () => {
    const dir = modelsDir();
    const from = await source();
    const wrong = "0".repeat(64);
    const download = downloadModel(
      dir,
      { id: "dl_bad", url: from.url, folder: "checkpoints", name: "bad.safetensors", sha256: wrong },
      options(),
    );
    await expect(download).rejects.toThrow(`SHA-256 mismatch: expected ${wrong}, got ${sha256}`);
    expect(existsSync(join(dir, "checkpoints", "bad.safetensors"))).toBe(false);
    expect(partials(dir)).toEqual([]);
  });

  it("checks free disk space before writing", async () => {
    const dir = modelsDir();
    const from = await source();
    const download = downloadModel(
      dir,
      { id: "dl_disk", url: from.url, folder: "checkpoints", name: "big.safetensors" },
      options({ reserveBytes: 1000, freeBytes: async () => body.length }),
    );
    await expect(download).rejects.toThrow(
      `not enough disk space: ${body.length + 1000} bytes needed, ${body.length} free`,
    );
    expect(partials(dir)).toEqual([]);
  });

  it.each([
    ["checkpoints", "../../escape.safetensors"],
    ["checkpoints", "/etc/passwd"],
    ["..", "escape.safetensors"],
    ["checkpoints/../..", "escape.safetensors"],
  ])("refuses %s / %s: outside the models folder", async (folder, name) => {
    const dir = modelsDir();
    const from = await source();
    const download = downloadModel(dir, { id: "dl_out", url: from.url, folder, name }, options());
    await expect(download).rejects.toBeInstanceOf(DownloadError);
    await expect(download).rejects.toThrow("outside the models folder");
    expect(from.ranges).toEqual([]);
  });

  it("refuses a private address unless private sources are allowed", async () => {
    const dir = modelsDir();
    const from = await source();
    const download = downloadModel(
      dir,
      { id: "dl_priv", url: from.url, folder: "checkpoints", name: "p.safetensors" },
      options({ policy: { allowPrivate: false, trustedOrigins: [] } }),
    );
    await expect(download).rejects.toThrow("private or local address");
    expect(from.ranges).toEqual([]);
  });

  it("keeps a file already there when it has the expected hash, and refuses to overwrite another", async () => {
    const dir = modelsDir();
    const from = await source();
    mkdirSync(join(dir, "vae"));
    writeFileSync(join(dir, "vae", "same.safetensors"), body);
    writeFileSync(join(dir, "vae", "other.safetensors"), "other bytes");
    const same = await downloadModel(
      dir,
      { id: "dl_same", url: from.url, folder: "vae", name: "same.safetensors", sha256 },
      options(),
    );
    expect(same).toMatchObject({ sha256, alreadyPresent: true });
    const other = downloadModel(
      dir,
      { id: "dl_other", url: from.url, folder: "vae", name: "other.safetensors", sha256 },
      options(),
    );
    await expect(other).rejects.toThrow("a different file with this name is already there");
    expect(readFileSync(join(dir, "vae", "other.safetensors"), "utf8")).toBe("other bytes");
    expect(from.ranges).toEqual([]);
  });

  it("gives up after the retries when the source keeps failing, leaving nothing", async () => {
    const dir = modelsDir();
    const from = await source();
    await from.close();
    const download = downloadModel(
      dir,
      { id: "dl_gone", url: from.url, folder: "checkpoints", name: "gone.safetensors" },
      options({ retries: 2 }),
    );
    await expect(download).rejects.toThrow(/failed: .*ECONNREFUSED/);
    expect(partials(dir)).toEqual([]);
  });
});

/** An agent's download manager over `dir`, two at a time, recording what it would send. */
async function agentDownloads(dir: string, uploads: JobGate) {
  const sent: (ModelDownloadProgressMessage | ModelDownloadResultMessage)[] = [];
  const downloads = new ModelDownloads({
    modelsDirs: [dir],
    concurrency: 2,
    policy: { allowPrivate: true, trustedOrigins: [] },
    reserveBytes: 0,
    progressIntervalMs: 0,
    uploads,
    cache: await ModelHashCache.open(modelsDir(), silentLogger),
    send: (message) => sent.push(message),
    onLanded: () => {},
    log: silentLogger,
  });
  return { downloads, sent };
}

describe("model downloads on an agent", () => {
  it("runs at most two at a time and answers a repeated download id with its result", async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const from = await source({ hold: () => gate });
    const dir = modelsDir();
    const { downloads, sent } = await agentDownloads(dir, new JobGate());
    const request = (id: string) => ({
      type: "model_download" as const,
      download_id: id,
      folder: "checkpoints",
      name: `${id}.safetensors`,
      url: from.url,
      sha256,
    });
    for (const id of ["a", "b", "c"]) downloads.start(request(id));
    await expect.poll(() => from.open).toBe(2);
    expect(from.ranges).toHaveLength(2);
    release();
    await downloads.idle();
    expect(from.ranges).toHaveLength(3);
    const results = sent.filter((m) => m.type === "model_download_result");
    expect(results.map((r) => [r.download_id, r.status]).sort()).toEqual([
      ["a", "completed"],
      ["b", "completed"],
      ["c", "completed"],
    ]);
    downloads.start(request("a"));
    expect(sent.at(-1)).toEqual(results.find((r) => r.download_id === "a"));
    expect(from.ranges).toHaveLength(3);
  });
  it("waits while a job uploads its outputs before writing a byte", async () => {
    const from = await source();
    const dir = modelsDir();
    const uploads = new JobGate();
    uploads.begin();
    const waited = new Promise<void>((resolve) => {
      const whenIdle = uploads.whenIdle.bind(uploads);
      uploads.whenIdle = () => {
        resolve();
        return whenIdle();
      };
    });
    const { downloads, sent } = await agentDownloads(dir, uploads);
    downloads.start({
      type: "model_download",
      download_id: "behind-uploads",
      folder: "checkpoints",
      name: "m.safetensors",
      url: from.url,
    });
    await waited;
    expect(sent).toEqual([]);
    uploads.end();
    await downloads.idle();
    expect(sent.at(-1)).toMatchObject({ status: "completed", sha256, size_bytes: body.length });
  });
});
