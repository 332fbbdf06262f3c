import { describe, expect, it } from "vitest";
import type { ReportMessage } from "../../../src/protocol/v1";
import { silentLogger } from "../../src/log";
import type { Outbox } from "../../src/outbox";
import { type ReportLink, Reports } from "../../src/reports";

/** An outbox whose disk answers only when told: what it was asked to fsync, and a switch to finish. */
function slowOutbox() {
  const durable: boolean[] = [];
  let finish = () => {};
  const disk = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const outbox = {
    append: (_entry: unknown, sync: boolean) => {
      durable.push(sync);
      return disk;
    },
  } as unknown as Outbox;
  return { outbox, durable, finish: () => finish() };
}

const lease = { run_id: "run-1", lease_token: "lease_abc", instance_id: "comfy-0" };

describe("Reports", () => {
  it("hands every report to the link at once, in order, and fsyncs only the run's final one", async () => {
    const { outbox, durable, finish } = slowOutbox();
    const sent: string[] = [];
    const link: ReportLink = {
      send: (message: ReportMessage) => sent.push(message.report.kind) > 0,
      sendLatest: (_key: string, message: ReportMessage) => sent.push(message.report.kind) > 0,
    };
    const reports = new Reports(outbox, link, silentLogger);
    let onDisk = false;
    void reports.report(lease, { kind: "started" });
    void reports.report(lease, { kind: "uploading" });
    const final = reports.report(lease, { kind: "succeeded", outputs: [] }).then(() => {
      onDisk = true;
    });
    // All three are on the link while the disk has answered none of them.
    expect(sent).toEqual(["started", "uploading", "succeeded"]);
    expect(durable).toEqual([false, false, true]);
    await Promise.resolve();
    expect(onDisk).toBe(false);
    finish();
    await final;
    expect(onDisk).toBe(true);
  });
});
