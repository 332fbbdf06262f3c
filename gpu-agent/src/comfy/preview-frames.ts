/** A live preview image from a binary WebSocket frame. */
export interface PreviewImage {
  mimeType: string;
  image: Uint8Array;
  /** Set only in type-4 frames, which a client gets after the `feature_flags` handshake. */
  promptId?: string;
  nodeId?: string;
}

const PREVIEW_IMAGE = 1;
const PREVIEW_IMAGE_WITH_METADATA = 4;
const FORMATS: Record<number, string> = { 1: "image/jpeg", 2: "image/png" };

interface Metadata {
  prompt_id?: string;
  node_id?: string;
  display_node_id?: string | null;
  image_type?: string;
}

const absentOrString = (value: unknown, orNull = false) =>
  value === undefined || typeof value === "string" || (orNull && value === null);

/** The type-4 metadata, checked by hand (one comes with every sampler step): the fields read, if present, are strings. */
function metadataOf(value: unknown): Metadata | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const m = value as Record<string, unknown>;
  const valid =
    absentOrString(m.prompt_id) &&
    absentOrString(m.node_id) &&
    absentOrString(m.display_node_id, true) &&
    absentOrString(m.image_type);
  return valid ? (m as Metadata) : undefined;
}

/**
 * Decodes ComfyUI's binary frames: `[u32 BE event type]`, then for type 1 `[u32 format][image]` and
 * for type 4 `[u32 json length][json metadata][image]`. Other types (e.g. progress text) give undefined.
 */
export function parsePreviewFrame(frame: Buffer): PreviewImage | undefined {
  if (frame.length < 8) return undefined;
  const eventType = frame.readUInt32BE(0);
  if (eventType === PREVIEW_IMAGE) {
    return {
      mimeType: FORMATS[frame.readUInt32BE(4)] ?? "application/octet-stream",
      image: frame.subarray(8),
    };
  }
  if (eventType !== PREVIEW_IMAGE_WITH_METADATA) return undefined;
  const length = frame.readUInt32BE(4);
  if (8 + length > frame.length) return undefined;
  let metadata: Metadata | undefined;
  try {
    metadata = metadataOf(JSON.parse(frame.toString("utf8", 8, 8 + length)));
  } catch {
    return undefined;
  }
  if (!metadata) return undefined;
  return {
    mimeType: metadata.image_type ?? "image/jpeg",
    image: frame.subarray(8 + length),
    promptId: metadata.prompt_id,
    nodeId: metadata.display_node_id ?? metadata.node_id,
  };
}
