// Subgraph cases, written out whole: the document and the API export the editor makes of it.
/** A link as schema 1 documents write it (an object, not the array of older documents). */
export const link = (id, origin_id, origin_slot, target_id, target_slot, type) => ({
  id,
  origin_id,
  origin_slot,
  target_id,
  target_slot,
  type,
});
const slot = (name, type, link = null, widget) => ({
  name,
  type,
  link,
  ...(widget ? { widget: { name } } : {}),
});
const out = (name, type, links) => ({ name, type, links });
const node = (id, type, inputs, outputs, widgets_values = [], extra = {}) => ({
  id,
  type,
  pos: [0, 0],
  size: [300, 100],
  flags: {},
  order: 0,
  mode: 0,
  inputs,
  outputs,
  properties: {},
  widgets_values,
  ...extra,
});
const subgraph = (id, name, inputs, outputs, nodes, links) => ({
  id,
  version: 1,
  state: { lastGroupId: 0, lastNodeId: nodes.length, lastLinkId: links.length, lastRerouteId: 0 },
  revision: 0,
  config: {},
  name,
  inputNode: { id: -10, bounding: [0, 0, 120, 60] },
  outputNode: { id: -20, bounding: [600, 0, 120, 60] },
  inputs,
  outputs,
  widgets: [],
  nodes,
  groups: [],
  links,
  extra: {},
});
const io = (name, type, linkIds) => ({ id: `${name}-${type}`, name, type, linkIds });

const SIMPLE = "0f5a3c1e-1b2d-4c3e-8f9a-000000000001";
const OUTER = "0f5a3c1e-1b2d-4c3e-8f9a-000000000002";
const INNER = "0f5a3c1e-1b2d-4c3e-8f9a-000000000003";

export const subgraphCases = {
  subgraph_basic: {
    ui: {
      version: 0.4,
      last_node_id: 3,
      last_link_id: 2,
      nodes: [
        node(
          1,
          "LoadImage",
          [],
          [out("IMAGE", "IMAGE", [1]), out("MASK", "MASK", [])],
          ["example.png", "image"],
        ),
        node(2, SIMPLE, [slot("image", "IMAGE", 1)], [out("IMAGE", "IMAGE", [2])], [], {
          title: "Invert and blur",
        }),
        node(3, "SaveImage", [slot("images", "IMAGE", 2)], [], ["sub"]),
      ],
      links: [
        [1, 1, 0, 2, 0, "IMAGE"],
        [2, 2, 0, 3, 0, "IMAGE"],
      ],
      definitions: {
        subgraphs: [
          subgraph(
            SIMPLE,
            "Invert and blur",
            [io("image", "IMAGE", [1])],
            [io("IMAGE", "IMAGE", [3])],
            [
              node(1, "ImageInvert", [slot("image", "IMAGE", 1)], [out("IMAGE", "IMAGE", [2])]),
              node(2, "ImageBlur", [slot("image", "IMAGE", 2)], [out("IMAGE", "IMAGE", [3])], [4, 1]),
            ],
            [link(1, -10, 0, 1, 0, "IMAGE"), link(2, 1, 0, 2, 0, "IMAGE"), link(3, 2, 0, -20, 0, "IMAGE")],
          ),
        ],
      },
      groups: [],
      config: {},
      extra: {},
    },
    api: {
      1: { inputs: { image: "example.png" }, class_type: "LoadImage", _meta: { title: "Load Image" } },
      "2:1": { inputs: { image: ["1", 0] }, class_type: "ImageInvert", _meta: { title: "Invert Image" } },
      "2:2": {
        inputs: { blur_radius: 4, sigma: 1, image: ["2:1", 0] },
        class_type: "ImageBlur",
        _meta: { title: "ImageBlur" },
      },
      3: {
        inputs: { filename_prefix: "sub", images: ["2:2", 0] },
        class_type: "SaveImage",
        _meta: { title: "Save Image" },
      },
    },
  },
  subgraph_nested_promoted_widget: {
    ui: {
      version: 0.4,
      last_node_id: 6,
      last_link_id: 1,
      nodes: [
        node(5, OUTER, [slot("blur_radius", "INT", null, true)], [out("IMAGE", "IMAGE", [1])], [7]),
        node(6, "SaveImage", [slot("images", "IMAGE", 1)], [], ["nested"]),
      ],
      links: [[1, 5, 0, 6, 0, "IMAGE"]],
      definitions: {
        subgraphs: [
          subgraph(
            OUTER,
            "Blurred canvas",
            [io("blur_radius", "INT", [2])],
            [io("IMAGE", "IMAGE", [3])],
            [
              node(1, "EmptyImage", [], [out("IMAGE", "IMAGE", [1])], [64, 64, 1, 0]),
              node(
                2,
                INNER,
                [slot("image", "IMAGE", 1), slot("blur_radius", "INT", 2, true)],
                [out("IMAGE", "IMAGE", [3])],
                [1],
              ),
            ],
            [link(1, 1, 0, 2, 0, "IMAGE"), link(2, -10, 0, 2, 1, "INT"), link(3, 2, 0, -20, 0, "IMAGE")],
          ),
          subgraph(
            INNER,
            "Blur",
            [io("image", "IMAGE", [1]), io("blur_radius", "INT", [2])],
            [io("IMAGE", "IMAGE", [3])],
            [
              node(
                1,
                "ImageBlur",
                [slot("image", "IMAGE", 1), slot("blur_radius", "INT", 2, true)],
                [out("IMAGE", "IMAGE", [3])],
                [1, 1],
              ),
            ],
            [link(1, -10, 0, 1, 0, "IMAGE"), link(2, -10, 1, 1, 1, "INT"), link(3, 1, 0, -20, 0, "IMAGE")],
          ),
        ],
      },
      groups: [],
      config: {},
      extra: {},
    },
    api: {
      "5:1": {
        inputs: { width: 64, height: 64, batch_size: 1, color: 0 },
        class_type: "EmptyImage",
        _meta: { title: "EmptyImage" },
      },
      "5:2:1": {
        inputs: { image: ["5:1", 0], blur_radius: 7, sigma: 1 },
        class_type: "ImageBlur",
        _meta: { title: "ImageBlur" },
      },
      6: {
        inputs: { filename_prefix: "nested", images: ["5:2:1", 0] },
        class_type: "SaveImage",
        _meta: { title: "Save Image" },
      },
    },
  },
};
