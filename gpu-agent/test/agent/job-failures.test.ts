import { afterEach, describe, expect, it } from "vitest";
import { type Harness, imageGraph, jobMessage, startHarness } from "./helpers/harness";

let h: Harness;

afterEach(async () => {
  await h?.close();
});

const instanceStates = () => h.mock.all("heartbeat").map((beat) => beat.instances?.[0]?.available);

describe("job failures", () => {
  it("reports ComfyUI's 400 as validation_error with its node_errors", async () => {
    h = await startHarness();
    const job = jobMessage({
      "1": { class_type: "NoSuchNode", inputs: {} },
      "2": { class_type: "SaveImage", inputs: { images: ["1", 0], filename_prefix: "x" } },
    });
    h.mock.send(job);
    const failed = await h.mock.untilReport(job.run_id, "failed");
    expect(failed.report).toEqual({
      kind: "failed",
      error: {
        code: "validation_error",
        message: expect.stringContaining("NoSuchNode"),
        node_errors: {},
        comfy_error: {
          type: "invalid_prompt",
          message: expect.stringContaining("NoSuchNode"),
          details: expect.any(String),
          extra_info: expect.any(Object),
        },
      },
    });
    expect(h.mock.reportKinds(job.run_id)).not.toContain("accepted");
  });

  it("reports an execution_error with the node, exception and traceback", async () => {
    h = await startHarness();
    h.sim.failNode("ImageInvert", { message: "CUDA out of memory", exceptionType: "torch.OutOfMemoryError" });
    const job = jobMessage(imageGraph());
    h.mock.send(job);
    const failed = await h.mock.untilReport(job.run_id, "failed");
    expect(failed.report).toEqual({
      kind: "failed",
      error: {
        code: "execution_error",
        message: "CUDA out of memory",
        node_id: "3",
        node_type: "ImageInvert",
        exception_type: "torch.OutOfMemoryError",
        traceback: expect.any(Array),
      },
    });
    expect(h.mock.reportKinds(job.run_id)).not.toContain("uploading");
  });

  it("hands the run back when ComfyUI dies mid-run, and takes jobs again once it is back", async () => {
    h = await startHarness({ config: { heartbeatMs: 50 } });
    const hold = h.sim.holdNode("CRTestProgressPreview");
    const job = jobMessage(imageGraph());
    h.mock.send(job);
    await hold.reached();
    await h.sim.crash();
    const released = await h.mock.untilReport(job.run_id, "released");
    // Noticed through the closed WebSocket and the refused connection, not after the silence limit.
    expect(released.report).toEqual({
      kind: "released",
      reason: expect.stringMatching(/^comfy_unavailable: ComfyUI went down/),
    });
    expect(h.mock.reportKinds(job.run_id)).not.toContain("failed");
    await h.mock.until(() => instanceStates().at(-1) === false, "a heartbeat with the instance unavailable");
    expect(h.mock.all("heartbeat").at(-1)?.instances?.[0]?.reason).toEqual(expect.any(String));

    const refused = jobMessage(imageGraph());
    h.mock.send(refused);
    await h.mock.untilReport(refused.run_id, "released");

    hold.release();
    await h.sim.restart();
    await h.mock.until(
      () => instanceStates().at(-1) === true,
      "a heartbeat with the instance available again",
    );
    const after = jobMessage(imageGraph());
    h.mock.send(after);
    await h.mock.untilReport(after.run_id, "succeeded", 10_000);
  });

  it("hands the run back when ComfyUI hangs mid-run (sockets open, nothing answered)", async () => {
    h = await startHarness();
    const hold = h.sim.holdNode("CRTestProgressPreview");
    const job = jobMessage(imageGraph());
    h.mock.send(job);
    await hold.reached();
    h.sim.goSilent();
    const released = await h.mock.untilReport(job.run_id, "released", 5000);
    expect(released.report).toMatchObject({ reason: expect.stringContaining("comfy_unavailable") });
    hold.release();
    h.sim.resume();
  });
});
