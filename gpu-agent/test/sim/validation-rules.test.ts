import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type ComfySimulator, startComfySimulator } from "../../sim/simulator";
import { postJson } from "./helpers/sim-client";

let sim: ComfySimulator;
beforeEach(async () => {
  sim = await startComfySimulator({ stepMs: 0 });
});
afterEach(() => sim.close());

const empty = (inputs: Record<string, unknown> = {}) => ({
  class_type: "EmptyImage",
  inputs: { width: 8, height: 8, batch_size: 1, color: 0, ...inputs },
});
const save = (from: unknown) => ({ class_type: "SaveImage", inputs: { images: from, filename_prefix: "v" } });

async function errorsOf(prompt: Record<string, unknown>) {
  const reply = await postJson(sim, "/prompt", { prompt });
  return {
    status: reply.status,
    nodeErrors: reply.json.node_errors as Record<string, { errors: unknown[] }>,
  };
}

describe("validation", () => {
  it("reports a combo value outside its list with Python's list text", async () => {
    const prompt = {
      "1": empty(),
      "2": {
        class_type: "ImageScale",
        inputs: { image: ["1", 0], upscale_method: "x", width: 4, height: 4, crop: "disabled" },
      },
      "3": save(["2", 0]),
    };
    const { nodeErrors } = await errorsOf(prompt);
    expect(nodeErrors["2"]?.errors).toEqual([
      {
        type: "value_not_in_list",
        message: "Value not in list",
        details: "upscale_method: 'x' not in ['nearest-exact', 'bilinear', 'area', 'bicubic', 'lanczos']",
        extra_info: {
          input_name: "upscale_method",
          input_config: [["nearest-exact", "bilinear", "area", "bicubic", "lanczos"], {}],
          received_value: "x",
        },
      },
    ]);
  });

  it("converts widget values like Python and reports what cannot be converted", async () => {
    const { nodeErrors } = await errorsOf({
      "1": empty({ width: "wide", height: "8" }),
      "2": save(["1", 0]),
    });
    expect(nodeErrors["1"]?.errors).toEqual([
      expect.objectContaining({
        type: "invalid_input_type",
        message: "Failed to convert an input value to a INT value",
        details: "width, wide, invalid literal for int() with base 10: 'wide'",
      }),
    ]);
  });

  it("reports a link to the wrong type", async () => {
    const prompt = {
      "1": { class_type: "EmptyLatentImage", inputs: { width: 64, height: 64, batch_size: 1 } },
      "2": save(["1", 0]),
    };
    const { nodeErrors } = await errorsOf(prompt);
    expect(nodeErrors["2"]?.errors).toEqual([
      expect.objectContaining({
        type: "return_type_mismatch",
        details: "images, received_type(LATENT) mismatch input_type(IMAGE)",
      }),
    ]);
  });

  it("reports a link to a missing node as an exception on the output", async () => {
    const { status, nodeErrors } = await errorsOf({ "2": save(["9", 0]) });
    expect(status).toBe(400);
    expect(nodeErrors["2"]?.errors).toEqual([
      expect.objectContaining({ type: "exception_during_validation", details: "'9'" }),
    ]);
  });

  it("queues the valid outputs and lists the invalid ones in node_errors", async () => {
    const prompt = { "1": empty(), "2": save(["1", 0]), "3": { class_type: "PreviewImage", inputs: {} } };
    const reply = await postJson(sim, "/prompt", { prompt });
    expect(reply.status).toBe(200);
    expect(Object.keys(reply.json.node_errors as object)).toEqual(["3"]);
    const promptId = reply.json.prompt_id as string;
    await expect.poll(() => sim.queue().running.length + sim.queue().pending.length).toBe(0);
    const history = (await (await fetch(`${sim.url}/history/${promptId}`)).json()) as Record<
      string,
      { prompt: unknown[] }
    >;
    expect(history[promptId]?.prompt[4]).toEqual(["2"]);
  });
});
