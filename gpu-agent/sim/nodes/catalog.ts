import { EmptyImage, ImageBlur, ImageInvert, ImageScale, LoadImage } from "./image-nodes";
import { PreviewAny, PreviewImage, SaveImage } from "./output-nodes";
import {
  CheckpointLoaderSimple,
  CLIPTextEncode,
  CRTestProgressPreview,
  EmptyLatentImage,
  KSampler,
  LoraLoader,
  PrimitiveInt,
  PrimitiveString,
  VAEDecode,
  VAELoader,
} from "./sampler-nodes";
import type { NodeDefinition } from "./types";

/** The node classes the simulator knows: those of the traces, plus a weightless text-to-image pipeline. */
export const NODE_CATALOG: ReadonlyMap<string, NodeDefinition> = new Map(
  Object.entries({
    CheckpointLoaderSimple,
    CLIPTextEncode,
    CRTestProgressPreview,
    EmptyImage,
    EmptyLatentImage,
    ImageBlur,
    ImageInvert,
    ImageScale,
    KSampler,
    LoadImage,
    LoraLoader,
    PreviewAny,
    PreviewImage,
    PrimitiveInt,
    PrimitiveString,
    SaveImage,
    VAEDecode,
    VAELoader,
  }),
);
