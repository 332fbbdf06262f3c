import type { TestProject } from "vitest/node";
import { SHARED_WORKER_VARS, startWorker } from "./worker";

/** One control plane for the whole e2e project: starting `wrangler dev` is most of an e2e file's time. */
export default async function setup(project: TestProject) {
  const worker = await startWorker({ vars: SHARED_WORKER_VARS });
  project.provide("sharedWorkerUrl", worker.url);
  return () => worker.stop();
}
