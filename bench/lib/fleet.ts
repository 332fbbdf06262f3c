import { randomUUID } from "node:crypto";
import type { RunReport } from "../../src/protocol/v1";
import { TestAgent } from "../../test/helpers/test-agent";
import { ACK_TIMEOUT_MS, BENCH_AGENT } from "./dispatch";
import { sleep } from "./procs";
import type { Machine } from "./product";

/** What ComfyUI (real or simulated) did for one run, on the bench's clock (`performance.now()`). */
export type Trace = {
  marker: number;
  /** ComfyUI got the prompt. */
  start: number;
  /** ComfyUI finished it (its last event); null while it runs. */
  end: number | null;
  /** When ComfyUI emitted progress step n (1-based). */
  progress: Map<number, number>;
};

/** The agents that run the bench's jobs, and what their ComfyUIs saw. */
export interface Fleet {
  label: string;
  /** The trace of the latest execution of each marker. */
  trace(marker: number): Trace | undefined;
  /** How many times each marker reached ComfyUI. */
  executions(): Map<number, number>;
  /** The agent processes' ids, for footprint figures (empty when the agents live in this process). */
  pids(): number[];
  stop(): Promise<void>;
}

export type FleetOptions = { steps: number; stepMs: number };

/**
 * A fleet of the bench's own protocol agents standing in for GPU agents and ComfyUI: each job is
 * accepted, started, given `steps` progress reports `stepMs` apart, and succeeds with no outputs.
 * Used where the GPU agent is not built; it measures the control plane alone.
 */
export async function emulatedFleet(
  baseUrl: string,
  machines: Machine[],
  opts: FleetOptions,
): Promise<Fleet> {
  const traces = new Map<number, Trace>();
  const counts = new Map<number, number>();
  const agents = await Promise.all(machines.map((m) => TestAgent.connect(m.token, BENCH_AGENT(baseUrl))));
  let stopped = false;
  for (const agent of agents) {
    agent.onJob = (job) => {
      const marker = Number(job.inputs.marker);
      counts.set(marker, (counts.get(marker) ?? 0) + 1);
      const trace: Trace = { marker, start: performance.now(), end: null, progress: new Map() };
      traces.set(marker, trace);
      void (async () => {
        const report = (r: RunReport) => agent.report(job, r, undefined, ACK_TIMEOUT_MS);
        await report({ kind: "accepted", prompt_id: randomUUID() });
        await report({ kind: "started" });
        const acks: Promise<unknown>[] = [];
        for (let step = 1; step <= opts.steps && !stopped; step++) {
          if (opts.stepMs) await sleep(opts.stepMs);
          trace.progress.set(step, performance.now());
          // Like the GPU agent, progress is sent without waiting for the previous ack.
          acks.push(
            report({
              kind: "progress",
              progress: {
                percentage: (100 * step) / opts.steps,
                nodes_done: 0,
                nodes_total: 2,
                current_node: "3",
                current_node_type: "KSampler",
                step,
                total_steps: opts.steps,
                eta_seconds: null,
              },
            }),
          );
        }
        trace.end = performance.now();
        await Promise.all(acks);
        await report({ kind: "succeeded", outputs: [] });
      })().catch((err) => console.error(`emulated agent: run ${job.run_id}: ${err}`));
    };
  }
  return {
    label: `${machines.length} bench protocol agent(s) emulating agent + ComfyUI (gpu-agent not available)`,
    trace: (marker) => traces.get(marker),
    executions: () => counts,
    pids: () => [],
    stop: async () => {
      stopped = true;
      for (const agent of agents) agent.close();
    },
  };
}
