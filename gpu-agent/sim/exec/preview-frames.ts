import { pyJson } from "../py-json";

/** Binary WebSocket event types (ComfyUI's BinaryEventTypes). */
const PREVIEW_IMAGE = 1;
const PREVIEW_IMAGE_WITH_METADATA = 4;
const JPEG = 1;

/** Type 1: `[u32 event][u32 format][image]`, for clients that did not ask for metadata. */
export function legacyPreviewFrame(jpeg: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(PREVIEW_IMAGE, 0);
  head.writeUInt32BE(JPEG, 4);
  return Buffer.concat([head, jpeg]);
}

/** Type 4: `[u32 event][u32 json length][json metadata][image]`, which names the prompt and node. */
export function metadataPreviewFrame(jpeg: Buffer, promptId: string, nodeId: string): Buffer {
  const metadata = Buffer.from(
    pyJson({
      node_id: nodeId,
      prompt_id: promptId,
      display_node_id: nodeId,
      parent_node_id: null,
      real_node_id: nodeId,
      image_type: "image/jpeg",
    }),
  );
  const head = Buffer.alloc(8);
  head.writeUInt32BE(PREVIEW_IMAGE_WITH_METADATA, 0);
  head.writeUInt32BE(metadata.length, 4);
  return Buffer.concat([head, metadata, jpeg]);
}
