import { describe, expect, it } from "vitest";
import { AppError } from "../../src/lib/errors";
import { deriveInputSpec, graphFormat, normaliseGraph, validateRunInputs } from "../../src/lib/graph";
import type { ApiGraph } from "../../src/protocol/graph";
import { externalGraph, invertGraph } from "../helpers/fixtures";

function failure(fn: () => unknown): AppError {
  try {
    fn();
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
  throw new Error("expected an AppError");
}

const fields = (fn: () => unknown) => failure(fn).details.map((d) => d.field);

describe("normaliseGraph", () => {
  it("keeps an API-format graph, its _meta, and drops unknown node keys", () => {
    const graph = normaliseGraph({
      ...invertGraph,
      "9": { class_type: "PreviewImage", inputs: { images: ["2", 0] }, _meta: { title: "Look" }, extra: 1 },
    });
    expect(graph["2"]).toEqual({ class_type: "ImageInvert", inputs: { image: ["1", 0] } });
    expect(graph["9"]).toEqual({
      class_type: "PreviewImage",
      inputs: { images: ["2", 0] },
      _meta: { title: "Look" },
    });
  });

  it("turns seed 004's typed list into the API format", () => {
    const typed = {
      nodes: {
        "1": {
          id: "1",
          class_type: "CheckpointLoaderSimple",
          inputs: [{ name: "ckpt_name", type: "STRING", value: "v1-5.ckpt", required: true }],
        },
        "2": {
          id: "2",
          class_type: "CLIPTextEncode",
          inputs: [
            { name: "text", type: "STRING", value: "a cat", required: true },
            { name: "clip", type: "CLIP", value: ["1", 1], required: true },
            { name: "optional_thing", type: "STRING", required: false },
          ],
        },
      },
      metadata: { description: "x" },
    };
    expect(graphFormat(typed)).toBe("typed_list");
    expect(normaliseGraph(typed)).toEqual({
      "1": { class_type: "CheckpointLoaderSimple", inputs: { ckpt_name: "v1-5.ckpt" } },
      "2": { class_type: "CLIPTextEncode", inputs: { text: "a cat", clip: ["1", 1] } },
    });
    const list = { nodes: [{ id: "7", class_type: "EmptyImage", inputs: [{ name: "width", value: 8 }] }] };
    expect(normaliseGraph(list)).toEqual({ "7": { class_type: "EmptyImage", inputs: { width: 8 } } });
  });

  it("refuses ComfyUI's UI format with a hint", () => {
    const ui = { nodes: [{ id: 1, type: "LoadImage" }], links: [] };
    expect(graphFormat(ui)).toBe("ui");
    const err = failure(() => normaliseGraph(ui));
    expect(err.details[0]).toMatchObject({ code: "UNSUPPORTED_FORMAT", field: "workflow_api" });
  });

  it("names each bad field", () => {
    const bad = {
      "1": { inputs: {} },
      "2": { class_type: "X", inputs: "nope" },
      "3": "not a node",
      "4": { class_type: "Y", inputs: {}, _meta: "title" },
    };
    expect(fields(() => normaliseGraph(bad))).toEqual([
      "workflow_api.1.class_type",
      "workflow_api.2.inputs",
      "workflow_api.3",
      "workflow_api.4._meta",
    ]);
    expect(
      fields(() => normaliseGraph({ nodes: { "1": { class_type: "A", inputs: [{ value: 1 }] } } })),
    ).toEqual(["workflow_api.nodes.1.inputs.0.name"]);
    expect(fields(() => normaliseGraph({}))).toEqual(["workflow_api"]);
    expect(fields(() => normaliseGraph([1, 2]))).toEqual(["workflow_api"]);
    expect(failure(() => normaliseGraph(undefined)).details[0]?.code).toBe("REQUIRED_FIELD");
  });

  it("checks links: target exists, string ids, valid output index", () => {
    const graph = {
      "3": { class_type: "KSampler", inputs: { model: ["4", 0], positive: [5, 0], negative: ["5", -1] } },
      "5": { class_type: "CLIPTextEncode", inputs: { text: "x" } },
    };
    const err = failure(() => normaliseGraph(graph));
    expect(err.details.map((d) => [d.field, d.code])).toEqual([
      ["workflow_api.3.inputs.model", "INVALID_LINK"],
      ["workflow_api.3.inputs.positive", "INVALID_LINK"],
      ["workflow_api.3.inputs.negative", "INVALID_LINK"],
    ]);
    expect(err.details[1]?.message).toContain('["5", 0]');
  });

  it("finds cycles, self-links included, and survives deep chains", () => {
    const cyclic = {
      "1": { class_type: "A", inputs: { x: ["3", 0] } },
      "2": { class_type: "B", inputs: { x: ["1", 0] } },
      "3": { class_type: "C", inputs: { x: ["2", 0] } },
    };
    const err = failure(() => normaliseGraph(cyclic));
    expect(err.details[0]).toMatchObject({ code: "CYCLE" });
    expect(err.details[0]?.message).toMatch(/1 → 3 → 2 → 1/);
    expect(fields(() => normaliseGraph({ "1": { class_type: "A", inputs: { x: ["1", 0] } } }))).toEqual([
      "workflow_api.1.inputs.x",
    ]);
    const chain: Record<string, unknown> = { "0": { class_type: "Start", inputs: {} } };
    for (let i = 1; i < 20_000; i++)
      chain[String(i)] = { class_type: "Step", inputs: { x: [String(i - 1), 0] } };
    expect(Object.keys(normaliseGraph(chain))).toHaveLength(20_000);
  });

  it("stores odd ids such as __proto__ as plain keys", () => {
    const raw = JSON.parse('{"__proto__": {"class_type": "A", "inputs": {"__proto__": 1}}}');
    const graph = normaliseGraph(raw);
    expect(Object.keys(graph)).toEqual(["__proto__"]);
    expect(Object.getPrototypeOf(graph)).toBe(Object.prototype);
    expect(JSON.stringify(graph)).toBe('{"__proto__":{"class_type":"A","inputs":{"__proto__":1}}}');
  });

  it("requires unique input_ids on external-input nodes", () => {
    const graph = {
      "1": { class_type: "ComfyUIDeployExternalText", inputs: { input_id: "p", default_value: "a" } },
      "2": { class_type: "ComfyUIDeployExternalText", inputs: { input_id: "p", default_value: "b" } },
      "3": { class_type: "ComfyUIDeployExternalNumber", inputs: { default_value: 1 } },
    };
    expect(fields(() => normaliseGraph(graph))).toEqual([
      "workflow_api.2.inputs.input_id",
      "workflow_api.3.inputs.input_id",
    ]);
  });
});

describe("deriveInputSpec", () => {
  it("maps ComfyDeploy external nodes to typed inputs", () => {
    const spec = deriveInputSpec(normaliseGraph(externalGraph));
    expect(spec).toEqual([
      {
        input_id: "input_image",
        type: "image",
        binding: "external_node",
        node_id: "1",
        input_name: "default_value_url",
        class_type: "ComfyUIDeployExternalImage",
        required: true,
      },
      {
        input_id: "prefix",
        type: "string",
        binding: "external_node",
        node_id: "4",
        input_name: "default_value",
        class_type: "ComfyUIDeployExternalText",
        required: false,
        default: "invert",
        description: "File name prefix",
      },
      {
        input_id: "seed",
        type: "integer",
        binding: "external_node",
        node_id: "5",
        input_name: "default_value",
        class_type: "ComfyUIDeployExternalSeed",
        required: false,
        default: 42,
      },
    ]);
  });

  it("reads enums, sliders, booleans, media and unknown external kinds", () => {
    const graph: ApiGraph = {
      a: {
        class_type: "ComfyUIDeployExternalEnum",
        inputs: { input_id: "style", default_value: "x", options: '["x","y"]' },
      },
      b: {
        class_type: "ComfyUIDeployExternalNumberSlider",
        inputs: { input_id: "cfg", default_value: 7.5, min_value: 1, max_value: 20 },
      },
      c: { class_type: "ComfyUIDeployExternalBoolean", inputs: { input_id: "hd", default_value: true } },
      d: {
        class_type: "ComfyUIDeployExternalVideo",
        inputs: { input_id: "clip", default_value: "https://x.test/a.mp4" },
      },
      e: {
        class_type: "ComfyUIDeployExternalLora",
        inputs: { input_id: "lora", default_lora_name: "a.safetensors" },
      },
      f: { class_type: "ComfyUIDeployExternalSomethingNew", inputs: { input_id: "n", default_value: 3 } },
    };
    const byId = Object.fromEntries(deriveInputSpec(graph).map((b) => [b.input_id, b]));
    expect(byId.style).toMatchObject({ type: "enum", enum_values: ["x", "y"], default: "x" });
    expect(byId.cfg).toMatchObject({ type: "number", min: 1, max: 20, default: 7.5 });
    expect(byId.hd).toMatchObject({ type: "boolean", default: true });
    expect(byId.clip).toMatchObject({ type: "file", input_name: "default_value", required: false });
    expect(byId.lora).toMatchObject({ type: "string", input_name: "default_lora_name" });
    expect(byId.n).toMatchObject({ type: "integer", default: 3 });
  });

  it("adds explicit bindings, inferring type and default from the graph", () => {
    const graph = normaliseGraph({
      ...invertGraph,
      "4": { class_type: "KSampler", inputs: { steps: 20, cfg: 7 } },
    });
    const spec = deriveInputSpec(graph, [
      { input_id: "image", node_id: "1", input_name: "image" },
      { input_id: "steps", node_id: "4", input_name: "steps", max: 50 },
      { input_id: "cfg", node_id: "4", input_name: "cfg", type: "number", default: "6.5" },
    ]);
    expect(spec.map((b) => [b.input_id, b.type, b.default, b.binding])).toEqual([
      ["image", "image", "example.png", "node_input"],
      ["steps", "integer", 20, "node_input"],
      ["cfg", "number", 6.5, "node_input"],
    ]);
  });

  it("rejects bad explicit bindings, naming each", () => {
    const graph = normaliseGraph(externalGraph);
    const err = failure(() =>
      deriveInputSpec(graph, [
        { input_id: "prefix", node_id: "3", input_name: "filename_prefix" },
        { input_id: "a", node_id: "99", input_name: "x" },
        { input_id: "b", node_id: "3", input_name: "nope" },
        { input_id: "c", node_id: "3", input_name: "images" },
        { input_id: "d", node_id: "5", input_name: "default_value", type: "boolean" },
      ]),
    );
    expect(err.details.map((d) => d.field)).toEqual([
      "inputs.0.input_id",
      "inputs.1.node_id",
      "inputs.2.input_name",
      "inputs.3.input_name",
      "inputs.4.default",
    ]);
  });
});

describe("validateRunInputs", () => {
  const spec = deriveInputSpec(normaliseGraph(externalGraph));

  it("fills defaults and coerces what ComfyDeploy clients send as strings", () => {
    expect(validateRunInputs(spec, { input_image: "https://example.com/cat.png", seed: "7" })).toEqual({
      input_image: "https://example.com/cat.png",
      prefix: "invert",
      seed: 7,
    });
    for (const image of [
      "data:image/png;base64,iVBORw0KGgo=",
      "5f0c2d1e-8a7b-4c3d-9e2f-1a0b9c8d7e6f",
      "cat.png",
    ]) {
      expect(validateRunInputs(spec, { input_image: image }).input_image).toBe(image);
    }
  });

  it("names every bad input: unknown, wrong type, missing", () => {
    const err = failure(() => validateRunInputs(spec, { colour: "red", prefix: 5, seed: "seven" }));
    expect(err.code).toBe("validation_error");
    expect(err.details.map((d) => [d.field, d.code])).toEqual([
      ["inputs.colour", "UNKNOWN_FIELD"],
      ["inputs.input_image", "REQUIRED_FIELD"],
      ["inputs.prefix", "INVALID_VALUE"],
      ["inputs.seed", "INVALID_VALUE"],
    ]);
  });

  it("refuses images that are neither URLs, data URIs nor file ids", () => {
    for (const bad of ["../etc/passwd", "file:///etc/passwd", "/abs/path.png", "javascript:alert(1)", 42]) {
      expect(fields(() => validateRunInputs(spec, { input_image: bad }))).toEqual(["inputs.input_image"]);
    }
  });

  it("checks ranges, enums and booleans", () => {
    const graph: ApiGraph = {
      a: {
        class_type: "ComfyUIDeployExternalEnum",
        inputs: { input_id: "style", default_value: "x", options: ["x", "y"] },
      },
      b: {
        class_type: "ComfyUIDeployExternalNumberInt",
        inputs: { input_id: "n", default_value: 2, min_value: 1, max_value: 4 },
      },
      c: { class_type: "ComfyUIDeployExternalBoolean", inputs: { input_id: "hd", default_value: false } },
    };
    const ranged = deriveInputSpec(graph);
    expect(validateRunInputs(ranged, { style: "y", n: "4", hd: "true" })).toEqual({
      style: "y",
      n: 4,
      hd: true,
    });
    expect(fields(() => validateRunInputs(ranged, { style: "z", n: 5, hd: "yes" }))).toEqual([
      "inputs.style",
      "inputs.n",
      "inputs.hd",
    ]);
    expect(fields(() => validateRunInputs(ranged, { n: 1.5 }))).toEqual(["inputs.n"]);
  });
});
