// `npm run bench`: measures comfy-edge on this machine against floors measured in the same run and
// prints one table, plus bench/results.json. `--smoke` runs every figure with tiny counts (the test
// suite does, so the bench keeps working). bench/README.md says what each figure measures.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { agentUploads } from "./lib/agent-upload";
import { backlogCost } from "./lib/backlog";
import { payload } from "./lib/bytes";
import { BENCH_MARKER, dispatchLatency } from "./lib/dispatch";
import { fanOut } from "./lib/fan-out";
import { emulatedFleet, type Fleet, type FleetOptions } from "./lib/fleet";
import { pushLatency, startFloor } from "./lib/floor";
import { agentFootprint, progressGraph } from "./lib/footprint";
import { buildAgent, gpuAgentPresent, gpuFleet } from "./lib/gpu-fleet";
import { type LiveRunSamples, liveRuns } from "./lib/live-runs";
import { stopAll } from "./lib/procs";
import {
  type Account,
  createAccount,
  createDeployment,
  createMachine,
  startControlPlane,
} from "./lib/product";
import { formatProfile, type ProfileSummary, profileDuring } from "./lib/profile";
import { relayFloor } from "./lib/relay-floor";
import { type Figure, figure, machineInfo, table } from "./lib/report";
import { backlogFigures, fanOutFigures, sustainedFigures } from "./lib/scale-rows";
import { percentile } from "./lib/stats";
import { sustainedLoad } from "./lib/sustained";
import { throughput } from "./lib/throughput";
import { bytesRoundTrip } from "./lib/transfer";
import { root, type WranglerServer } from "./lib/wrangler";

const { values: args } = parseArgs({
  options: {
    smoke: { type: "boolean", default: false },
    out: { type: "string", default: path.join(root, "bench", "results.json") },
    keep: { type: "boolean", default: false },
    profile: { type: "boolean", default: false },
    only: { type: "string" },
    "emulate-agent": { type: "boolean", default: false },
    "sustained-runs": { type: "string" },
    "local-traces": { type: "boolean", default: false },
  },
});
/** `--only 1,6`: measure only these rows (for working on one figure; a full run measures all). */
const only = args.only ? new Set(args.only.split(",").map(Number)) : null;

const FULL = {
  dispatch: { runs: 300, blocks: 3, warmup: 10 },
  live: { runs: 40, steps: 10, stepMs: 20 },
  throughput: { clients: 32, durationMs: 10_000, agents: 4, drainTimeoutMs: 180_000 },
  footprint: { jobs: 4, steps: 250, stepMs: 8 },
  relayRuns: 3,
  bytes: 200 * 1024 * 1024,
  bytesReps: 3,
  backlog: { backlog: 10_000, runs: 100, warmup: 5, clients: 32 },
  fanOut: { subscribers: 1_000, steps: 20 },
  sustained: { runs: 2_000, clients: 32, agents: 4, drainTimeoutMs: 600_000, settleMs: 2_000 },
};
/** Every part still runs with more than one of whatever it spreads work over (runs, clients, agents). */
const SMOKE = {
  dispatch: { runs: 6, blocks: 2, warmup: 1 },
  live: { runs: 2, steps: 4, stepMs: 20 },
  throughput: { clients: 2, durationMs: 1_000, agents: 2, drainTimeoutMs: 30_000 },
  footprint: { jobs: 2, steps: 10, stepMs: 8 },
  relayRuns: 2,
  bytes: 1024 * 1024,
  bytesReps: 1,
  backlog: { backlog: 20, runs: 3, warmup: 1, clients: 2 },
  fanOut: { subscribers: 5, steps: 3 },
  sustained: { runs: 16, clients: 2, agents: 2, drainTimeoutMs: 60_000, settleMs: 200 },
};
const preset = args.smoke ? SMOKE : FULL;
/** `--sustained-runs 500`: row 9 with fewer runs (for working on it; a full run queues 2,000). */
const config = args["sustained-runs"]
  ? { ...preset, sustained: { ...preset.sustained, runs: Number(args["sustained-runs"]) } }
  : preset;
// wrangler dev records a trace of every invocation, D1 query and Durable Object call into a local
// SQLite store in the same workerd (its local explorer); production does not trace on the Worker's
// thread. Both Workers run without it unless `--local-traces` (bench/README.md has the cost).
if (!args["local-traces"]) process.env.X_LOCAL_OBSERVABILITY = "false";

type Context = {
  controlPlane: WranglerServer;
  floor: WranglerServer;
  account: Account;
  workDir: string;
  /** The GPU agent's bundle; null where it is not in the tree or does not build (rows 2–4 then emulate it). */
  agentBundle: string | null;
  agentMissing: string | null;
};

/** With --profile: CPU profiles of the control plane's isolate while figures are measured. */
const profiles: { title: string; runs: number; summary: ProfileSummary }[] = [];

async function profiled<T>(
  ctx: Context,
  title: string,
  work: () => Promise<T>,
  runs: (r: T) => number,
): Promise<T> {
  if (!args.profile) return work();
  let result: T | undefined;
  const summary = await profileDuring(ctx.controlPlane.inspectorPort, async () => {
    result = await work();
  });
  const top = {
    ...summary,
    byModule: summary.byModule.slice(0, 30),
    byFunction: summary.byFunction.slice(0, 30),
  };
  profiles.push({ title, runs: runs(result as T), summary: top });
  return result as T;
}

const FIGURE_NAMES: Record<number, string> = {
  1: "dispatch latency",
  2: "progress latency",
  3: "throughput",
  4: "overhead per run",
  5: "agent footprint",
  6: "bytes to R2 and back",
  7: "cost vs backlog",
  8: "fan-out",
  9: "sustained load",
};

/** The line of an error that says what went wrong (build tools put it after a command line). */
function firstError(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  const lines = text.split("\n").map((l) => l.trim());
  return lines.find((l) => /\bERROR\b|Error:/.test(l)) ?? lines[0] ?? text;
}

/** A figure whose measurement failed: reported with no value, as not met. */
const failedFigure = (id: number, name: string, err: unknown): Figure => ({
  id,
  name,
  value: null,
  unit: "",
  floor: null,
  ratio: null,
  target: null,
  met: false,
  note: `not measured: ${firstError(err)}`,
});

/**
 * `agents` agents in `pool`, each with one ComfyUI: GPU agent processes on simulators, or (where the
 * agent is not available) the bench's own protocol agents emulating both.
 */
async function startFleet(ctx: Context, pool: string, agents: number, opts: FleetOptions): Promise<Fleet> {
  const machines = await Promise.all(
    Array.from({ length: agents }, (_, i) =>
      createMachine(ctx.controlPlane, ctx.account, `${pool}-${i}`, pool),
    ),
  );
  if (!ctx.agentBundle) return emulatedFleet(ctx.controlPlane.url, machines, opts);
  return gpuFleet(ctx.controlPlane, ctx.account, ctx.workDir, ctx.agentBundle, machines, {
    instancesPerAgent: 1,
    stepMs: opts.stepMs,
    progressThrottleMs: 0,
  });
}

async function row1(ctx: Context): Promise<{ figures: Figure[]; floorSamples: number[] }> {
  const r = await profiled(
    ctx,
    "1: dispatch latency (one run at a time)",
    () => dispatchLatency(ctx.controlPlane, ctx.floor, ctx.account, config.dispatch),
    (r) => r.product.length + config.dispatch.warmup,
  );
  const floorP50 = percentile(r.floor, 50);
  const floorP99 = percentile(r.floor, 99);
  const note = `POST sent → job frame at the bench's protocol agent; POST round trip p50 ${percentile(r.productPost, 50).toFixed(1)} ms (floor ${percentile(r.floorPost, 50).toFixed(1)} ms); control plane CPU while the POST was open ${(r.productCpu.reduce((a, b) => a + b, 0) / r.productCpu.length).toFixed(1)} ms per run (mean)`;
  const figures = [
    figure({
      id: 1,
      name: "dispatch latency p50",
      value: percentile(r.product, 50),
      unit: "ms",
      floor: floorP50,
      target: "≤ 2× floor",
      check: { kind: "ratio_max", limit: 2 },
      n: r.product.length,
      note,
    }),
    figure({
      id: 1,
      name: "dispatch latency p99",
      value: percentile(r.product, 99),
      unit: "ms",
      floor: floorP99,
      target: "≤ 3× floor",
      check: { kind: "ratio_max", limit: 3 },
      n: r.product.length,
    }),
  ];
  return { figures, floorSamples: r.floor };
}

const p50 = (values: number[]) => percentile(values, 50).toFixed(1);

async function rows2and4(ctx: Context, floorPush: number[]): Promise<{ row2: Figure[]; row4: Figure[] }> {
  const pool = "live";
  const graph = progressGraph(config.live.steps);
  const deploymentId = await createDeployment(ctx.controlPlane, ctx.account, pool, graph, BENCH_MARKER);
  const fleet = await startFleet(ctx, pool, 1, { steps: config.live.steps, stepMs: config.live.stepMs });
  let s: LiveRunSamples;
  try {
    // Two runs first, not counted: the agent's and the control plane's first run pay for warming up.
    await liveRuns(ctx.controlPlane, ctx.account, deploymentId, fleet, {
      runs: 2,
      firstMarker: 2_900_000,
      timeoutMs: 30_000,
    });
    s = await liveRuns(ctx.controlPlane, ctx.account, deploymentId, fleet, {
      runs: config.live.runs,
      // Each figure has its own range of markers, so the simulators' records never mix figures.
      firstMarker: 2_000_000,
      timeoutMs: 30_000,
    });
  } finally {
    await fleet.stop();
  }
  const floorP50 = percentile(floorPush, 50);
  const floorP99 = percentile(floorPush, 99);
  const row2 = [
    figure({
      id: 2,
      name: "progress latency p50",
      value: percentile(s.progress, 50),
      unit: "ms",
      floor: floorP50,
      target: "≤ 1.5× floor",
      check: { kind: "ratio_max", limit: 1.5 },
      n: s.progress.length,
      note: `${fleet.label}; ${config.live.steps} steps ${config.live.stepMs} ms apart per run`,
    }),
    figure({
      id: 2,
      name: "progress latency p99",
      value: percentile(s.progress, 99),
      unit: "ms",
      floor: floorP99,
      target: "≤ 3× floor",
      check: { kind: "ratio_max", limit: 3 },
      n: s.progress.length,
    }),
    figure({
      id: 2,
      name: "progress events lost",
      value: s.lost,
      unit: "events",
      floor: null,
      target: "0",
      check: { kind: "max", limit: 0 },
      n: s.emitted,
      note: s.failed ? `${s.failed} run(s) did not end in success: ${s.failures.join(" | ")}` : undefined,
    }),
  ];
  const row4 = [
    figure({
      id: 4,
      name: "overhead per run p50",
      value: percentile(s.overhead, 50),
      unit: "ms",
      floor: null,
      target: "≤ 25 ms",
      check: { kind: "max", limit: 25 },
      n: s.overhead.length,
      note: `${fleet.label}; p50s: end-to-end ${p50(s.endToEnd)} ms, ComfyUI's time ${p50(s.comfyTime)} ms; the overhead is POST sent → prompt in ComfyUI ${p50(s.beforeComfy)} ms, ComfyUI done → client sees "uploading" ${p50(s.afterComfyToUploading)} ms, "uploading" → final status ${p50(s.uploadingToEnd)} ms${s.skipped ? `; ${s.skipped} skipped (ended before the socket opened)` : ""}`,
    }),
  ];
  return { row2, row4 };
}

async function row3(ctx: Context): Promise<Figure[]> {
  const t = config.throughput;
  const r = await profiled(
    ctx,
    "3: throughput (accepting and completing runs)",
    () =>
      throughput(
        ctx.controlPlane,
        ctx.floor,
        ctx.account,
        "throughput",
        () => startFleet(ctx, "throughput", t.agents, { steps: 0, stepMs: 0 }),
        t,
      ),
    (r) => r.accepted,
  );
  const note = `${t.clients} clients for ${t.durationMs / 1000} s; ${r.fleet}; ${r.accepted} accepted, ${r.completedPerSecond.toFixed(1)} completed/s, drained ${r.drainSeconds.toFixed(1)} s after the last request; CPU of the control plane's processes ${r.productCpuPerRunMs.toFixed(1)} ms per run (accept + complete), of the floor's ${r.floorCpuPerRequestMs.toFixed(2)} ms per insert${floorErrors(r.floorErrors)}`;
  const shaped = r.acceptFloor;
  return [
    figure({
      id: 3,
      name: "throughput (runs accepted/s)",
      value: r.perSecond,
      unit: "runs/s",
      floor: r.floorPerSecond,
      target: "≥ 0.5× floor",
      check: { kind: "ratio_min", limit: 0.5 },
      n: r.accepted,
      note,
    }),
    figure({
      id: 3,
      name: "throughput vs an accept-shaped floor",
      value: r.perSecond,
      unit: "runs/s",
      floor: shaped.perSecond,
      n: r.accepted,
      note: `reference only, no target. Floor: the floor Worker's POST /accept, an accept's trips and no product code (a rate-limit Durable Object call beside a D1 read by primary key, then one Durable Object call that stores a 2 KB job body in its SQLite storage and inserts one D1 row), same ${t.clients} clients, half before and half after the product; its processes' CPU ${shaped.cpuPerRequestMs.toFixed(2)} ms per accept, the control plane's ${r.productCpuPerRunMs.toFixed(1)} ms per run${floorErrors(shaped.errors)}. Not like for like: the product's accepts share workerd's one thread with the ${t.agents} agents' completions (reports, leases, uploads, each run's end) while they are measured, and its CPU per run counts accept and completion; the floor completes nothing`,
    }),
    figure({
      id: 3,
      name: "throughput errors",
      value: r.errors,
      unit: "runs",
      floor: null,
      target: "0",
      check: { kind: "max", limit: 0 },
      note: `${r.httpErrors} refused or failed requests, ${r.failedRuns} runs ended failed/cancelled/timeout${r.errorSamples.length ? `: ${r.errorSamples.join(" | ")}` : ""}`,
    }),
    figure({
      id: 3,
      name: "throughput runs lost",
      value: r.lost,
      unit: "runs",
      floor: null,
      target: "0",
      check: { kind: "max", limit: 0 },
    }),
    figure({
      id: 3,
      name: "throughput runs run twice",
      value: r.runTwice,
      unit: "runs",
      floor: null,
      target: "0",
      check: { kind: "max", limit: 0 },
    }),
  ];
}

/** A floor's failed requests, for a figure's note (nothing when there were none). */
const floorErrors = (errors: number) => (errors ? `; ${errors} floor requests failed` : "");

async function row5(ctx: Context): Promise<Figure[]> {
  if (!ctx.agentBundle) throw new Error(ctx.agentMissing ?? "the GPU agent is not available");
  const f = config.footprint;
  const r = await agentFootprint(ctx.controlPlane, ctx.account, ctx.workDir, ctx.agentBundle, f);
  const relay = await relayFloor(ctx.workDir, { ...f, runs: config.relayRuns });
  const relayRuns = relay.runs.map((ms) => ms.toFixed(0)).join(", ");
  return [
    figure({
      id: 5,
      name: "agent RSS idle",
      value: r.idleRssMb,
      unit: "MB",
      floor: null,
      target: "≤ 80 MB",
      check: { kind: "max", limit: 80 },
      note: `VmRSS of the agent process (the bundle on Node), connected and idle after a warm-up round of ${f.jobs} runs like the measured ones (fresh, before any run: ${r.freshIdleRssMb.toFixed(1)} MB)`,
    }),
    figure({
      id: 5,
      name: `agent RSS, ${f.jobs} jobs in flight`,
      value: r.busyRssMb,
      unit: "MB",
      floor: null,
      target: "≤ 80 MB",
      check: { kind: "max", limit: 80 },
      note: `highest VmRSS while ${f.jobs} jobs ran at once (${f.jobs} ComfyUI simulators, ${f.steps} steps of ${f.stepMs} ms each), in the measured round after the warm-up round`,
    }),
    figure({
      id: 5,
      name: "agent CPU per 1,000 progress events",
      value: r.cpuPer1000ProgressMs,
      unit: "ms",
      floor: relay.cpuPer1000ProgressMs,
      target: "≤ 200 ms",
      check: { kind: "max", limit: 200 },
      n: r.progress,
      note: `both warm: user + system time of the agent over ${f.jobs} runs (${r.cpuMs.toFixed(0)} ms), measured after an unmeasured warm-up round of ${f.jobs} like them in the same process, per 1,000 of the ${r.progress} progress messages it relayed (throttle off); includes each run's prompt, previews, history and upload. Floor: a bare relay (bench/floor/relay.mjs: the same Node and V8 flags, the same \`ws\`, no agent code) reading every frame of one prompt on each of ${f.jobs} simulators like these and sending each progress event on as one report frame to a socket in the bench that acks it, its measured round also after a warm-up round in the same process, median of ${config.relayRuns} fresh processes (${relayRuns} ms); the target is absolute, the floor shows what the runtime costs here before any of the agent's own work`,
    }),
  ];
}

async function row6(ctx: Context): Promise<Figure[]> {
  const body = payload(config.bytes);
  const { controlPlane, account, workDir, agentBundle } = ctx;
  const agent = agentBundle ? await agentUploads(controlPlane, account, workDir, agentBundle, body) : null;
  let r: Awaited<ReturnType<typeof bytesRoundTrip>>;
  try {
    r = await bytesRoundTrip(
      controlPlane,
      ctx.floor,
      account,
      workDir,
      body,
      config.bytesReps,
      agent?.upload,
    );
  } finally {
    await agent?.stop();
  }
  const mb = Math.round(config.bytes / 2 ** 20);
  const upName = `bytes up (${mb} MB output, GPU agent → presigned PUT to R2)`;
  const up =
    r.agentUpMbps === null
      ? failedFigure(6, upName, ctx.agentMissing ?? "the GPU agent is not available")
      : figure({
          id: 6,
          name: upName,
          value: r.agentUpMbps,
          unit: "MB/s",
          floor: r.upMbps,
          target: "≥ 0.8× floor",
          check: { kind: "ratio_min", limit: 0.8 },
          n: config.bytesReps,
          note: `median of ${config.bytesReps}; a run's output (the simulator's SaveImage writing as many bytes of noise), from the run's \`uploading\` to \`success\` on its socket, agent with --comfy-dir; floor: the bench's own presigned PUT of as many bytes to the same local R2 (POST /api/file/upload, 1 MiB writes); for reference, a plain Node HTTP server on loopback takes ${r.floorUpMbps.toFixed(0)} MB/s and a bare Worker streaming into its R2 binding ${r.bareR2UpMbps.toFixed(0)} MB/s`,
        });
  return [
    up,
    figure({
      id: 6,
      name: `bytes down (${mb} MB, signed URL from R2)`,
      value: r.downMbps,
      unit: "MB/s",
      floor: r.floorDownMbps,
      target: "≥ 0.5× floor",
      check: { kind: "ratio_min", limit: 0.5 },
      n: config.bytesReps,
      note: `median of ${config.bytesReps}; floor: a plain Node HTTP server on loopback streaming the file back; a bare Worker streaming from its R2 binding: ${r.bareR2DownMbps.toFixed(0)} MB/s`,
    }),
  ];
}

async function main() {
  const [major = 0, minor = 0] = process.versions.node.split(".").map(Number);
  if (major < 22 || (major === 22 && minor < 12)) {
    throw new Error(
      `the bench needs Node ≥ 22.12 (wrangler does); this is ${process.version}. Run it with npm run bench.`,
    );
  }
  const started = Date.now();
  const machine = machineInfo();
  const workDir = mkdtempSync(path.join(os.tmpdir(), "comfy-edge-bench-"));
  const log = (message: string) =>
    console.error(`[bench ${((Date.now() - started) / 1000).toFixed(1)}s] ${message}`);
  const figures: Figure[] = [];
  try {
    log(`starting the control plane and the floor Worker (state in ${workDir})`);
    const agentBuild = args["emulate-agent"]
      ? Promise.resolve({ bundle: null, missing: "--emulate-agent" })
      : gpuAgentPresent()
        ? buildAgent(workDir).then(
            (bundle) => ({ bundle, missing: null }),
            (err: unknown) => ({ bundle: null, missing: `gpu-agent did not build: ${firstError(err)}` }),
          )
        : Promise.resolve({ bundle: null, missing: "gpu-agent (agent + simulator) is not in the tree" });
    const [controlPlane, floor] = await Promise.all([startControlPlane(workDir), startFloor(workDir)]);
    const account = await createAccount(controlPlane, "bench");
    const { bundle: agentBundle, missing: agentMissing } = await agentBuild;
    if (agentMissing)
      log(`${agentMissing}; rows 2-4 use the bench's protocol agents instead, row 5 is not measured`);
    const ctx: Context = { controlPlane, floor, account, workDir, agentBundle, agentMissing };

    const wanted = (id: number) => !only || only.has(id);
    /** Runs one part; a part that fails is reported as not measured and the others go on. */
    const part = async (ids: number[], label: string, work: () => Promise<Figure[]>) => {
      if (!ids.some(wanted)) return;
      log(label);
      try {
        figures.push(...(await work()));
      } catch (err) {
        log(`${label} failed: ${err instanceof Error ? err.stack : err}`);
        for (const id of ids) figures.push(failedFigure(id, FIGURE_NAMES[id]!, err));
      }
    };

    // Rows 1 and 2 share the floor: a bare Durable Object pushing one message to a WebSocket client.
    let floorPush: number[] | null = null;
    await part([1], "1: dispatch latency", async () => {
      const r1 = await row1(ctx);
      floorPush = r1.floorSamples;
      return r1.figures;
    });
    await part([2, 4], "2 and 4: progress latency and overhead", async () => {
      floorPush ??= (await pushLatency(floor, config.dispatch.runs)).samples;
      const { row2, row4 } = await rows2and4(ctx, floorPush);
      return [...row2, ...row4];
    });
    await part([3], "3: throughput", () => row3(ctx));
    await part([5], "5: agent footprint", () => row5(ctx));
    await part([6], "6: bytes", () => row6(ctx));
    // Row 7 leaves its backlog waiting in its own pool, so it comes after every row it could weigh on.
    await part([8], "8: fan-out", async () =>
      fanOutFigures(await fanOut(controlPlane, floor, account, config.fanOut), config.fanOut.subscribers),
    );
    await part([9], "9: sustained load", async () => {
      const t = config.sustained;
      const fleet = () => startFleet(ctx, "sustained", t.agents, { steps: 0, stepMs: 0 });
      return sustainedFigures(await sustainedLoad(controlPlane, account, "sustained", fleet, t), t.clients);
    });
    await part([7], "7: cost vs backlog", async () =>
      backlogFigures(await backlogCost(controlPlane, account, config.backlog)),
    );
  } finally {
    await stopAll();
    if (!args.keep) rmSync(workDir, { recursive: true, force: true });
  }
  figures.sort((a, b) => a.id - b.id);
  const results = {
    machine,
    at: new Date(started).toISOString(),
    mode: args.smoke ? "smoke" : "full",
    localTraces: args["local-traces"],
    ...(args["sustained-runs"] ? { sustainedRuns: config.sustained.runs } : {}),
    figures,
    ...(profiles.length ? { profiles } : {}),
  };
  writeFileSync(args.out, `${JSON.stringify(results, null, 2)}\n`);
  console.log(
    `\ncomfy-edge bench (${results.mode}${results.localTraces ? ", local traces on" : ""}) on ${machine.cpus}× ${machine.cpu_model}, ${results.at}\n`,
  );
  console.log(table(figures));
  for (const f of figures) if (f.note) console.log(`\n${f.id} ${f.name}: ${f.note}`);
  for (const p of profiles) {
    console.log(`\n${formatProfile(p.title, p.summary, 15)}`);
    console.log(`  (${p.runs} runs while profiling)`);
  }
  console.log(
    `\nWrote ${path.relative(process.cwd(), args.out)} in ${((Date.now() - started) / 1000).toFixed(0)} s.`,
  );
}

main().catch(async (err) => {
  console.error(err instanceof Error ? err.stack : err);
  await stopAll();
  process.exit(1);
});
