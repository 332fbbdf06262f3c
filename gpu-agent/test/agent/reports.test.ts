import { describe, expect, it } from "vitest";
import type { ReportMessage } from "../../../src/protocol/v1";
import { silentLogger } from "../../src/log";
import type { Keeping, Outbox } from "../../src/outbox";
import { type ReportLink, Reports } from "../../src/reports";

/** An outbox whose disk answers only when told: how it was asked to keep each report, and a switch to finish. */
function slowOutbox() {
  const keeping: Keeping[] = [];
  let finish = () => {};
  const disk = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const outbox = {
    append: (_entry: unknown, keep: Keeping) => {
      keeping.push(keep);
      return disk;
    },
  } as unknown as Outbox;
  return { outbox, keeping, finish: () => finish() };
}

const lease = { run_id: "run-1", lease_token: "lease_abc", instance_id: "comfy-0" };

describe("Reports", () => {
  it("hands every report to the link at once, in order, fsyncs only the run's final one and keeps progress in memory", async () => {
    const { outbox, keeping, finish } = slowOutbox();
    const sent: string[] = [];
    const link: ReportLink = {
      send: (message: ReportMessage) => sent.push(message.report.kind) > 0,
      sendLatest: (_key: string, message: ReportMessage) => sent.push(message.report.kind) > 0,
    };
    const reports = new Reports(outbox, link, silentLogger);
    let onDisk = false;
    void reports.report(lease, { kind: "started" });
    void reports.report(lease, {
      kind: "progress",
      progress: {
        percentage: 50,
        nodes_done: 1,
        nodes_total: 3,
        current_node: "3",
        step: 1,
        total_steps: 2,
        eta_seconds: 0,
      },
    });
    void reports.report(lease, { kind: "uploading" });
    const final = reports.report(lease, { kind: "succeeded", outputs: [] }).then(() => {
      onDisk = true;
    });
    // All four are on the link while the disk has answered none of them.
    expect(sent).toEqual(["started", "progress", "uploading", "succeeded"]);
    expect(keeping).toEqual(["written", "memory", "written", "synced"]);
    await Promise.resolve();
    expect(onDisk).toBe(false);
    finish();
    await final;
    expect(onDisk).toBe(true);
  });
});
