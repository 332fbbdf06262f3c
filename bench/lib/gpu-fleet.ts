import { copyFileSync, existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import type { Fleet, Trace } from "./fleet";
import { bearer, call } from "./http";
import { type Managed, runCommand, sleep, startProcess, stopProcess } from "./procs";
import type { Account, Machine } from "./product";
import { root, type WranglerServer } from "./wrangler";

const agentDir = path.join(root, "gpu-agent");
const simDir = path.join(agentDir, "sim");

/** The GPU agent and the ComfyUI simulator are in the tree (they may not be while they are written). */
export function gpuAgentPresent(): boolean {
  return (
    existsSync(path.join(agentDir, "build.mjs")) &&
    existsSync(path.join(agentDir, "src", "main.ts")) &&
    existsSync(path.join(simDir, "simulator.ts"))
  );
}

/**
 * Builds the agent bundle (gpu-agent/build.mjs) and keeps a copy in `workDir`, so the bench runs one
 * build. Other suites build the same file; a copy taken while one of them writes it fails its
 * `--version` check, and is taken again.
 */
export async function buildAgent(workDir: string): Promise<string> {
  const bundle = path.join(workDir, "comfy-edge-agent.mjs");
  // `BENCH_AGENT_BUNDLE=<file>`: measure that build instead (an agent built from another commit).
  const prebuilt = process.env.BENCH_AGENT_BUNDLE;
  if (prebuilt) {
    copyFileSync(path.resolve(prebuilt), bundle);
    return bundle;
  }
  for (let attempt = 1; ; attempt++) {
    await runCommand(process.execPath, [path.join(agentDir, "build.mjs")], { cwd: root, timeoutMs: 120_000 });
    copyFileSync(path.join(agentDir, "dist", "comfy-edge-agent.mjs"), bundle);
    try {
      await runCommand(process.execPath, [bundle, "--version"], { timeoutMs: 30_000 });
      return bundle;
    } catch (err) {
      if (attempt >= 3) throw err;
      await sleep(500 * attempt);
    }
  }
}

type SimModule = typeof import("../../gpu-agent/sim/simulator");
export type Simulator = Awaited<ReturnType<SimModule["startComfySimulator"]>>;

/**
 * What the simulators did, on the bench's clock. The simulators run in this process; the bench wraps
 * two methods of their classes to see each prompt as it is queued (with the run's marker, which the
 * agent bound into node "1") and each message as it is sent to the agent: `progress` steps and the
 * final `executing {node: null}`, which ComfyUI sends after the prompt's history is written.
 */
class SimTracer {
  readonly byPrompt = new Map<string, Trace>();
  readonly byMarker = new Map<number, Trace>();
  readonly counts = new Map<number, number>();
  /** Progress messages sent, all runs together. */
  progressSent = 0;

  private static installed: Promise<{ sim: SimModule; tracer: SimTracer }> | null = null;

  static install(): Promise<{ sim: SimModule; tracer: SimTracer }> {
    SimTracer.installed ??= (async () => {
      const load = (file: string) => import(pathToFileURL(path.join(simDir, file)).href);
      const sim = (await load("simulator.ts")) as SimModule;
      const { SocketHub } = (await load("ws-hub.ts")) as typeof import("../../gpu-agent/sim/ws-hub");
      const { PromptQueue } = (await load("queue.ts")) as typeof import("../../gpu-agent/sim/queue");
      const tracer = new SimTracer();
      const put = PromptQueue.prototype.put;
      PromptQueue.prototype.put = function (this: InstanceType<typeof PromptQueue>, item) {
        tracer.queued(item.promptId, item.prompt);
        return put.call(this, item);
      };
      const send = SocketHub.prototype.send;
      SocketHub.prototype.send = function (this: InstanceType<typeof SocketHub>, type, data, sid) {
        tracer.sent(type, data);
        return send.call(this, type, data, sid);
      };
      return { sim, tracer };
    })();
    return SimTracer.installed;
  }

  queued(promptId: string, prompt: Record<string, { inputs: Record<string, unknown> }>) {
    const marker = Number(prompt["1"]?.inputs.color);
    const trace: Trace = { marker, start: performance.now(), end: null, progress: new Map() };
    this.byPrompt.set(promptId, trace);
    if (Number.isFinite(marker)) {
      this.byMarker.set(marker, trace);
      this.counts.set(marker, (this.counts.get(marker) ?? 0) + 1);
    }
  }

  sent(type: string, data: unknown) {
    const now = performance.now();
    const d = (data ?? {}) as { prompt_id?: string; value?: number; node?: string | null };
    const trace = d.prompt_id ? this.byPrompt.get(d.prompt_id) : undefined;
    if (!trace) return;
    if (type === "progress" && typeof d.value === "number") {
      this.progressSent++;
      if (!trace.progress.has(d.value)) trace.progress.set(d.value, now);
    } else if (type === "executing" && d.node === null) {
      trace.end = now;
    }
  }
}

export type GpuFleetOptions = {
  /** ComfyUI simulators per agent (each is one slot). */
  instancesPerAgent: number;
  /** The simulator's time per node and per sampler step. */
  stepMs: number;
  /** The agent's --progress-throttle-ms; 0 relays every progress event. */
  progressThrottleMs: number;
  /** Keep each simulator's files in a real directory and tell the agent (`--comfy-dir`), as the README's install does. */
  comfyDirs?: boolean;
};

/** Waits until every machine shows `online` (the agent said hello). */
async function waitOnline(
  controlPlane: WranglerServer,
  account: Account,
  machines: Machine[],
  agents: Managed[],
) {
  const deadline = Date.now() + 30_000;
  for (const machine of machines) {
    for (;;) {
      const dead = agents.find((a) => a.child.exitCode !== null);
      if (dead) throw new Error(`the GPU agent exited (${dead.child.exitCode}):\n${dead.tail()}`);
      const m = await call<{ status: string }>("GET", `${controlPlane.url}/api/machine/${machine.id}`, {
        headers: bearer(account.apiKey),
      });
      if (m.status === "online") break;
      if (Date.now() > deadline) throw new Error(`machine ${machine.id} did not come online in 30 s`);
      await sleep(100);
    }
  }
}

/**
 * The real thing: one GPU agent process (the bundle, run by Node) per machine, each on its own
 * ComfyUI simulators, which run in this process so their events are read on the bench's clock.
 */
export async function gpuFleet(
  controlPlane: WranglerServer,
  account: Account,
  workDir: string,
  agentBundle: string,
  machines: Machine[],
  opts: GpuFleetOptions,
): Promise<Fleet & { agents: Managed[]; simulators: Simulator[] }> {
  const { sim, tracer } = await SimTracer.install();
  // Prompts before this fleet started belong to other figures.
  const baseline = new Map(tracer.counts);
  const simulators: Simulator[] = [];
  const agents: Managed[] = [];
  const stop = async () => {
    await Promise.all(agents.map((a) => stopProcess(a)));
    await Promise.all(simulators.map((s) => s.close()));
  };
  try {
    for (const [i, machine] of machines.entries()) {
      const mine: string[] = [];
      const dirs: string[] = [];
      for (let j = 0; j < opts.instancesPerAgent; j++) {
        const dir = opts.comfyDirs ? path.join(workDir, `comfyui-${machine.id}-${j}`) : undefined;
        if (dir) mkdirSync(dir, { recursive: true });
        const simulator = await sim.startComfySimulator({ stepMs: opts.stepMs, dir });
        simulators.push(simulator);
        mine.push(simulator.url);
        if (dir) dirs.push(dir);
      }
      const stateDir = path.join(workDir, `agent-${machine.id}`);
      mkdirSync(stateDir, { recursive: true });
      const args = [
        ...agentProfileFlags(),
        agentBundle,
        "--server",
        controlPlane.url,
        "--token",
        machine.token,
        "--comfy",
        mine.join(","),
        "--state-dir",
        stateDir,
        "--progress-throttle-ms",
        String(opts.progressThrottleMs),
        "--shutdown-grace-s",
        "1",
        "--log-level",
        "warn",
        ...(dirs.length ? ["--comfy-dir", dirs.join(",")] : []),
      ];
      agents.push(
        startProcess(`gpu agent ${i}`, process.execPath, args, {
          logFile: path.join(workDir, `agent-${i}.log`),
        }),
      );
    }
    await waitOnline(controlPlane, account, machines, agents);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    label: `${machines.length} GPU agent process(es) × ${opts.instancesPerAgent} ComfyUI simulator(s), step ${opts.stepMs} ms, progress throttle ${opts.progressThrottleMs} ms`,
    trace: (marker) => tracer.byMarker.get(marker),
    executions: () => {
      const mine = new Map<number, number>();
      for (const [marker, count] of tracer.counts) {
        const added = count - (baseline.get(marker) ?? 0);
        if (added > 0) mine.set(marker, added);
      }
      return mine;
    },
    pids: () => agents.map((a) => a.pid),
    agents,
    simulators,
    stop,
  };
}

/**
 * `BENCH_AGENT_CPU_PROF=<dir>`: each agent writes a V8 CPU profile (`.cpuprofile`, open in Chrome's
 * DevTools) into that directory when it exits, to see where its time goes.
 */
function agentProfileFlags(): string[] {
  const dir = process.env.BENCH_AGENT_CPU_PROF;
  // `BENCH_AGENT_CPU_PROF_US=<µs>`: sample more often than V8's default 1 ms, for short windows.
  const interval = process.env.BENCH_AGENT_CPU_PROF_US;
  const every = interval ? ["--cpu-prof-interval", interval] : [];
  return dir ? ["--cpu-prof", "--cpu-prof-dir", path.resolve(dir), ...every] : [];
}

/** `count` ComfyUI simulators in this process, traced like a fleet's (their progress messages count). */
export async function startSimulators(count: number, stepMs: number): Promise<Simulator[]> {
  const { sim } = await SimTracer.install();
  return Promise.all(Array.from({ length: count }, () => sim.startComfySimulator({ stepMs })));
}

/** Progress messages the simulators have sent so far (all fleets). */
export async function progressMessagesSent(): Promise<number> {
  const { tracer } = await SimTracer.install();
  return tracer.progressSent;
}
