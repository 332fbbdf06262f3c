import { describe, expect, it } from "vitest";
import type { ApiGraph } from "../../../src/protocol/graph";
import { markOutputNodes, outputNodeClasses, PROMPT_MARK } from "../../src/comfy/fresh-outputs";

/** An output node (PassThroughSave) that also feeds another one, and a sink that is no output node. */
const graph = (): ApiGraph => ({
  "1": { class_type: "EmptyImage", inputs: { width: 8, height: 8, batch_size: 1, color: 0 } },
  "2": { class_type: "PassThroughSave", inputs: { images: ["1", 0], filename_prefix: "a" } },
  "3": { class_type: "SaveImage", inputs: { images: ["2", 0], filename_prefix: "b" } },
  "4": { class_type: "ImageInvert", inputs: { image: ["1", 0] } },
});

const marked = (result: ApiGraph) =>
  Object.entries(result)
    .filter(([, node]) => PROMPT_MARK in node.inputs)
    .map(([id, node]) => [id, node.inputs[PROMPT_MARK]]);

describe("markOutputNodes", () => {
  it("gives the prompt id to the classes /object_info calls output nodes, and to nothing else", () => {
    const original = graph();
    const definitions = {
      EmptyImage: { output_node: false },
      PassThroughSave: { output_node: true },
      SaveImage: { output_node: true },
      ImageInvert: { output_node: false },
    };
    const result = markOutputNodes(original, "prompt-1", outputNodeClasses(definitions));
    expect(marked(result)).toEqual([
      ["2", "prompt-1"],
      ["3", "prompt-1"],
    ]);
    expect(result["3"]?.inputs).toEqual({
      images: ["2", 0],
      filename_prefix: "b",
      [PROMPT_MARK]: "prompt-1",
    });
    expect(original).toEqual(graph());
  });

  it("marks the nodes nothing reads from when /object_info is unknown", () => {
    expect(marked(markOutputNodes(graph(), "prompt-2", undefined))).toEqual([
      ["3", "prompt-2"],
      ["4", "prompt-2"],
    ]);
  });
});
