import { frame, NodeError } from "../exec/node-error";
import type { FileStore } from "../files";
import { annotatedPath, sha256 } from "../files";
import { loadImage } from "../image/identify";
import { cropToAspect, gaussianBlur, invert, resize, solid } from "../image/raster";
import { describeNode, type Images, type Mask, type NodeDefinition } from "./types";

const INT = (options: Record<string, unknown>) => ["INT", options];

export const EmptyImage: NodeDefinition = {
  info: () =>
    describeNode({
      name: "EmptyImage",
      display_name: "EmptyImage",
      category: "image",
      required: {
        width: INT({ default: 512, min: 1, max: 16384, step: 1 }),
        height: INT({ default: 512, min: 1, max: 16384, step: 1 }),
        batch_size: INT({ default: 1, min: 1, max: 4096 }),
        color: INT({ default: 0, min: 0, max: 16777215, step: 1, display: "color" }),
      },
      output: ["IMAGE"],
    }),
  run: async (inputs, context) => {
    await context.work();
    // Validation has made these whole numbers within their ranges.
    const { width, height, batch_size, color } = inputs as Record<string, number>;
    const images: Images = Array.from({ length: batch_size as number }, () =>
      solid(width as number, height as number, color as number),
    );
    return { outputs: [images] };
  },
};

export const ImageInvert: NodeDefinition = {
  info: () =>
    describeNode({
      name: "ImageInvert",
      display_name: "Invert Image",
      category: "image",
      required: { image: ["IMAGE"] },
      output: ["IMAGE"],
    }),
  run: async (inputs, context) => {
    await context.work();
    return { outputs: [(inputs.image as Images).map(invert)] };
  },
};

export const ImageBlur: NodeDefinition = {
  info: () =>
    describeNode({
      name: "ImageBlur",
      display_name: null,
      category: "image/postprocessing",
      python_module: "comfy_extras.nodes_post_processing",
      required: {
        image: ["IMAGE", {}],
        blur_radius: INT({ default: 1, min: 1, max: 31, step: 1 }),
        sigma: ["FLOAT", { default: 1.0, min: 0.1, max: 10.0, step: 0.1 }],
      },
      output: ["IMAGE"],
      extra: { output_tooltips: [null], deprecated: false, experimental: false, api_node: false },
    }),
  run: async (inputs, context) => {
    await context.work();
    const { blur_radius, sigma } = inputs as Record<string, number>;
    const blurred = (inputs.image as Images).map((image) =>
      gaussianBlur(image, blur_radius as number, sigma as number),
    );
    return { outputs: [blurred] };
  },
};

export const ImageScale: NodeDefinition = {
  info: () =>
    describeNode({
      name: "ImageScale",
      display_name: "Upscale Image",
      category: "image/upscaling",
      required: {
        image: ["IMAGE"],
        upscale_method: [["nearest-exact", "bilinear", "area", "bicubic", "lanczos"]],
        width: INT({ default: 512, min: 0, max: 16384, step: 1 }),
        height: INT({ default: 512, min: 0, max: 16384, step: 1 }),
        crop: [["disabled", "center"]],
      },
      output: ["IMAGE"],
    }),
  run: async (inputs, context) => {
    await context.work();
    const method = inputs.upscale_method === "nearest-exact" ? "nearest" : "bilinear";
    const scaled = (inputs.image as Images).map((image) => {
      // Like ComfyUI: a zero side follows the other one's scale; both zero leaves the picture alone.
      let [width, height] = [inputs.width, inputs.height] as number[];
      if (!width && !height) return image;
      width ||= Math.max(1, Math.round((image.width * (height as number)) / image.height));
      height ||= Math.max(1, Math.round((image.height * width) / image.width));
      const source = inputs.crop === "center" ? cropToAspect(image, width, height) : image;
      return resize(source, width, height, method);
    });
    return { outputs: [scaled] };
  },
};

const IMAGE_EXTENSIONS = /\.(png|jpe?g|webp|gif|bmp|tiff?)$/i;

function inputImagePath(files: FileStore, image: string): string | undefined {
  const { type, name } = annotatedPath(image);
  return files.resolve(type ?? "input", "", name);
}

export const LoadImage: NodeDefinition = {
  info: (files) =>
    describeNode({
      name: "LoadImage",
      display_name: "Load Image",
      category: "image",
      required: {
        image: [
          files.list(files.folder("input")).filter((name) => IMAGE_EXTENSIONS.test(name)),
          { image_upload: true },
        ],
      },
      output: ["IMAGE", "MASK"],
    }),
  selfValidated: {
    inputs: ["image"],
    check: (inputs, files) => {
      const path = inputImagePath(files, String(inputs.image));
      return path && files.read(path) ? true : `Invalid image file: ${String(inputs.image)}`;
    },
  },
  isChanged: (inputs, files) => {
    const path = inputImagePath(files, String(inputs.image));
    const bytes = path ? files.read(path) : undefined;
    return bytes ? sha256(bytes) : "";
  },
  run: async (inputs, context) => {
    await context.work();
    const path = inputImagePath(context.files, String(inputs.image)) ?? "";
    const bytes = context.files.read(path);
    if (!bytes) {
      throw new NodeError(`[Errno 2] No such file or directory: '${path}'`, "FileNotFoundError", [
        frame(
          "/srv/comfy/ComfyUI/nodes.py",
          1647,
          "load_image",
          "img = node_helpers.pillow(Image.open, image_path)",
        ),
      ]);
    }
    const loaded = loadImage(bytes);
    if (!loaded) {
      throw new NodeError(`cannot identify image file '${path}'`, "PIL.UnidentifiedImageError", [
        frame(
          "/srv/comfy/ComfyUI/nodes.py",
          1647,
          "load_image",
          "img = node_helpers.pillow(Image.open, image_path)",
        ),
        frame("/srv/comfy/ComfyUI/node_helpers.py", 31, "pillow", "x = fn(arg)"),
        frame(
          "/usr/lib/python3/dist-packages/PIL/Image.py",
          3283,
          "open",
          "raise UnidentifiedImageError(msg)",
        ),
      ]);
    }
    const { image, alpha } = loaded;
    // ComfyUI's mask is 1 − alpha, or an empty 64×64 mask for pictures without transparency.
    const mask: Mask = alpha
      ? { width: image.width, height: image.height, values: Float32Array.from(alpha, (a) => 1 - a / 255) }
      : { width: 64, height: 64, values: new Float32Array(64 * 64) };
    return { outputs: [[image], mask] };
  },
};
