import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Progress } from "../../../src/protocol/v1";
import { runPrompt } from "../../src/comfy/execution";
import type { PromptGraph } from "../../src/comfy/http";
import type { PreviewImage } from "../../src/comfy/preview-frames";
import { loadTrace } from "../sim/helpers/traces";
import { type ComfyFixture, comfyFixture, FAST, samplerGraph, saveGraph } from "./helpers/fixture";

let comfy: ComfyFixture;
beforeEach(async () => {
  comfy = await comfyFixture();
});
afterEach(() => comfy.close());

const run = (graph: PromptGraph, extra: Partial<Parameters<typeof runPrompt>[0]> = {}) =>
  runPrompt({ http: comfy.http, socket: comfy.socket, graph, ...FAST, ...extra });

describe("runPrompt", () => {
  it("follows a run to its outputs, with progress, sampler steps and previews", async () => {
    const progress: Progress[] = [];
    const previews: PreviewImage[] = [];
    const accepted: string[] = [];
    let started = 0;
    const result = await run(samplerGraph(5), {
      onAccepted: (id) => accepted.push(id),
      onStarted: () => started++,
      onProgress: (p) => progress.push(p),
      onPreview: (p) => previews.push(p),
    });
    expect(result).toMatchObject({
      kind: "success",
      promptId: accepted[0],
      outputs: [
        { node_id: "9", kind: "images", filename: "txt2img_00001_.png", subfolder: "", type: "output" },
      ],
      cachedNodes: [],
    });
    expect(started).toBe(1);
    const steps = progress.filter((p) => p.current_node === "3" && p.step !== null).map((p) => p.step);
    expect(steps).toEqual([1, 2, 3, 4, 5]);
    expect(progress.at(-1)).toMatchObject({ percentage: 100, nodes_done: 7, nodes_total: 7 });
    const percentages = progress.map((p) => p.percentage);
    expect(percentages).toEqual([...percentages].sort((a, b) => a - b));
    expect(previews).toHaveLength(5);
    expect(previews.every((p) => p.promptId === accepted[0] && p.mimeType === "image/jpeg")).toBe(true);

    const output = result.kind === "success" ? result.outputs[0] : undefined;
    if (output?.kind !== "images") throw new Error("expected an image output");
    const download = await comfy.http.view(output);
    const bytes = Buffer.from(await new Response(download.body).arrayBuffer());
    expect(bytes.subarray(1, 4).toString()).toBe("PNG");
    expect(download.size).toBe(bytes.length);
  });

  it("asks ComfyUI where the prompt is once its events stop, while the socket stays open", async () => {
    const hold = comfy.sim.holdNode("KSampler");
    const progress: Progress[] = [];
    const running = run(samplerGraph(3), { onProgress: (p) => progress.push(p) });
    await hold.reached();
    hold.step(1);
    await vi.waitUntil(() => progress.some((p) => p.step === 1), { timeout: 5_000 });
    // Events stopped mid-sampler: quiet probes (each one restarts the quiet time) ask the queue.
    const asked = vi.spyOn(comfy.http, "getQueue");
    await vi.waitUntil(() => asked.mock.calls.length >= 2, { timeout: 5_000, interval: 20 });
    expect(comfy.socket.isOpen).toBe(true);
    hold.release();
    expect(await running).toMatchObject({ kind: "success" });
    expect(progress.at(-1)).toMatchObject({ percentage: 100 });
  });

  it("reports ComfyUI's validation errors", async () => {
    const result = await run(loadTrace("04").prompt_request.prompt as PromptGraph);
    expect(result.kind).toBe("validation_error");
    if (result.kind !== "validation_error") return;
    expect(result.error.error).toMatchObject({ type: "invalid_prompt", details: "Node ID '#2'" });
  });

  it("reports a node's error with its type, message and traceback", async () => {
    await comfy.http.uploadImage(new TextEncoder().encode("not an image"), "corrupt.png", {
      overwrite: true,
    });
    const result = await run(loadTrace("08").prompt_request.prompt as PromptGraph);
    expect(result).toMatchObject({
      kind: "execution_error",
      failure: {
        node_id: "1",
        node_type: "LoadImage",
        exception_type: "PIL.UnidentifiedImageError",
        exception_message: "cannot identify image file '/srv/comfy/ComfyUI/input/corrupt.png'\n",
        executed: [],
      },
    });
    if (result.kind === "execution_error") expect(result.failure.traceback.length).toBeGreaterThan(3);
  });

  it("serves a resubmitted prompt from ComfyUI's cache, with the same outputs", async () => {
    const first = await run(saveGraph());
    const again = await run(saveGraph());
    expect(again).toMatchObject({ kind: "success", cachedNodes: ["1", "2", "3"] });
    if (first.kind === "success" && again.kind === "success") expect(again.outputs).toEqual(first.outputs);
  });

  it("lists text outputs", async () => {
    const graph: PromptGraph = {
      "1": { class_type: "PrimitiveString", inputs: { value: "hello" } },
      "2": { class_type: "PreviewAny", inputs: { source: ["1", 0] } },
    };
    expect(await run(graph)).toMatchObject({
      kind: "success",
      outputs: [{ node_id: "2", kind: "text", text: "hello" }],
    });
  });
});
