import type { Fleet } from "./fleet";
import { type Account, queueRun } from "./product";
import { RunSocket } from "./run-socket";
import type { WranglerServer } from "./wrangler";

export type LiveRunSamples = {
  /** Row 2: ComfyUI emitted progress step n → a client on the run's socket had it, ms. */
  progress: number[];
  /** Progress steps ComfyUI emitted that no client saw by the end of the run. */
  lost: number;
  emitted: number;
  /** Row 4: end-to-end time minus ComfyUI's time, ms. */
  overhead: number[];
  endToEnd: number[];
  comfyTime: number[];
  /** Where the overhead goes: POST sent → ComfyUI has the prompt. */
  beforeComfy: number[];
  /** ComfyUI done → the client sees `uploading` (or the final status where there is no upload). */
  afterComfyToUploading: number[];
  /** `uploading` → the final status, as the client sees them. */
  uploadingToEnd: number[];
  /** Runs that did not end successfully, and what the first few said. */
  failed: number;
  failures: string[];
  /** Samples left out because the client's socket opened after the run had ended. */
  skipped: number;
};

/**
 * Rows 2 and 4, one run at a time so no run waits for another. For each run: `POST` queue, open the
 * run's WebSocket with `after=0` (so nothing emitted before it opened is missed), wait for the
 * final status event. Progress latency compares each step's emit time in ComfyUI with its arrival
 * on the socket (steps replayed from before the socket opened are not timed; all count for
 * "lost"). Overhead is `POST` sent → final status on the socket, minus ComfyUI's own time.
 */
export async function liveRuns(
  controlPlane: WranglerServer,
  account: Account,
  deploymentId: string,
  fleet: Fleet,
  opts: { runs: number; firstMarker: number; timeoutMs: number },
): Promise<LiveRunSamples> {
  const out: LiveRunSamples = {
    progress: [],
    lost: 0,
    emitted: 0,
    overhead: [],
    endToEnd: [],
    comfyTime: [],
    beforeComfy: [],
    afterComfyToUploading: [],
    uploadingToEnd: [],
    failed: 0,
    failures: [],
    skipped: 0,
  };
  for (let i = 0; i < opts.runs; i++) {
    const marker = opts.firstMarker + i;
    const sent = performance.now();
    const runId = await queueRun(controlPlane, account, deploymentId, marker);
    const socket = await RunSocket.open(controlPlane.url, account.apiKey, runId, 0);
    try {
      await socket.waitTerminal(opts.timeoutMs, `final status of run ${runId}`);
    } finally {
      socket.close();
    }
    const status = socket.finalStatus();
    const trace = fleet.trace(marker);
    if (status !== "success" || !trace || trace.end === null) {
      out.failed++;
      if (out.failures.length < 3) out.failures.push(`${status}: ${JSON.stringify(socket.finalError())}`);
      continue;
    }
    // Progress: the first arrival of each step; replays (sent before the socket opened) are not timed.
    const arrivals = new Map<number, { at: number; replayed: boolean }>();
    for (const event of socket.events) {
      const step = event.type === "progress" ? Number(event.data.step) : Number.NaN;
      if (Number.isInteger(step) && !arrivals.has(step))
        arrivals.set(step, { at: event.receivedAt, replayed: event.replayed });
    }
    for (const [step, emittedAt] of trace.progress) {
      out.emitted++;
      const arrival = arrivals.get(step);
      if (!arrival) out.lost++;
      else if (!arrival.replayed) out.progress.push(arrival.at - emittedAt);
    }
    // Overhead: only where the final status arrived live, not as a replay.
    if (socket.terminalReplayed) {
      out.skipped++;
      continue;
    }
    const endToEnd = socket.terminalAt! - sent;
    const comfy = trace.end - trace.start;
    out.endToEnd.push(endToEnd);
    out.comfyTime.push(comfy);
    out.overhead.push(endToEnd - comfy);
    out.beforeComfy.push(trace.start - sent);
    const uploading = socket.events.find((e) => e.type === "status" && e.data.status === "uploading");
    const uploadingAt = uploading && !uploading.replayed ? uploading.receivedAt : socket.terminalAt!;
    out.afterComfyToUploading.push(uploadingAt - trace.end);
    out.uploadingToEnd.push(socket.terminalAt! - uploadingAt);
  }
  return out;
}
