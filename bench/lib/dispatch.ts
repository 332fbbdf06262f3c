import { readFileSync } from "node:fs";
import path from "node:path";
import { dialServer, type JobMessage, TestAgent } from "../../test/helpers/test-agent";
import { pushLatency } from "./floor";
import { groupCpuMs } from "./procs";
import type { Account } from "./product";
import { createDeployment, createMachine, getRunStatus, queueRun } from "./product";
import { root, type WranglerServer } from "./wrangler";

/** A graph every ComfyUI (and the simulator) runs; the run input `marker` lands in EmptyImage's colour. */
export const BENCH_GRAPH = {
  "1": { class_type: "EmptyImage", inputs: { width: 8, height: 8, batch_size: 1, color: 0 } },
  "2": { class_type: "SaveImage", inputs: { images: ["1", 0], filename_prefix: "bench" } },
};
/** The bench's agents wait longer than the tests' for what a loaded machine delays. */
export const ACK_TIMEOUT_MS = 15_000;
/** A real ComfyUI's node definitions (recorded), which the bench's protocol agents report. */
const BENCH_DEFINITIONS: Record<string, unknown> = JSON.parse(
  readFileSync(path.join(root, "fixtures", "comfyui-traces", "object_info_full.json"), "utf8"),
);
/**
 * How the bench connects its protocol agents: over the network, one slot, renewing leases, and
 * reporting node definitions as a GPU agent does, so runs are accepted as on a real deployment (their
 * node classes checked, no `node_classes_unchecked` warning).
 */
export const BENCH_AGENT = (baseUrl: string) => ({
  dial: dialServer(baseUrl),
  slots: 1,
  heartbeat: true,
  timeoutMs: 10_000,
  definitions: BENCH_DEFINITIONS,
});

export const BENCH_MARKER = { node: "1", input: "color", type: "integer" as const };

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
    }),
  ]);
}

/**
 * Row 1. Each sample: from the moment the client sends `POST /api/run/deployment/queue` to the
 * moment the `job` frame reaches an agent that holds the pool's only idle slot. The agent is the
 * bench's own protocol-v1 agent in this process, so both ends read the same clock and nothing of
 * the GPU agent's own work is in the figure. The floor is the same walk through a bare Worker and
 * Durable Object (`POST /push` → the message reaches the client), measured in alternating blocks
 * with the product so a noisy neighbour hits both alike.
 */
export async function dispatchLatency(
  controlPlane: WranglerServer,
  floor: WranglerServer,
  account: Account,
  opts: { runs: number; blocks: number; warmup: number },
) {
  const machine = await createMachine(controlPlane, account, "dispatch-agent", "dispatch");
  const deploymentId = await createDeployment(controlPlane, account, "dispatch", BENCH_GRAPH, BENCH_MARKER);
  const agent = await TestAgent.connect(machine.token, BENCH_AGENT(controlPlane.url));
  const product: number[] = [];
  const productPost: number[] = [];
  const productCpu: number[] = [];
  const floorSamples: number[] = [];
  const floorPost: number[] = [];
  let marker = 0;

  const oneRun = () => timedDispatch(controlPlane, account, agent, deploymentId, marker++);

  try {
    await warmUp(controlPlane, account, oneRun, opts.warmup);
    await pushLatency(floor, opts.warmup);
    const perBlock = Math.ceil(opts.runs / opts.blocks);
    for (let b = 0; b < opts.blocks; b++) {
      const f = await pushLatency(floor, perBlock);
      floorSamples.push(...f.samples);
      floorPost.push(...f.roundTrips);
      for (let i = 0; i < perBlock; i++) {
        const r = await oneRun();
        product.push(r.latency);
        productPost.push(r.post);
        productCpu.push(r.postCpuMs);
      }
    }
  } finally {
    agent.close();
  }
  return { product, productPost, productCpu, floor: floorSamples, floorPost };
}

/**
 * One run of the deployment through the product: `POST /api/run/deployment/queue` sent → its `job`
 * frame at `agent` (which must hold the pool's only idle slot), then completed at zero time. Returns
 * the dispatch latency, the POST's round trip, and the control plane's CPU while the POST was open.
 */
export async function timedDispatch(
  controlPlane: WranglerServer,
  account: Account,
  agent: TestAgent,
  deploymentId: string,
  marker: number,
) {
  const arrived = new Promise<{ job: JobMessage; at: number }>((resolve) => {
    agent.onJob = (job, at) => resolve({ job, at });
  });
  const cpuBefore = groupCpuMs(controlPlane.pid);
  const sent = performance.now();
  const runId = await queueRun(controlPlane, account, deploymentId, marker);
  const returned = performance.now();
  const postCpuMs = groupCpuMs(controlPlane.pid) - cpuBefore;
  const { job, at } = await withTimeout(arrived, 10_000, `job for run ${runId}`);
  if (job.run_id !== runId) throw new Error(`expected the job of ${runId}, got ${job.run_id}`);
  await agent.complete(job, ACK_TIMEOUT_MS);
  return { runId, latency: at - sent, post: returned - sent, postCpuMs };
}

/** Warm-up runs past which a pool's reported node definitions must be in use. */
const MAX_WARMUP = 100;

/**
 * `count` warm-up runs, then more until one is accepted with its node classes checked: the agent's
 * definitions are stored after its welcome, so the first runs of a new pool may still be unchecked.
 */
export async function warmUp(
  controlPlane: WranglerServer,
  account: Account,
  oneRun: () => Promise<{ runId: string }>,
  count: number,
) {
  for (let i = 0; i < MAX_WARMUP; i++) {
    const { runId } = await oneRun();
    if (i + 1 < count) continue;
    const run = await getRunStatus(controlPlane, account, runId);
    const warnings = (run.warnings ?? []) as { code: string }[];
    if (!warnings.some((w) => w.code === "node_classes_unchecked")) return;
  }
  throw new Error(`runs were still accepted without a node-class check after ${MAX_WARMUP} warm-up runs`);
}
