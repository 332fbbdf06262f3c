import { afterEach, describe, expect, it } from "vitest";
import type { RunOutput } from "../../../src/protocol/v1";
import { decodePng } from "../../sim/image/png";
import { type Harness, imageGraph, jobMessage, startHarness } from "./helpers/harness";

let h: Harness;

afterEach(async () => {
  await h?.close();
});

async function viewBytes(url: string, output: RunOutput) {
  const query = new URLSearchParams({
    filename: output.filename,
    subfolder: output.subfolder,
    type: output.type,
  });
  const response = await fetch(`${url}/view?${query}`);
  return Buffer.from(await response.arrayBuffer());
}

describe("a job, end to end", () => {
  it("runs the prompt, reports throttled progress, uploads outputs byte for byte, and succeeds", async () => {
    h = await startHarness();
    h.sim.setStepMs(15);
    const job = jobMessage(imageGraph());
    h.mock.send(job);
    const done = await h.mock.untilReport(job.run_id, "succeeded", 10_000);
    const viewsByAgent = h.sim.counters.views;

    const kinds = h.mock.reportKinds(job.run_id).filter((kind) => kind !== "log");
    expect(kinds.slice(0, 2)).toEqual(["accepted", "started"]);
    expect(kinds.slice(-2)).toEqual(["uploading", "succeeded"]);
    const progress = h.mock
      .reports(job.run_id)
      .flatMap((r) => (r.report.kind === "progress" ? [r.report.progress] : []));
    // 7 nodes and 8 sampler steps, 15 ms each, at most one report per 50 ms: fewer than one per event.
    expect(progress.length).toBeGreaterThanOrEqual(2);
    expect(progress.length).toBeLessThan(12);
    expect(progress.at(-1)).toMatchObject({ percentage: 100, nodes_done: 7, nodes_total: 7, eta_seconds: 0 });
    expect(progress.some((p) => p.current_node_type === "CRTestProgressPreview" && p.total_steps === 8)).toBe(
      true,
    );
    expect(h.mock.all("report").find((r) => r.report.kind === "accepted")?.report).toEqual({
      kind: "accepted",
      prompt_id: expect.any(String),
    });

    if (done.report.kind !== "succeeded") throw new Error("not succeeded");
    const outputs = done.report.outputs;
    const files = outputs.filter((o) => o.kind === "images");
    expect(files.map((o) => [o.node_id, o.type, o.content_type])).toEqual([
      ["4", "output", "image/png"],
      ["5", "temp", "image/png"],
    ]);
    expect(files[0]).toMatchObject({
      subfolder: "edge",
      filename: expect.stringMatching(/^test_\d+_\.png$/),
    });
    for (const output of files) {
      const upload = h.mock.uploads.find((u) => u.key === output.key);
      if (!upload) throw new Error(`no upload for ${output.key}`);
      const original = await viewBytes(h.sim.url, output);
      expect(upload.bytes.equals(original)).toBe(true);
      expect(output.size).toBe(original.length);
      expect(upload.headers["content-length"]).toBe(String(original.length));
      expect(upload.headers["content-type"]).toBe("image/png");
      expect(upload.headers["x-amz-meta-run"]).toBe(job.run_id);
    }
    expect(outputs.find((o) => o.kind === "text")).toMatchObject({
      node_id: "7",
      text: "hello from comfy",
      content_type: "text/plain; charset=utf-8",
    });

    const uploadingAt = h.mock.received.findIndex(
      (m) => m.type === "report" && m.report.kind === "uploading",
    );
    expect(h.mock.received.findIndex((m) => m.type === "upload_request")).toBeGreaterThan(uploadingAt);
    const [request] = h.mock.all("upload_request");
    expect(request?.files.map((f) => f.content_type)).toEqual(["image/png", "image/png"]);
    expect(new Set(request?.files.map((f) => f.name)).size).toBe(2);
    // The upload's log line rides on the success: no report of the run follows `uploading` but the last.
    expect(done.report.logs).toEqual([
      { level: "INFO", message: expect.stringMatching(/^uploaded 2 output file\(s\), \d+ bytes$/) },
    ]);
    expect(h.mock.reportKinds(job.run_id).slice(-2)).toEqual(["uploading", "succeeded"]);
    // The socket said the prompt was done: its outputs came from /history alone, without asking the queue.
    expect(h.sim.counters.queueReads).toBe(0);
    // Each output was asked of ComfyUI once: the response that described it was the one uploaded.
    expect(viewsByAgent).toBe(2);
    expect(h.mock.invalid).toEqual([]);
    await h.mock.until(() => h.agent.runningJobs.length === 0, "the slot to free up");
    expect(await h.agent.flushReports(1000)).toBe(true);
  });

  it("reads outputs from ComfyUI's folders when it knows them, never asking /view", async () => {
    h = await startHarness({ comfyDirs: true });
    const job = jobMessage(imageGraph());
    h.mock.send(job);
    const done = await h.mock.untilReport(job.run_id, "succeeded", 10_000);
    if (done.report.kind !== "succeeded") throw new Error("not succeeded");
    const files = done.report.outputs.filter((o) => o.kind === "images");
    expect(files.map((o) => [o.type, o.content_type])).toEqual([
      ["output", "image/png"],
      ["temp", "image/png"],
    ]);
    for (const output of files) {
      const upload = h.mock.uploads.find((u) => u.key === output.key);
      expect(upload?.bytes.length).toBe(output.size);
      expect(upload?.headers["content-type"]).toBe("image/png");
      expect(decodePng(upload?.bytes ?? Buffer.alloc(0))?.image).toMatchObject({ width: 32, height: 24 });
    }
    expect(h.sim.counters.views).toBe(0);
  });

  it("takes the next job the control plane sends as soon as it has acked a success, instead of refusing it as busy", async () => {
    const first = jobMessage(imageGraph());
    const second = jobMessage(imageGraph());
    // As the Dispatcher does: the slot is free once the success is applied, so the next job follows its ack.
    h = await startHarness({
      mock: {
        ack: (report) => {
          if (report.run_id === first.run_id && report.report.kind === "succeeded")
            setImmediate(() => h.mock.send(second));
          return "ok";
        },
      },
    });
    h.mock.send(first);
    await h.mock.untilReport(second.run_id, "succeeded", 10_000);
    expect(h.mock.reportKinds(second.run_id)).not.toContain("released");
  });

  it("retries a failed upload", async () => {
    h = await startHarness({ mock: { failPuts: 1 } });
    const job = jobMessage(imageGraph());
    h.mock.send(job);
    await h.mock.untilReport(job.run_id, "succeeded", 10_000);
    expect(h.mock.uploads).toHaveLength(2);
  });

  it("fails with upload_error when storage keeps refusing", async () => {
    h = await startHarness({ mock: { failPuts: 100 } });
    const job = jobMessage(imageGraph());
    h.mock.send(job);
    const failed = await h.mock.untilReport(job.run_id, "failed", 10_000);
    expect(failed.report).toEqual({
      kind: "failed",
      error: { code: "upload_error", message: expect.stringMatching(/HTTP 500/) },
    });
  });

  it("sends an upload request and a final report again after the control plane refused them over budget", async () => {
    h = await startHarness({
      mock: {
        refuse: (m) => m.type === "upload_request" || (m.type === "report" && m.report.kind === "succeeded"),
      },
    });
    const job = jobMessage(imageGraph());
    h.mock.send(job);
    const succeeded = () => h.mock.reports(job.run_id).filter((r) => r.report.kind === "succeeded");
    // Both were refused once, unapplied, and went again: the outputs reached storage, the end was sent twice.
    await expect.poll(() => succeeded().length, { timeout: 10_000 }).toBe(2);
    expect(h.mock.refused.map((m) => m.type).sort()).toEqual(["report", "upload_request"]);
    expect(h.mock.uploads.length).toBeGreaterThan(0);
    expect(new Set(succeeded().map((r) => r.event_id)).size).toBe(1);
  });
});
