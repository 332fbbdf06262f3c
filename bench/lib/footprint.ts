import { BENCH_MARKER, withTimeout } from "./dispatch";
import { gpuFleet, progressMessagesSent } from "./gpu-fleet";
import { processUsage, sleep } from "./procs";
import { type Account, createDeployment, createMachine, queueRun } from "./product";
import { RunSocket } from "./run-socket";
import { median } from "./stats";
import type { WranglerServer } from "./wrangler";

/**
 * A graph whose run input `marker` lands in node "1" (EmptyImage's colour; `marker` sets it for a
 * prompt queued directly) and whose node "2" reports `steps` progress steps (the simulator's test node,
 * which sends a preview with each, as a sampler does).
 */
export function progressGraph(steps: number, marker = 0) {
  return {
    "1": { class_type: "EmptyImage", inputs: { width: 16, height: 16, batch_size: 1, color: marker } },
    "2": { class_type: "CRTestProgressPreview", inputs: { image: ["1", 0], steps, delay: 0 } },
    "3": { class_type: "SaveImage", inputs: { images: ["2", 0], filename_prefix: "bench" } },
  };
}

/**
 * Row 5. One GPU agent process with `jobs` ComfyUI simulators (one slot each), measured warm, as an
 * agent that has run for days is: a first round of `jobs` runs (unmeasured, their own markers so that
 * ComfyUI's cache runs them) compiles and warms the agent's code, then a second, alike, is measured.
 * RSS (VmRSS) is read from /proc: idle (connected, nothing to do) after the warm round, and at its
 * highest while all `jobs` runs of the measured round are in flight. CPU time is the agent's user +
 * system time over the measured round, per 1,000 progress messages the simulators sent it (every one
 * relayed: the agent runs with --progress-throttle-ms 0). The idle RSS of the fresh process, before
 * any run, is returned for reference.
 */
export async function agentFootprint(
  controlPlane: WranglerServer,
  account: Account,
  workDir: string,
  agentBundle: string,
  opts: { jobs: number; steps: number; stepMs: number },
) {
  const pool = "footprint";
  const machine = await createMachine(controlPlane, account, "footprint-agent", pool);
  const deploymentId = await createDeployment(
    controlPlane,
    account,
    pool,
    progressGraph(opts.steps),
    BENCH_MARKER,
  );
  const fleet = await gpuFleet(controlPlane, account, workDir, agentBundle, [machine], {
    instancesPerAgent: opts.jobs,
    stepMs: opts.stepMs,
    progressThrottleMs: 0,
  });
  const markers = (round: number) =>
    Array.from({ length: opts.jobs }, (_, i) => 5_000_000 + round * opts.jobs + i);
  /** Queues one run per marker and waits for all to succeed, calling `sample` every 50 ms meanwhile. */
  const runRound = async (roundMarkers: number[], sample: () => void) => {
    // Sampled from the first queue call on: runs may be over before every socket has opened.
    const sampler = setInterval(sample, 50);
    let sockets: RunSocket[];
    try {
      sockets = await Promise.all(
        roundMarkers.map(async (marker) => {
          const runId = await queueRun(controlPlane, account, deploymentId, marker);
          return RunSocket.open(controlPlane.url, account.apiKey, runId, 0);
        }),
      );
      const ended = () => sockets.every((s) => s.terminalAt !== null);
      await withTimeout(
        (async () => {
          while (!ended()) await sleep(50);
        })(),
        120_000,
        "the footprint runs",
      );
    } finally {
      clearInterval(sampler);
    }
    for (const s of sockets) s.close();
    const failed = sockets.filter((s) => s.finalStatus() !== "success");
    if (failed.length) {
      const why = JSON.stringify(failed[0]!.finalError()).slice(0, 300);
      throw new Error(`${failed.length} of the footprint runs did not succeed; the first: ${why}`);
    }
  };
  try {
    const pid = fleet.pids()[0]!;
    const idleRss = async () => {
      await sleep(2000);
      const idle: number[] = [];
      for (let i = 0; i < 10; i++) {
        idle.push(processUsage(pid).rssMb);
        await sleep(100);
      }
      return median(idle);
    };
    const freshIdleRssMb = await idleRss();
    await runRound(markers(0), () => {});
    const idleRssMb = await idleRss();

    const measured = markers(1);
    const cpuBefore = processUsage(pid).cpuMs;
    const progressBefore = await progressMessagesSent();
    let busyMax = 0;
    let allInFlightMax = 0;
    await runRound(measured, () => {
      const rss = processUsage(pid).rssMb;
      busyMax = Math.max(busyMax, rss);
      const inFlight = measured.filter((m) => {
        const t = fleet.trace(m);
        return t && t.end === null;
      }).length;
      if (inFlight === opts.jobs) allInFlightMax = Math.max(allInFlightMax, rss);
    });
    const cpuMs = processUsage(pid).cpuMs - cpuBefore;
    const progress = (await progressMessagesSent()) - progressBefore;
    return {
      freshIdleRssMb,
      idleRssMb,
      busyRssMb: allInFlightMax || busyMax,
      cpuPer1000ProgressMs: (cpuMs / Math.max(1, progress)) * 1000,
      progress,
      cpuMs,
    };
  } finally {
    await fleet.stop();
  }
}
