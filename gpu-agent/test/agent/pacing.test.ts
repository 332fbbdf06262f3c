import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { AgentBudget } from "../../../src/durable/dispatcher/agent-budget";
import type { SendBudget } from "../../../src/protocol/v1";
import { SendPacer } from "../../src/send-pacer";
import { type Harness, jobMessage, startHarness } from "./helpers/harness";

const BUDGET: SendBudget = {
  messages: 10,
  messages_per_second: 5,
  bytes: 1_000_000,
  bytes_per_second: 1_000_000,
};

/** A pacer writing into a list, each write also charged to the server's own buckets on the same clock. */
function pacedLink(budget = BUDGET) {
  const now = () => Date.now();
  const server = new AgentBudget(
    {
      messages: budget.messages,
      messagesPerSecond: budget.messages_per_second,
      bytes: budget.bytes,
      bytesPerSecond: budget.bytes_per_second,
      refusalsBeforeClose: Number.POSITIVE_INFINITY,
    },
    now,
  );
  const written: string[] = [];
  const refused: string[] = [];
  const pacer = new SendPacer(
    budget,
    (text) => {
      written.push(text);
      if (server.take(text.length) !== "ok") refused.push(text);
    },
    now,
  );
  return { pacer, written, refused };
}

describe("SendPacer", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("keeps every frame within the server's buckets, however fast frames come", () => {
    const { pacer, written, refused } = pacedLink();
    for (let i = 0; i < 300; i++) {
      pacer.send(`control ${i}`);
      vi.advanceTimersByTime(10);
    }
    vi.advanceTimersByTime(120_000);
    expect(refused).toEqual([]);
    expect(written).toEqual(Array.from({ length: 300 }, (_, i) => `control ${i}`));
    expect(pacer.waiting).toBe(0);
  });

  it("sends control frames first and only the newest held frame of each key", () => {
    const { pacer, written, refused } = pacedLink();
    const superseded: string[] = [];
    for (let step = 1; step <= 100; step++) {
      pacer.sendLatest("a", `a ${step}`, "run-a", () => superseded.push(`a ${step}`));
      pacer.sendLatest("b", `b ${step}`, "run-b");
    }
    pacer.send("ack-like control");
    vi.advanceTimersByTime(10_000);
    expect(refused).toEqual([]);
    // The burst (8 frames at 80%) went at once; then the control frame; then the newest a and b.
    expect(written.slice(8)).toEqual(["ack-like control", "a 100", "b 100"]);
    // a 1–4 went in the burst and a 100 at the end: every one between was replaced unsent.
    expect(superseded).toHaveLength(100 - 4 - 1);
    expect(superseded).not.toContain("a 100");
  });

  it("moves a run's held frames ahead of its next control frame, so the run's order holds", () => {
    const { pacer, written } = pacedLink();
    for (let i = 0; i < 8; i++) pacer.send(`filler ${i}`);
    pacer.sendLatest("progress:run-a", "a progress", "run-a");
    pacer.sendLatest("progress:run-b", "b progress", "run-b");
    pacer.send("a succeeded", "run-a");
    vi.advanceTimersByTime(10_000);
    expect(written.slice(8)).toEqual(["a progress", "a succeeded", "b progress"]);
  });

  it("sends a frame at once while nothing waits, and never ahead of a frame that does", () => {
    const { pacer, written } = pacedLink();
    for (let i = 0; i < 8; i++) pacer.send(`filler ${i}`);
    expect(written).toHaveLength(8);
    pacer.sendLatest("progress:run-a", "a progress", "run-a");
    expect(written).toHaveLength(8);
    // Tokens are back, but the held frame's timer has not fired yet: the next frame queues behind it.
    vi.setSystemTime(Date.now() + 1_000);
    pacer.sendLatest("progress:run-b", "b progress", "run-b");
    expect(written.slice(8)).toEqual(["a progress", "b progress"]);
    expect(pacer.waiting).toBe(0);
    pacer.send("c");
    expect(written.at(-1)).toBe("c");
  });

  it("holds a frame until the byte bucket has room for it", () => {
    const { pacer, written, refused } = pacedLink({ ...BUDGET, bytes: 1000, bytes_per_second: 100 });
    pacer.send("x".repeat(700));
    pacer.send("y".repeat(700));
    expect(written).toHaveLength(1);
    vi.advanceTimersByTime(10_000);
    expect(written).toHaveLength(2);
    expect(refused).toEqual([]);
  });
});

let h: Harness;

describe("an agent relaying every progress event", () => {
  afterEach(async () => {
    await h?.close();
  });

  it("stays within the budget its welcome gives it, and the run completes with each node's last progress", async () => {
    const budget: SendBudget = {
      messages: 30,
      messages_per_second: 40,
      bytes: 4 * 1024 * 1024,
      bytes_per_second: 1024 * 1024,
    };
    h = await startHarness({ mock: { budget }, config: { progressThrottleMs: 0 } });
    h.sim.setStepMs(0);
    const steps = 1000;
    const job = jobMessage({
      "1": { class_type: "EmptyImage", inputs: { width: 16, height: 16, batch_size: 1, color: 0 } },
      "2": { class_type: "CRTestProgressPreview", inputs: { image: ["1", 0], steps, delay: 0 } },
      "3": { class_type: "CRTestProgressPreview", inputs: { image: ["2", 0], steps, delay: 0 } },
      "4": { class_type: "SaveImage", inputs: { images: ["3", 0], filename_prefix: "paced" } },
    });
    h.mock.send(job);
    await h.mock.untilReport(job.run_id, "succeeded", 30_000);

    expect(h.mock.overBudget).toEqual([]);
    const progress = h.mock
      .reports(job.run_id)
      .flatMap((r) => (r.report.kind === "progress" ? [r.report] : []));
    const lastOf = (node: string) => progress.filter((r) => r.progress.current_node === node).at(-1);
    expect(lastOf("2")?.progress).toMatchObject({ step: steps, total_steps: steps });
    expect(lastOf("3")?.progress).toMatchObject({ step: steps, total_steps: steps });
    // Coalesced: far fewer reports than the 2,000 steps ComfyUI sent.
    expect(progress.length).toBeLessThan(steps);
    // A report replaced before it went is forgotten, not left to be sent again after a reconnect.
    await expect.poll(() => h.agent.unackedReports.length).toBe(0);
  });
});
