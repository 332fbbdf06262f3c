import { randomUUID } from "node:crypto";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { mbPerSecond } from "./bytes";
import { gpuFleet, type Simulator } from "./gpu-fleet";
import { type Account, createDeployment, createMachine, getRunStatus, queueRun } from "./product";
import { RunSocket } from "./run-socket";
import { root, type WranglerServer } from "./wrangler";

const POOL = "bytes";
const PREFIX = "bench-bytes";

/** A tiny picture saved under the run's own prefix (the marker): the bench swaps its bytes for the noise. */
const GRAPH = {
  "1": { class_type: "EmptyImage", inputs: { width: 8, height: 8, batch_size: 1, color: 0 } },
  "2": { class_type: "SaveImage", inputs: { images: ["1", 0], filename_prefix: PREFIX } },
};

let noiseOutput: Buffer | null = null;
let swapInstalled = false;

/**
 * The simulated SaveImage writes `noise` in place of the PNG of every picture saved under PREFIX. A
 * PNG of that size would be encoded on the simulator's thread, the bench's own, for seconds (zlib and
 * a CRC over every byte), long enough for the agent to call ComfyUI unresponsive; only the file's
 * size matters to the upload.
 */
async function saveNoiseAsOutputs(noise: Buffer) {
  noiseOutput = noise;
  if (swapInstalled) return;
  swapInstalled = true;
  const files = (await import(
    pathToFileURL(path.join(root, "gpu-agent", "sim", "files.ts")).href
  )) as typeof import("../../gpu-agent/sim/files");
  const write = files.FileStore.prototype.write;
  files.FileStore.prototype.write = function (this: InstanceType<typeof files.FileStore>, at, bytes) {
    const swap = noiseOutput && path.posix.basename(at).startsWith(`${PREFIX}-`);
    return write.call(this, at, swap ? (noiseOutput as Buffer) : bytes);
  };
}

/**
 * Row 6 up, the product's way: one GPU agent (the bundle, with `--comfy-dir` as the README installs
 * it) on a simulator whose run writes a large output (`noise`), uploaded the way every run's outputs are
 * (upload request → presigned PUT straight to R2 → success). `upload(rep)` runs one run and gives
 * the output's MB/s from the `uploading` status to the final one, as a client on the run's socket
 * sees them; everything the agent does to deliver the file is inside that window.
 */
export async function agentUploads(
  controlPlane: WranglerServer,
  account: Account,
  workDir: string,
  agentBundle: string,
  noise: Buffer,
) {
  const machine = await createMachine(controlPlane, account, `${POOL}-0`, POOL);
  const fleet = await gpuFleet(controlPlane, account, workDir, agentBundle, [machine], {
    instancesPerAgent: 1,
    stepMs: 0,
    progressThrottleMs: 0,
    comfyDirs: true,
  });
  try {
    const simulator = fleet.simulators[0] as Simulator;
    await saveNoiseAsOutputs(noise);
    const marker = { node: "2", input: "filename_prefix", type: "string" as const };
    const deploymentId = await createDeployment(controlPlane, account, POOL, GRAPH, marker);
    const upload = async (rep: number) => {
      // The output is not written until the run's socket is open, so its statuses are seen live.
      const hold = simulator.holdNode("SaveImage");
      // Retried under one key, so a retry replays the first answer instead of queueing a second run.
      const key = { "Idempotency-Key": `${PREFIX}-${rep}-${randomUUID()}` };
      const runId = await onFreshConnection(() =>
        queueRun(controlPlane, account, deploymentId, `${PREFIX}-${rep}`, key),
      );
      const socket = await RunSocket.open(controlPlane.url, account.apiKey, runId, 0);
      hold.release();
      return uploadMbps(controlPlane, account, runId, socket);
    };
    return { upload, stop: fleet.stop };
  } catch (err) {
    await fleet.stop();
    throw err;
  }
}

/** Waits for the run's end on its socket; the output bytes over `uploading` → final status, MB/s. */
async function uploadMbps(controlPlane: WranglerServer, account: Account, runId: string, socket: RunSocket) {
  try {
    await socket.waitTerminal(600_000, `final status of run ${runId}`);
  } finally {
    socket.close();
  }
  const run = await onFreshConnection(() => getRunStatus(controlPlane, account, runId));
  const uploading = socket.events.find((e) => e.type === "status" && e.data.status === "uploading");
  if (run.status !== "success" || !uploading || uploading.replayed || socket.terminalReplayed) {
    throw new Error(
      `run ${runId} ended ${run.status} (${JSON.stringify(socket.finalError())}), or was not seen live`,
    );
  }
  // Outputs come grouped by node, then by kind: `{ data: { images: [{ size }] } }`.
  const groups = (run.outputs ?? []) as { data: Record<string, ({ size: number } | string)[]> }[];
  const files = groups.flatMap((group) => Object.values(group.data).flat());
  const bytes = files.reduce((sum, file) => sum + (typeof file === "string" ? 0 : file.size), 0);
  return mbPerSecond(bytes, (socket.terminalAt as number) - uploading.receivedAt);
}

/**
 * Runs an idempotent call again when it met a keep-alive connection the control plane closed as it was
 * reused ("socket hang up"): this row leaves the bench's pool idle for many seconds between calls.
 */
async function onFreshConnection<T>(call: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      if (attempt >= 3 || !/socket hang up|ECONNRESET/.test(String(err))) throw err;
    }
  }
}
