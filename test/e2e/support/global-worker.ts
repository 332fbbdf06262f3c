import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { buildArtifacts } from "./build-artifacts";
import { freePort, SHARED_WORKER_VARS, startWorker } from "./worker";

/**
 * One control plane for the whole e2e project: starting `wrangler dev` is most of an e2e file's time.
 * The builds and the start go on in the background while the other projects' tests run (every global
 * setup finishes before any test starts); each e2e file waits for it (`sharedWorker()`), and learns
 * from the failure file why it never came up.
 */
export default async function setup(project: TestProject) {
  const dir = await mkdtemp(path.join(tmpdir(), "comfy-edge-e2e-setup-"));
  const failure = path.join(dir, "failure.txt");
  const port = await freePort();
  project.provide("sharedWorkerUrl", `http://127.0.0.1:${port}`);
  project.provide("sharedWorkerFailure", failure);
  const started = buildArtifacts().then(() => startWorker({ vars: SHARED_WORKER_VARS, port }));
  const failed = started.then(
    () => undefined,
    (err: unknown) => writeFile(failure, err instanceof Error ? (err.stack ?? err.message) : String(err)),
  );
  return async () => {
    await failed;
    await (await started.catch(() => null))?.stop();
    await rm(dir, { recursive: true, force: true });
  };
}
