import { describe, expect, it } from "vitest";
import objectInfo from "../../fixtures/comfyui-traces/object_info_full.json";
import {
  distinctModels,
  mergeModelInputs,
  modelInputsOf,
  modelsNamedBy,
} from "../../src/lib/graph/model-files";
import type { NodeDefinitions } from "../../src/lib/graph/ui";
import type { ApiGraph } from "../../src/protocol/graph";

const folders = (files: Record<string, string[]>) =>
  new Map(Object.entries(files).map(([folder, names]) => [folder, new Set(names)]));

/** The recorded definitions with the core loaders' lists filled as ComfyUI fills them from its folders. */
function definitionsFor(files: Record<string, string[]>, extra: NodeDefinitions = {}): NodeDefinitions {
  const set = structuredClone(objectInfo) as unknown as NodeDefinitions;
  const required = (cls: string) => set[cls]?.input?.required as Record<string, unknown[]>;
  required("CheckpointLoaderSimple").ckpt_name = [files.checkpoints ?? [], {}];
  required("LoraLoader").lora_name = [files.loras ?? [], {}];
  required("VAELoader").vae_name = [[...(files.vae ?? []), "pixel_space"]];
  return { ...set, ...extra };
}

/** A custom node (not a core loader) whose list is the loras folder, in ComfyUI's newer COMBO form. */
const styleStack = (loras: string[]): NodeDefinitions => ({
  StyleStack: {
    input: {
      required: {
        style: ["COMBO", { options: loras }],
        mode: [["add", "multiply"]],
        strength: ["FLOAT", { default: 1 }],
      },
    },
    output: ["MODEL"],
  },
});

const graph = (nodes: Record<string, [string, Record<string, unknown>]>): ApiGraph =>
  Object.fromEntries(Object.entries(nodes).map(([id, [class_type, inputs]]) => [id, { class_type, inputs }]));

describe("which inputs name model files", () => {
  it("finds the core loaders and a custom node by the folder their list matches", () => {
    const files = {
      checkpoints: ["sd15.safetensors", "sdxl/base.safetensors"],
      loras: ["style-a.safetensors", "style-b.pt"],
      vae: ["ft-mse.safetensors"],
    };
    const inputs = modelInputsOf(definitionsFor(files, styleStack(files.loras)), folders(files));
    expect(inputs.get("CheckpointLoaderSimple")?.get("ckpt_name")?.folder).toBe("checkpoints");
    expect(inputs.get("StyleStack")?.get("style")?.folder).toBe("loras");
    expect(inputs.get("StyleStack")?.has("mode")).toBe(false);
    expect(inputs.get("KSampler")).toBeUndefined();
    expect(inputs.get("VAELoader")?.get("vae_name")).toEqual({
      folder: "vae",
      notFiles: new Set(["pixel_space"]),
    });

    const named = modelsNamedBy(
      graph({
        "1": ["CheckpointLoaderSimple", { ckpt_name: "sdxl/base.safetensors" }],
        "2": ["StyleStack", { style: "style-b.pt", mode: "add", strength: 1 }],
        "3": ["VAELoader", { vae_name: "pixel_space" }],
        "4": ["LoraLoader", { lora_name: ["9", 0], model: ["1", 0] }],
        "5": ["KSampler", { sampler_name: "euler", steps: 20 }],
      }),
      inputs,
    );
    expect(named).toEqual([
      { folder: "checkpoints", name: "sdxl/base.safetensors", nodeId: "1", input: "ckpt_name" },
      { folder: "loras", name: "style-b.pt", nodeId: "2", input: "style" },
    ]);
  });

  it("names a file the machines lack, so the run can be refused by it", () => {
    const files = { checkpoints: ["sd15.safetensors"] };
    const inputs = modelInputsOf(definitionsFor(files), folders(files));
    const named = modelsNamedBy(
      graph({ "1": ["CheckpointLoaderSimple", { ckpt_name: "missing.safetensors" }] }),
      inputs,
    );
    expect(named).toEqual([
      { folder: "checkpoints", name: "missing.safetensors", nodeId: "1", input: "ckpt_name" },
    ]);
  });

  it("falls back to the core loaders' folders without definitions or with an empty folder", () => {
    const none = modelInputsOf(undefined, folders({}));
    expect(none.get("CheckpointLoaderSimple")?.get("ckpt_name")?.folder).toBe("checkpoints");
    expect(none.get("UNETLoader")?.get("unet_name")?.folder).toBe("diffusion_models");
    expect(none.get("DualCLIPLoader")?.get("clip_name2")?.folder).toBe("text_encoders");
    // VAELoader's built-in decoders are not files, in either case.
    const empty = modelInputsOf(definitionsFor({}), folders({}));
    const named = modelsNamedBy(
      graph({
        "1": ["VAELoader", { vae_name: "pixel_space" }],
        "2": ["VAELoader", { vae_name: "taesd" }],
        "3": ["CheckpointLoaderSimple", { ckpt_name: "x.ckpt" }],
      }),
      mergeModelInputs([none, empty]),
    );
    expect(named).toEqual([{ folder: "checkpoints", name: "x.ckpt", nodeId: "3", input: "ckpt_name" }]);
  });

  it("ignores values that are not file names: links, numbers, empty strings, lists of another kind", () => {
    const files = { checkpoints: ["a.safetensors"], loras: ["a.safetensors"] };
    const inputs = modelInputsOf(definitionsFor(files, styleStack(["a.safetensors"])), folders(files));
    const named = modelsNamedBy(
      graph({
        "1": ["CheckpointLoaderSimple", { ckpt_name: 7 }],
        "2": ["CheckpointLoaderSimple", { ckpt_name: "" }],
        "3": ["CheckpointLoaderSimple", { ckpt_name: ["1", 0] }],
        "4": ["KSampler", { scheduler: "a.safetensors" }],
        "5": ["NoSuchNode", { ckpt_name: "a.safetensors" }],
      }),
      inputs,
    );
    expect(named).toEqual([]);
  });

  it("merges instances: a value is a file unless one of them offers it as something else", () => {
    const first = modelInputsOf(
      definitionsFor({ vae: ["a.safetensors"] }),
      folders({ vae: ["a.safetensors"] }),
    );
    const second = modelInputsOf(
      definitionsFor({}, { VAELoader: { input: { required: { vae_name: [["taesdxl"]] } } } }),
      folders({}),
    );
    const merged = mergeModelInputs([first, second]);
    expect(merged.get("VAELoader")?.get("vae_name")?.notFiles).toEqual(new Set(["pixel_space", "taesdxl"]));
  });

  it("lists each file once, in a canonical order", () => {
    expect(
      distinctModels([
        { folder: "loras", name: "b" },
        { folder: "checkpoints", name: "z" },
        { folder: "loras", name: "b" },
        { folder: "loras", name: "a" },
      ]),
    ).toEqual([
      { folder: "checkpoints", name: "z" },
      { folder: "loras", name: "a" },
      { folder: "loras", name: "b" },
    ]);
  });
});
