import type { ComfySimulator } from "../../../gpu-agent/sim/simulator";
import { call, type RunView } from "./api";
import type { E2EUser, RunningWorker } from "./worker";

/**
 * Trials per fault test: small by default so CI stays short; `npm run test:faults -- --trials 20` (which
 * sets FAULT_TRIALS) for the full version.
 */
export const FAULT_TRIALS = Math.max(1, Number(process.env.FAULT_TRIALS) || 2);

/** Each fault test's time limit grows with its trials, so that `npm run test:faults -- --trials 20` fits. */
export const FAULT_TEST_TIMEOUT_MS = Math.max(120_000, 60_000 * FAULT_TRIALS);

const TERMINAL = ["success", "failed", "cancelled", "timeout"];

type Ending = { view: RunView; endedAt: number };

export interface FaultSummary {
  fault: string;
  runs: number;
  /** Ended in anything but the outcome the fault allows: `success`, unless the test cancelled it. */
  lost: number;
  /** Prompts of the run that ComfyUI executed to the end more than once, over all simulators. */
  executedTwice: number;
  /** Not finished within the deadline. */
  stuck: number;
  /** From the fault to the run's end, per run, in ms. */
  recoveryMs: { p50: number; max: number };
  /** Objects R2 holds under the runs' output prefixes without a file record (when counted). */
  orphanedObjects?: number;
}

/**
 * Runs that went through a fault, and what became of them: each is waited on to its end (or counted
 * stuck at the deadline), and its executions are counted on the simulators by the input file the agent
 * uploaded for it (`ce_<run id>_…`), so an execution repeated under another prompt id still counts.
 */
export class FaultTally {
  private readonly runs: {
    runId: string;
    expected: string;
    faultAt: number;
    end?: Promise<Ending | undefined>;
  }[] = [];

  constructor(
    private readonly fault: string,
    private readonly worker: RunningWorker,
    private readonly user: E2EUser,
    private readonly deadlineMs = 60_000,
  ) {}

  /** A run that a fault hit just now, and the status it must end in. */
  add(runId: string, expected = "success", faultAt = Date.now()): void {
    this.runs.push({ runId, expected, faultAt });
  }

  /** Waits for the run to end (or to count as stuck), timing its recovery from the fault. */
  settle(runId: string): Promise<Ending | undefined> {
    const run = this.runs.find((r) => r.runId === runId);
    if (!run) throw new Error(`run ${runId} was not added`);
    run.end ??= this.finalState(runId, run.faultAt + this.deadlineMs);
    return run.end;
  }

  /** `orphansOf` counts a run's objects in R2 that have no file record. */
  async summarize(
    sims: ComfySimulator[],
    orphansOf?: (runId: string) => Promise<number>,
  ): Promise<FaultSummary> {
    const recoveries: number[] = [];
    let lost = 0;
    let stuck = 0;
    let executedTwice = 0;
    let orphanedObjects = 0;
    for (const { runId, expected, faultAt } of this.runs) {
      const run = await this.settle(runId);
      if (!run) stuck += 1;
      else {
        recoveries.push(run.endedAt - faultAt);
        if (run.view.status !== expected) lost += 1;
      }
      if (orphansOf) orphanedObjects += await orphansOf(runId);
      const finished = sims
        .flatMap((sim) => sim.counters.executions)
        .filter((e) => e.finished && JSON.stringify(e.prompt).includes(`ce_${runId}_`)).length;
      if (finished > 1) executedTwice += 1;
    }
    recoveries.sort((a, b) => a - b);
    const summary = {
      fault: this.fault,
      runs: this.runs.length,
      lost,
      executedTwice,
      stuck,
      recoveryMs: {
        p50: recoveries[Math.floor((recoveries.length - 1) / 2)] ?? 0,
        max: recoveries.at(-1) ?? 0,
      },
      ...(orphansOf ? { orphanedObjects } : {}),
    };
    console.log(`fault report: ${JSON.stringify(summary)}`);
    return summary;
  }

  private async finalState(runId: string, deadline: number): Promise<Ending | undefined> {
    for (;;) {
      const view = await call<RunView>(this.worker, this.user, "GET", `/api/run/${runId}`);
      if (TERMINAL.includes(view.status)) return { view, endedAt: Date.now() };
      if (Date.now() > deadline) return undefined;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
