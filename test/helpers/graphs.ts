/** Demo graphs with no Worker imports, for the Worker tests and the end-to-end tests alike. */

/** LoadImage → ImageInvert → SaveImage, in ComfyUI's API format. */
export const invertGraph = {
  "1": { class_type: "LoadImage", inputs: { image: "example.png" } },
  "2": { class_type: "ImageInvert", inputs: { image: ["1", 0] } },
  "3": { class_type: "SaveImage", inputs: { images: ["2", 0], filename_prefix: "invert" } },
};

/**
 * ComfyDeploy external-input nodes: `input_image` (required, no default), `prefix` (text, default
 * "invert") and `seed` (integer, default 42).
 */
export const externalGraph = {
  "1": {
    class_type: "ComfyUIDeployExternalImage",
    inputs: { input_id: "input_image", default_value_url: "" },
  },
  "2": { class_type: "ImageInvert", inputs: { image: ["1", 0] } },
  "3": { class_type: "SaveImage", inputs: { images: ["2", 0], filename_prefix: ["4", 0] } },
  "4": {
    class_type: "ComfyUIDeployExternalText",
    inputs: { input_id: "prefix", default_value: "invert", description: "File name prefix" },
  },
  "5": { class_type: "ComfyUIDeployExternalSeed", inputs: { input_id: "seed", default_value: 42 } },
};
