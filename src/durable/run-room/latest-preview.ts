import type { PreviewNotice } from "../../lib/run-events";

/** What the agent sent last for a run: the image bytes and what they are. */
export type Preview = {
  contentType: string;
  nodeId: string | null;
  at: string;
  bytes: Uint8Array<ArrayBuffer>;
};

const KEY = "latest-preview";

/**
 * A run's newest live preview, kept in its RunRoom's storage so it survives the object being evicted.
 * Only one is ever kept: each write replaces the last. Never an output and never in R2, so never billed.
 */
export class LatestPreview {
  constructor(private readonly kv: SyncKvStorage) {}

  set(preview: Preview): void {
    this.kv.put(KEY, preview);
  }

  get(): Preview | null {
    return this.kv.get<Preview>(KEY) ?? null;
  }
}

export function previewNotice(runId: string, preview: Preview): PreviewNotice {
  return {
    run_id: runId,
    content_type: preview.contentType,
    size: preview.bytes.byteLength,
    node_id: preview.nodeId,
    at: preview.at,
    url: `/api/run/${runId}/preview`,
  };
}
