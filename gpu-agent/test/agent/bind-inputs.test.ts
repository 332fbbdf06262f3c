import { describe, expect, it } from "vitest";
import type { ApiGraph, InputBinding } from "../../../src/protocol/graph";
import { bindInputs, planInputs } from "../../src/inputs/bind-inputs";

const binding = (over: Partial<InputBinding> & Pick<InputBinding, "input_id" | "node_id">): InputBinding => ({
  type: "string",
  binding: "node_input",
  input_name: "text",
  class_type: "CLIPTextEncode",
  required: false,
  ...over,
});

const graph = (): ApiGraph => ({
  "1": { class_type: "ComfyUIDeployExternalText", inputs: { input_id: "prompt", default_value: "a cat" } },
  "2": { class_type: "CLIPTextEncode", inputs: { text: ["1", 0], clip: ["4", 1] } },
  "3": { class_type: "CLIPTextEncode", inputs: { text: ["1", 0], clip: ["4", 1] } },
  "4": { class_type: "CheckpointLoaderSimple", inputs: { ckpt_name: "x.safetensors" } },
  "5": { class_type: "ComfyUIDeployExternalImage", inputs: { input_id: "photo" }, _meta: { title: "Photo" } },
  "6": { class_type: "ImageInvert", inputs: { image: ["5", 0] } },
  "7": { class_type: "KSampler", inputs: { seed: 1, steps: 20 } },
});

describe("planInputs", () => {
  it("takes the control plane's resolved values and files as they are", () => {
    const plan = planInputs({
      inputs: { seed: 42, steps: 8, prompt: "a cat" },
      input_urls: { photo: "https://r2.example/signed", mask: "mask.png" },
    });
    expect(Object.fromEntries(plan.values)).toEqual({ seed: 42, steps: 8, prompt: "a cat" });
    expect(Object.fromEntries(plan.files)).toEqual({ photo: "https://r2.example/signed", mask: "mask.png" });
  });
});

describe("bindInputs", () => {
  it("writes node_input values and leaves the original graph alone", () => {
    const original = graph();
    const bound = bindInputs(
      original,
      [binding({ input_id: "seed", node_id: "7", input_name: "seed", type: "integer" })],
      new Map([["seed", 42]]),
    );
    expect(bound["7"]?.inputs).toEqual({ seed: 42, steps: 20 });
    expect(original["7"]?.inputs.seed).toBe(1);
  });

  it("lowers a scalar external node into every input linked to it and removes the node", () => {
    const bound = bindInputs(
      graph(),
      [binding({ input_id: "prompt", node_id: "1", binding: "external_node" })],
      new Map([["prompt", "a dog"]]),
    );
    expect(bound["1"]).toBeUndefined();
    expect(bound["2"]?.inputs).toEqual({ text: "a dog", clip: ["4", 1] });
    expect(bound["3"]?.inputs.text).toBe("a dog");
  });

  it("turns an external image node into LoadImage of the uploaded file, keeping links", () => {
    const bound = bindInputs(
      graph(),
      [binding({ input_id: "photo", node_id: "5", type: "image", binding: "external_node" })],
      new Map([["photo", "ce/run1_photo.png"]]),
    );
    expect(bound["5"]).toEqual({
      class_type: "LoadImage",
      inputs: { image: "ce/run1_photo.png" },
      _meta: { title: "Photo" },
    });
    expect(bound["6"]?.inputs.image).toEqual(["5", 0]);
  });

  it("rewires consumers to what feeds an external node's default when it has no value", () => {
    const g = graph();
    g["1"] = {
      class_type: "ComfyUIDeployExternalText",
      inputs: { input_id: "prompt", default_value: ["9", 0] },
    };
    g["9"] = { class_type: "PrimitiveString", inputs: { value: "upstream" } };
    const bound = bindInputs(
      g,
      [binding({ input_id: "prompt", node_id: "1", binding: "external_node" })],
      new Map(),
    );
    expect(bound["1"]).toBeUndefined();
    expect(bound["2"]?.inputs.text).toEqual(["9", 0]);
  });

  it("fails clearly for a missing node or an external node with nothing to use", () => {
    expect(() =>
      bindInputs(graph(), [binding({ input_id: "x", node_id: "99" })], new Map([["x", 1]])),
    ).toThrow(/node 99/);
    expect(() =>
      bindInputs(
        graph(),
        [binding({ input_id: "photo", node_id: "5", binding: "external_node" })],
        new Map(),
      ),
    ).toThrow(/no value/);
  });
});
