import { readdirSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { ApiGraph } from "../../../src/protocol/graph";
import { type Harness, imageGraph, jobMessage, startHarness } from "./helpers/harness";

let h: Harness;

afterEach(async () => {
  await h?.close();
});

/** Queues a prompt on the simulator as some other ComfyUI user would. */
async function queueForeignPrompt(graph: ApiGraph): Promise<string> {
  const response = await fetch(`${h.sim.url}/prompt`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ prompt: graph, client_id: "someone-else" }),
  });
  return ((await response.json()) as { prompt_id: string }).prompt_id;
}

async function historyStatus(promptId: string): Promise<string | undefined> {
  const response = await fetch(`${h.sim.url}/history/${promptId}`);
  const history = (await response.json()) as Record<string, { status?: { status_str: string } }>;
  return history[promptId]?.status?.status_str;
}

const acceptedPromptId = async (runId: string) => {
  const accepted = await h.mock.untilReport(runId, "accepted");
  return accepted.report.kind === "accepted" ? accepted.report.prompt_id : "";
};

describe("cancel", () => {
  it("interrupts a running prompt, and only that one", async () => {
    h = await startHarness();
    const hold = h.sim.holdNode("CRTestProgressPreview");
    const job = jobMessage(imageGraph());
    h.mock.send(job);
    await hold.reached();
    const foreign = await queueForeignPrompt(imageGraph("foreign/run"));

    h.mock.send({ type: "cancel", run_id: job.run_id, lease_token: job.lease_token, reason: "cancelled" });
    await h.mock.until(() => h.sim.counters.interrupts === 1, "the targeted interrupt");
    hold.release();
    await h.mock.untilReport(job.run_id, "cancelled");
    expect(await historyStatus(await acceptedPromptId(job.run_id))).toBe("error");
    await h.mock.until(() => h.sim.queue().running.length + h.sim.queue().pending.length === 0, "the queue");
    expect(await historyStatus(foreign)).toBe("success");
    expect(h.sim.counters.interrupts).toBe(1);
    expect(h.mock.reportKinds(job.run_id)).not.toContain("failed");
  });

  it("removes a prompt still pending in ComfyUI's queue (a timeout cancels the same way)", async () => {
    h = await startHarness();
    const hold = h.sim.holdNode("CRTestProgressPreview");
    const foreign = await queueForeignPrompt(imageGraph("foreign/first"));
    await hold.reached();
    const job = jobMessage(imageGraph());
    h.mock.send(job);
    const promptId = await acceptedPromptId(job.run_id);
    expect(h.sim.queue().pending).toEqual([promptId]);

    h.mock.send({ type: "cancel", run_id: job.run_id, lease_token: job.lease_token, reason: "timeout" });
    await h.mock.untilReport(job.run_id, "cancelled");
    expect(h.sim.queue().pending).toEqual([]);
    expect(h.sim.counters.queueDeletes).toBe(1);
    hold.release();
    await h.mock.until(() => h.sim.queue().running.length === 0, "the foreign prompt to finish");
    expect(await historyStatus(foreign)).toBe("success");
    expect(await historyStatus(promptId)).toBeUndefined();
  });

  it("ignores a cancel for a run it does not have, or with another lease", async () => {
    h = await startHarness();
    const hold = h.sim.holdNode("CRTestProgressPreview");
    const job = jobMessage(imageGraph());
    h.mock.send(job);
    await hold.reached();
    h.mock.send({ type: "cancel", run_id: "unknown", lease_token: "x", reason: "cancelled" });
    h.mock.send({ type: "cancel", run_id: job.run_id, lease_token: "old-lease", reason: "cancelled" });
    await new Promise((resolve) => setTimeout(resolve, 100));
    hold.release();
    await h.mock.untilReport(job.run_id, "succeeded", 10_000);
    expect(h.sim.counters.interrupts).toBe(0);
    expect(h.mock.reports("unknown")).toEqual([]);
  });

  it("stops an upload read from ComfyUI's folders mid-way, reports cancelled, and removes the outputs", async () => {
    h = await startHarness({ comfyDirs: true, mock: { holdPuts: true } });
    const job = jobMessage(imageGraph());
    h.mock.send(job);
    await h.mock.until(() => h.mock.putsStarted > 0, "an output's PUT to begin");
    h.mock.send({ type: "cancel", run_id: job.run_id, lease_token: job.lease_token, reason: "cancelled" });
    await h.mock.untilReport(job.run_id, "cancelled");
    expect(h.mock.reportKinds(job.run_id)).not.toContain("succeeded");
    expect(h.mock.uploads).toEqual([]);
    const comfyDir = h.config.comfyDir?.[0] as string;
    for (const folder of ["output/edge", "temp"]) {
      expect(readdirSync(join(comfyDir, folder)).filter((name) => name.endsWith(".png"))).toEqual([]);
    }
  });
});
