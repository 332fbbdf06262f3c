import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { ApiGraph } from "../../../src/protocol/graph";
import type { JobMessage } from "../../../src/protocol/v1";
import { PromptQueue } from "../../sim/queue";
import type { ComfySimulator } from "../../sim/simulator";
import { JobJournal, JobRecord } from "../../src/job-journal";
import { silentLogger } from "../../src/log";
import { type Harness, imageGraph, jobMessage, startHarness } from "./helpers/harness";

let h: Harness;

afterEach(async () => {
  await h?.close();
});

/** What the agent's previous process left: its journal record, and (unless `queue` is false) its prompt in ComfyUI. */
async function leftBehind(
  stateDir: string,
  sim: ComfySimulator,
  job: JobMessage,
  options: { promptId?: string; queue?: boolean } = {},
) {
  const journal = await JobJournal.open(stateDir, silentLogger);
  const graph = job.graph as ApiGraph;
  journal.save({ job, prompt_id: options.promptId, graph, inputs: [] });
  if (options.promptId && options.queue !== false) {
    const res = await fetch(`${sim.url}/prompt`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ prompt: graph, client_id: "the-previous-agent", prompt_id: options.promptId }),
    });
    expect(res.status).toBe(200);
  }
}

async function historyHas(sim: ComfySimulator, promptId: string): Promise<boolean> {
  const history = (await (await fetch(`${sim.url}/history/${promptId}`)).json()) as Record<string, unknown>;
  return promptId in history;
}

const journalFiles = (stateDir: string) => readdirSync(join(stateDir, "jobs"));

describe("an agent restarted while ComfyUI kept running", () => {
  it("follows its running prompt again, lists it in hello, and finishes it without queueing it twice", async () => {
    const job = jobMessage(imageGraph());
    let hold: ReturnType<ComfySimulator["holdNode"]> | undefined;
    h = await startHarness({
      beforeStart: async (stateDir, [sim]) => {
        hold = sim!.holdNode("CRTestProgressPreview");
        await leftBehind(stateDir, sim!, job, { promptId: "p-running" });
        await hold.reached();
      },
    });
    expect(h.mock.all("hello")[0]?.in_flight).toEqual([
      { run_id: job.run_id, lease_token: job.lease_token, instance_id: "comfy-0", prompt_id: "p-running" },
    ]);
    hold?.release();
    const succeeded = await h.mock.untilReport(job.run_id, "succeeded", 10_000);
    expect(succeeded.report).toMatchObject({
      outputs: expect.arrayContaining([expect.objectContaining({ kind: "images" })]),
    });
    expect(h.sim.counters.prompts).toBe(1);
    expect(h.sim.counters.executions.map((e) => e.promptId)).toEqual(["p-running"]);
    await h.mock.until(() => h.agent.runningJobs.length === 0, "the run to end");
    expect(journalFiles(h.stateDir)).toEqual([]);
  });

  it("delivers a prompt that finished while it was away, from ComfyUI's history", async () => {
    const job = jobMessage(imageGraph());
    h = await startHarness({
      beforeStart: async (stateDir, [sim]) => {
        await leftBehind(stateDir, sim!, job, { promptId: "p-done" });
        while (!(await historyHas(sim!, "p-done"))) await new Promise((resolve) => setTimeout(resolve, 10));
      },
    });
    await h.mock.untilReport(job.run_id, "succeeded", 10_000);
    expect(h.sim.counters.prompts).toBe(1);
    expect(h.sim.counters.executions).toHaveLength(1);
    expect(h.mock.uploads.length).toBeGreaterThan(0);
  });

  it("hands back a run whose prompt its ComfyUI no longer knows (restarted meanwhile), queueing nothing", async () => {
    const job = jobMessage(imageGraph());
    h = await startHarness({
      beforeStart: (stateDir, [sim]) => leftBehind(stateDir, sim!, job, { promptId: "p-lost", queue: false }),
    });
    const released = await h.mock.untilReport(job.run_id, "released");
    expect(released.report).toMatchObject({ reason: expect.stringContaining("no longer knows") });
    expect(h.sim.counters.prompts).toBe(0);
    await h.mock.until(() => h.agent.runningJobs.length === 0, "the run to end");
    expect(journalFiles(h.stateDir)).toEqual([]);
  });

  it("leaves out of hello a run that never reached POST /prompt, so the control plane queues it again", async () => {
    const job = jobMessage(imageGraph());
    h = await startHarness({ beforeStart: (stateDir, [sim]) => leftBehind(stateDir, sim!, job) });
    expect(h.mock.all("hello")[0]?.in_flight).toEqual([]);
    expect(journalFiles(h.stateDir)).toEqual([]);
    expect(h.sim.counters.prompts).toBe(0);
  });
});

describe("the job journal of a running agent", () => {
  it("holds a run's record, with the prompt's id and graph, by the time its ComfyUI has the prompt", async () => {
    // What another process would read at the moment ComfyUI queues the prompt: a SIGKILL of the agent
    // from then on leaves a record the restarted agent follows, so the prompt is never queued twice.
    const onDisk: unknown[] = [];
    const put = PromptQueue.prototype.put;
    PromptQueue.prototype.put = function (this: PromptQueue, item) {
      onDisk.push(
        ...journalFiles(h.stateDir).map((name) =>
          JSON.parse(readFileSync(join(h.stateDir, "jobs", name), "utf8")),
        ),
      );
      onDisk.push({ queued: item.promptId });
      return put.call(this, item);
    };
    try {
      h = await startHarness();
      const job = jobMessage(imageGraph());
      h.mock.send(job);
      const accepted = await h.mock.untilReport(job.run_id, "accepted", 10_000);
      const promptId = accepted.report.kind === "accepted" ? accepted.report.prompt_id : "";
      expect(onDisk).toHaveLength(2);
      const record = JobRecord.parse(onDisk[0]);
      expect(record).toMatchObject({ job: { run_id: job.run_id }, prompt_id: promptId });
      expect(Object.keys(record.graph ?? {})).toEqual(Object.keys(job.graph));
      expect(onDisk[1]).toEqual({ queued: promptId });
      await h.mock.untilReport(job.run_id, "succeeded", 10_000);
      await h.mock.until(() => journalFiles(h.stateDir).length === 0, "the record's removal");
    } finally {
      PromptQueue.prototype.put = put;
    }
  });
});
