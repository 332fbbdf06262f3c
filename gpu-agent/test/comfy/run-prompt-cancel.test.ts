import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runPrompt } from "../../src/comfy/execution";
import type { PromptGraph } from "../../src/comfy/http";
import { type ComfyFixture, comfyFixture, FAST, saveGraph } from "./helpers/fixture";

let comfy: ComfyFixture;
beforeEach(async () => {
  comfy = await comfyFixture();
});
afterEach(() => comfy.close());

function start(graph: PromptGraph, controller = new AbortController()) {
  let accepted: (id: string) => void = () => {};
  const promptId = new Promise<string>((resolve) => {
    accepted = resolve;
  });
  const result = runPrompt({
    http: comfy.http,
    socket: comfy.socket,
    graph,
    signal: controller.signal,
    onAccepted: accepted,
    ...FAST,
  });
  return { result, promptId, cancel: () => controller.abort() };
}

describe("cancelling runPrompt", () => {
  it("deletes a prompt still pending in ComfyUI's queue", async () => {
    const hold = comfy.sim.holdNode("ImageInvert");
    const first = start(saveGraph("first"));
    await hold.reached();
    const second = start(saveGraph("second", 0x123456));
    const secondId = await second.promptId;
    expect(comfy.sim.queue().pending).toEqual([secondId]);

    second.cancel();
    expect(await second.result).toEqual({ kind: "cancelled", promptId: secondId });
    expect(comfy.sim.queue().pending).toEqual([]);
    expect(comfy.sim.counters.queueDeletes).toBe(1);

    hold.release();
    expect(await first.result).toMatchObject({ kind: "success" });
  });

  it("interrupts a running prompt, and only that one", async () => {
    const hold = comfy.sim.holdNode("ImageInvert");
    const first = start(saveGraph("first"));
    const firstId = await first.promptId;
    await hold.reached();
    const second = start({
      "1": { class_type: "EmptyImage", inputs: { width: 8, height: 8, batch_size: 1, color: 1 } },
      "2": { class_type: "SaveImage", inputs: { images: ["1", 0], filename_prefix: "second" } },
    });
    await second.promptId;

    first.cancel();
    await expect.poll(() => comfy.sim.counters.interrupts).toBe(1);
    hold.release();
    expect(await first.result).toEqual({ kind: "cancelled", promptId: firstId });
    expect(await second.result).toMatchObject({
      kind: "success",
      outputs: [{ filename: "second_00001_.png" }],
    });
  });

  it("does not queue anything when cancelled before it starts", async () => {
    const controller = new AbortController();
    controller.abort();
    const result = await runPrompt({
      http: comfy.http,
      socket: comfy.socket,
      graph: saveGraph(),
      signal: controller.signal,
    });
    expect(result).toEqual({ kind: "cancelled", promptId: null });
    expect(comfy.sim.counters.prompts).toBe(0);
  });

  it("tells an interrupt it did not ask for apart from a cancellation", async () => {
    const hold = comfy.sim.holdNode("ImageInvert");
    const run = start(saveGraph());
    await hold.reached();
    await comfy.http.interrupt();
    hold.release();
    expect(await run.result).toMatchObject({ kind: "interrupted", nodeId: "3", nodeType: "SaveImage" });
  });
});
