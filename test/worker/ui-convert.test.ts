/// <reference types="vite/client" />
import { describe, expect, it } from "vitest";
import objectInfo from "../../fixtures/comfyui-traces/object_info_full.json";
import type { AppError } from "../../src/lib/errors";
import { normaliseGraph } from "../../src/lib/graph";
import { COMFYDEPLOY_DEFINITIONS, type NodeDefinitions, uiToApi } from "../../src/lib/graph/ui";

const definitions = { ...COMFYDEPLOY_DEFINITIONS, ...(objectInfo as unknown as NodeDefinitions) };
const documents = import.meta.glob<Record<string, unknown>>("../../fixtures/ui-workflows/*.ui.json", {
  eager: true,
  import: "default",
});
const references = import.meta.glob<Record<string, unknown>>("../../fixtures/ui-workflows/*.api.json", {
  eager: true,
  import: "default",
});
const pairs = Object.entries(documents).map(([path, ui]) => {
  const name = path.replace(/^.*\//, "").replace(/\.ui\.json$/, "");
  return { name, ui, api: references[path.replace(/\.ui\.json$/, ".api.json")] };
});

const clone = <T>(value: T): T => structuredClone(value);

function conversionFailure(run: () => unknown) {
  try {
    run();
  } catch (error) {
    return (error as AppError).details?.[0];
  }
  throw new Error("expected the conversion to fail");
}

describe("UI → API conversion against the reference corpus", () => {
  it("has at least 20 reference pairs", () => {
    expect(pairs.length).toBeGreaterThanOrEqual(20);
    for (const pair of pairs) expect(pair.api, pair.name).toBeDefined();
  });

  it.each(pairs.map((p) => [p.name, p] as const))("%s converts to its reference export", (_name, pair) => {
    const converted = uiToApi(clone(pair.ui), definitions);
    expect(converted).toEqual(pair.api);
    expect(normaliseGraph(converted)).toEqual(converted);
  });
});

describe("UI → API conversion errors", () => {
  const base = () =>
    clone(documents["../../fixtures/ui-workflows/load_invert_save.ui.json"]!) as {
      nodes: { id: number; type: string; widgets_values?: unknown }[];
    };

  it("names a node whose class no definition has", () => {
    const doc = base();
    doc.nodes[1]!.type = "ImageInvertPro";
    const failure = conversionFailure(() => uiToApi(doc, definitions));
    expect(failure).toMatchObject({ code: "UNCONVERTIBLE_NODE", field: "workflow.nodes.2" });
    expect(failure?.message).toContain("Node 2 (ImageInvertPro)");
    expect(failure?.message).toContain("no machine of this pool reports this node class");
  });

  it("names a node whose widget values do not fit its definition", () => {
    const doc = base();
    doc.nodes[2]!.widgets_values = ["invert", "extra", "more"];
    const failure = conversionFailure(() => uiToApi(doc, definitions));
    expect(failure?.field).toBe("workflow.nodes.3");
    expect(failure?.message).toMatch(
      /Node 3 \(SaveImage\): it has 3 widget values; its definition has 1 widgets/,
    );
  });

  it("refuses group nodes with a hint", () => {
    const doc = base();
    doc.nodes[1]!.type = "workflow>Invert";
    expect(conversionFailure(() => uiToApi(doc, definitions))?.message).toContain("subgraph");
  });

  it("fails on a reroute loop instead of recursing forever", () => {
    const doc = {
      nodes: [
        { id: 1, type: "Reroute", inputs: [{ name: "", type: "*", link: 2 }], outputs: [{ type: "*" }] },
        { id: 2, type: "Reroute", inputs: [{ name: "", type: "*", link: 1 }], outputs: [{ type: "*" }] },
        {
          id: 3,
          type: "PreviewImage",
          inputs: [{ name: "images", type: "IMAGE", link: 3 }],
          widgets_values: [],
        },
      ],
      links: [
        [1, 1, 0, 2, 0, "*"],
        [2, 2, 0, 1, 0, "*"],
        [3, 2, 0, 3, 0, "IMAGE"],
      ],
    };
    expect(conversionFailure(() => uiToApi(doc, definitions))?.message).toContain("loop");
  });

  it("refuses a subgraph that contains itself", () => {
    const id = "5e1f0000-0000-4000-8000-000000000001";
    const doc = {
      nodes: [{ id: 1, type: id, inputs: [], outputs: [] }],
      links: [],
      definitions: { subgraphs: [{ id, nodes: [{ id: 1, type: id, inputs: [], outputs: [] }], links: [] }] },
    };
    const failure = conversionFailure(() => uiToApi(doc, definitions));
    expect(failure).toMatchObject({ field: "workflow.nodes.1:1" });
    expect(failure?.message).toContain("contains itself");
  });

  it("reads widget values saved by name", () => {
    const doc = base();
    doc.nodes[2]!.widgets_values = { filename_prefix: "named" };
    expect(uiToApi(doc, definitions)["3"]?.inputs.filename_prefix).toBe("named");
  });
});
