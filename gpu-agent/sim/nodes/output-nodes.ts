import type { FolderType } from "../files";
import { encodePng } from "../image/png";
import { pyJson } from "../py-json";
import { describeValue } from "./describe-value";
import { saveImagePath } from "./save-path";
import { describeNode, type Images, type NodeContext, type NodeDefinition, type NodeResult } from "./types";

const IMAGE_HIDDEN = { prompt: "PROMPT", extra_pnginfo: "EXTRA_PNGINFO" };

/** Writes each picture of the batch as `<prefix>_NNNNN_.png`, with the prompt and workflow as PNG text. */
async function saveImages(
  images: Images,
  filenamePrefix: string,
  type: FolderType,
  context: NodeContext,
): Promise<NodeResult> {
  await context.work();
  const first = images[0];
  const path = saveImagePath(context.files, type, filenamePrefix, first?.width ?? 0, first?.height ?? 0);
  const text: Record<string, string> = { prompt: pyJson(context.prompt) };
  const pngInfo = context.extraData.extra_pnginfo;
  if (pngInfo && typeof pngInfo === "object") {
    for (const [key, value] of Object.entries(pngInfo)) text[key] = pyJson(value);
  }
  const saved = images.map((image, batch) => {
    const name = `${path.filename.replaceAll("%batch_num%", String(batch))}_${String(path.counter + batch).padStart(5, "0")}_.png`;
    context.files.write(`${path.folder}/${name}`, encodePng(image, text));
    return { filename: name, subfolder: path.subfolder, type };
  });
  return { outputs: [], ui: { images: saved } };
}

export const SaveImage: NodeDefinition = {
  info: () =>
    describeNode({
      name: "SaveImage",
      display_name: "Save Image",
      description: "Saves the input images to your ComfyUI output directory.",
      category: "image",
      required: {
        images: ["IMAGE", { tooltip: "The images to save." }],
        filename_prefix: [
          "STRING",
          {
            default: "ComfyUI",
            tooltip:
              "The prefix for the file to save. This may include formatting information such as %date:yyyy-MM-dd% or %Empty Latent Image.width% to include values from nodes.",
          },
        ],
      },
      hidden: IMAGE_HIDDEN,
      output: [],
      output_node: true,
    }),
  run: (inputs, context) =>
    saveImages(inputs.images as Images, String(inputs.filename_prefix), "output", context),
};

export const PreviewImage: NodeDefinition = {
  info: () =>
    describeNode({
      name: "PreviewImage",
      display_name: "Preview Image",
      description: "Saves the input images to your ComfyUI output directory.",
      category: "image",
      required: { images: ["IMAGE"] },
      hidden: IMAGE_HIDDEN,
      output: [],
      output_node: true,
    }),
  run: (inputs, context) => {
    // ComfyUI picks five random letters per node object, which lives on across prompts.
    const suffix = context.instance(() => randomLetters(5));
    return saveImages(inputs.images as Images, `ComfyUI_temp_${suffix}`, "temp", context);
  },
};

/** Shows any value as text: the simulator's way to produce a `text` output. */
export const PreviewAny: NodeDefinition = {
  info: () =>
    describeNode({
      name: "PreviewAny",
      display_name: "Preview Any",
      category: "utils",
      python_module: "comfy_extras.nodes_preview_any",
      required: { source: ["*", {}] },
      output: [],
      output_node: true,
    }),
  run: async (inputs, context) => {
    await context.work();
    return { outputs: [], ui: { text: [describeValue(inputs.source)] } };
  },
};

function randomLetters(count: number): string {
  return Array.from({ length: count }, () => String.fromCharCode(97 + Math.floor(Math.random() * 26))).join(
    "",
  );
}
