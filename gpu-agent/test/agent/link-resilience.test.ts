import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../src/log";
import { Outbox } from "../../src/outbox";
import { type Harness, imageGraph, jobMessage, startHarness } from "./helpers/harness";

let h: Harness;

afterEach(async () => {
  await h?.close();
});

describe("a lost link", () => {
  it("keeps the job running, buffers its reports, and resends them after reconnecting", async () => {
    let acking = true;
    const leftUnacked: string[] = [];
    const ack = (report: { event_id: string; report: { kind: string } }) => {
      if (acking) return "ok" as const;
      if (report.report.kind === "progress") leftUnacked.push(report.event_id);
      return null;
    };
    h = await startHarness({ mock: { ack } });
    const hold = h.sim.holdNode("CRTestProgressPreview");
    const job = jobMessage(imageGraph());
    h.mock.send(job);
    await hold.reached();
    await h.mock.untilReport(job.run_id, "started");

    acking = false; // These reports reach the server but their acks are lost with the link: resent later.
    hold.step(2);
    // A report the server received while not acking (one acked just before may still be on its way).
    await h.mock.until(() => leftUnacked.length > 0, "a progress report received but not acked");
    h.mock.refuseConnections = true;
    h.mock.socket?.terminate();
    await h.mock.until(() => h.agent.linkState !== "ready", "the link to drop");
    hold.release();
    await h.mock.until(
      () => h.agent.unackedReports.some((r) => r.report.kind === "uploading"),
      "the run to reach uploading while offline",
    );
    expect(h.agent.runningJobs).toHaveLength(1);

    acking = true;
    h.mock.refuseConnections = false;
    await h.mock.untilReport(job.run_id, "succeeded", 10_000);
    const hello = h.mock.all("hello")[1];
    expect(hello?.in_flight).toEqual([
      {
        run_id: job.run_id,
        lease_token: job.lease_token,
        instance_id: "comfy-0",
        prompt_id: expect.any(String),
      },
    ]);
    await h.mock.until(() => h.agent.unackedReports.length === 0, "every report acked");
    const reports = h.mock.reports(job.run_id);
    expect(reports.length).toBeGreaterThan(new Set(reports.map((r) => r.event_id)).size);
    const kinds = h.mock.reportKinds(job.run_id).filter((kind) => kind !== "log" && kind !== "progress");
    expect(kinds).toEqual(["accepted", "started", "uploading", "succeeded"]);
    expect(h.mock.invalid).toEqual([]);
  });

  it("waits out a control-plane restart that cut off an upload-URL request, then delivers", async () => {
    // The request's own limit is shorter than the outage: only time with the link up counts. It is
    // still long enough for the mock's grant to arrive after the reconnect on a loaded machine.
    const limitMs = 1000;
    h = await startHarness({ mock: { grantUploads: false }, timings: { uploadUrlTimeoutMs: limitMs } });
    const job = jobMessage(imageGraph());
    h.mock.send(job);
    await h.mock.until(() => h.mock.all("upload_request").length > 0, "the upload-URL request");
    h.mock.refuseConnections = true;
    h.mock.socket?.terminate();
    const cutAt = Date.now();
    const refusedFrom = h.mock.authHeaders.length;
    await h.mock.until(
      () => h.mock.authHeaders.length >= refusedFrom + 5 && Date.now() - cutAt > 1.5 * limitMs,
      "five refused reconnects over an outage longer than the request's limit",
    );
    h.mock.options.grantUploads = true;
    h.mock.refuseConnections = false;
    await h.mock.untilReport(job.run_id, "succeeded", 10_000);
    expect(h.mock.reportKinds(job.run_id)).not.toContain("failed");
    expect(h.mock.uploads.length).toBeGreaterThan(0);
  });

  it("resends the outbox of a previous agent process after its welcome", async () => {
    const lease = { run_id: "old-run", lease_token: "old-lease" };
    const at = Date.now();
    h = await startHarness({
      beforeStart: async (stateDir) => {
        const outbox = await Outbox.open(stateDir, silentLogger);
        const report = (event_id: string, report: object) => ({
          instanceId: "comfy-0",
          message: { type: "report" as const, event_id, ...lease, at, report: report as never },
        });
        await outbox.append(report("e1", { kind: "uploading" }));
        await outbox.append(report("e2", { kind: "succeeded", outputs: [] }));
        await outbox.close();
      },
    });
    expect(h.mock.all("hello")[0]?.in_flight).toEqual([{ ...lease, instance_id: "comfy-0" }]);
    await h.mock.untilReport("old-run", "succeeded");
    expect(h.mock.reports("old-run").map((r) => r.event_id)).toEqual(["e1", "e2"]);
    await h.mock.until(() => h.agent.unackedReports.length === 0, "the outbox to drain");
  });

  it("stops a job whose report is acked stale, without reporting on it", async () => {
    h = await startHarness({ mock: { ack: (r) => (r.report.kind === "started" ? "stale" : "ok") } });
    const hold = h.sim.holdNode("CRTestProgressPreview");
    const job = jobMessage(imageGraph());
    h.mock.send(job);
    // The stale ack of `started` stops the run wherever it is; the hold keeps it from finishing first.
    await h.mock.until(() => h.sim.counters.interrupts === 1, "the prompt to be interrupted");
    hold.release();
    await h.mock.until(() => h.agent.runningJobs.length === 0, "the job to stop");
    const terminal = ["succeeded", "failed", "cancelled", "released"];
    expect(h.mock.reportKinds(job.run_id).filter((kind) => terminal.includes(kind))).toEqual([]);
  });

  it("stops the jobs the welcome drops after a reconnect", async () => {
    h = await startHarness();
    const hold = h.sim.holdNode("CRTestProgressPreview");
    const job = jobMessage(imageGraph());
    h.mock.send(job);
    await hold.reached();
    h.mock.welcomeDrop = [job.run_id];
    h.mock.socket?.terminate();
    await h.mock.until(() => h.sim.counters.interrupts === 1, "the dropped run's prompt to be interrupted");
    hold.release();
    await h.mock.until(() => h.agent.runningJobs.length === 0, "the job to stop");
    expect(h.mock.reportKinds(job.run_id)).not.toContain("cancelled");
  });

  it("exits with a clear message and does not reconnect when the machine is revoked", async () => {
    h = await startHarness();
    h.mock.socket?.close(4001, "machine deleted");
    const exit = await h.agent.exited;
    expect(exit).toEqual({ code: 3, message: expect.stringMatching(/revoked.*machine deleted/) });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(h.mock.connections).toBe(1);
  });
});
