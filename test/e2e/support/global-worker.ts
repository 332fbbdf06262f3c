import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { buildArtifacts } from "./build-artifacts";
import { SHARED_WORKER_VARS, startWorker } from "./worker";

/**
 * One control plane for the whole e2e project: starting `wrangler dev` is most of an e2e file's time.
 * The builds and the start go on in the background while the other projects' tests run (every global
 * setup finishes before any test starts); the URL, or why it never came up, is written to a file each
 * e2e file waits on (`sharedWorker()`).
 */
export default async function setup(project: TestProject) {
  const dir = await mkdtemp(path.join(tmpdir(), "comfy-edge-e2e-setup-"));
  const files = { url: path.join(dir, "url"), failure: path.join(dir, "failure.txt") };
  project.provide("sharedWorkerFiles", files);
  const started = buildArtifacts().then(() => startWorker({ vars: SHARED_WORKER_VARS }));
  const written = started.then(
    (worker) => writeFile(files.url, worker.url),
    (err: unknown) =>
      writeFile(files.failure, err instanceof Error ? (err.stack ?? err.message) : String(err)),
  );
  return async () => {
    await written;
    await (await started.catch(() => null))?.stop();
    await rm(dir, { recursive: true, force: true });
  };
}
