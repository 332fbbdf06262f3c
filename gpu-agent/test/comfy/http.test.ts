import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ComfyHttpError, ComfyUnreachableError, ComfyValidationError } from "../../src/comfy/errors";
import type { PromptGraph } from "../../src/comfy/http";
import { loadTrace } from "../sim/helpers/traces";
import { type ComfyFixture, comfyFixture, saveGraph } from "./helpers/fixture";

let comfy: ComfyFixture;
beforeEach(async () => {
  comfy = await comfyFixture();
});
afterEach(() => comfy.close());

describe("ComfyHttp", () => {
  it("reads system stats and the node classes", async () => {
    expect(await comfy.http.systemStats()).toMatchObject({ system: { comfyui_version: "0.3.64" } });
    expect(await comfy.http.nodeClasses()).toEqual(
      expect.arrayContaining(["LoadImage", "KSampler", "SaveImage"]),
    );
  });

  it("uploads bytes, blobs and streams, with ComfyUI's naming", async () => {
    const { http } = comfy;
    const bytes = new TextEncoder().encode("first");
    expect(await http.uploadImage(bytes, "in.png", { overwrite: true })).toEqual({
      name: "in.png",
      subfolder: "",
      type: "input",
    });
    expect((await http.uploadImage(new Blob([bytes]), "in.png")).name).toBe("in.png");
    const stream = new Blob([new TextEncoder().encode("second")]).stream();
    expect(await http.uploadImage(stream, "in.png", { subfolder: "jobs" })).toMatchObject({
      name: "in.png",
      subfolder: "jobs",
    });
    expect((await http.uploadImage(new TextEncoder().encode("third"), "in.png")).name).toBe("in (1).png");
  });

  it("streams a file from /view with its type and size, and throws for a missing one", async () => {
    await comfy.http.uploadImage(new TextEncoder().encode("0123456789"), "ten.png", { overwrite: true });
    const download = await comfy.http.view({ filename: "ten.png", subfolder: "", type: "input" });
    expect(download.contentType).toBe("image/png");
    expect(download.size).toBe(10);
    expect(Buffer.concat(await download.body.toArray()).toString()).toBe("0123456789");
    const missing = comfy.http.view({ filename: "nope.png", subfolder: "", type: "output" });
    await expect(missing).rejects.toBeInstanceOf(ComfyHttpError);
    await expect(missing).rejects.toMatchObject({ status: 404 });
  });

  it("queues a prompt and finds it in the queue, then in the history", async () => {
    const hold = comfy.sim.holdNode("ImageInvert");
    const accepted = await comfy.http.submitPrompt(saveGraph(), { clientId: "c1", promptId: "p-1" });
    expect(accepted).toEqual({ prompt_id: "p-1", number: 0 });
    await hold.reached();
    expect(await comfy.http.getQueue()).toEqual({ running: [{ number: 0, promptId: "p-1" }], pending: [] });
    expect(await comfy.http.getHistory("p-1")).toBeUndefined();
    hold.release();
    await expect
      .poll(() => comfy.http.getHistory("p-1"))
      .toMatchObject({ status: { status_str: "success" } });
  });

  it("throws ComfyValidationError with ComfyUI's error and node_errors", async () => {
    const trace = loadTrace("05");
    const error = await comfy.http
      .submitPrompt(trace.prompt_request.prompt as PromptGraph, { clientId: "c1" })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ComfyValidationError);
    const refused = error as ComfyValidationError;
    expect(refused.error.type).toBe("prompt_outputs_failed_validation");
    expect(Object.keys(refused.nodeErrors).sort()).toEqual(["1", "2", "4"]);
    expect(refused.message).toContain("node 2 (ImageBlur): Value 99 bigger than max of 31");
  });

  it("sends interrupts and queue deletions", async () => {
    await comfy.http.interrupt();
    await comfy.http.interrupt("some-prompt");
    await comfy.http.deleteFromQueue(["a", "b"]);
    expect(comfy.sim.counters).toMatchObject({ interrupts: 2, queueDeletes: 2 });
  });

  it("gives up on a silent ComfyUI after its timeout", async () => {
    comfy.sim.goSilent();
    const started = Date.now();
    await expect(comfy.http.getQueue()).rejects.toBeInstanceOf(ComfyUnreachableError);
    expect(Date.now() - started).toBeLessThan(1_000);
    comfy.sim.resume();
  });

  it("reports a ComfyUI that is down as unreachable", async () => {
    await comfy.sim.crash();
    await expect(comfy.http.systemStats()).rejects.toThrow(/ECONNREFUSED/);
  });

  it("passes the caller's abort through untouched", async () => {
    comfy.sim.goSilent();
    const controller = new AbortController();
    const pending = comfy.http.getQueue(controller.signal);
    controller.abort(new Error("job cancelled"));
    await expect(pending).rejects.toThrow("job cancelled");
    comfy.sim.resume();
  });
});
