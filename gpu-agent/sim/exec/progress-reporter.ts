import { encodeBlockJpeg } from "../image/jpeg";
import type { Raster } from "../image/raster";
import type { SocketHub } from "../ws-hub";
import { legacyPreviewFrame, metadataPreviewFrame } from "./preview-frames";

interface NodeState {
  value: number;
  max: number;
  state: "running" | "finished";
}

/**
 * A prompt's progress messages: `progress_state` with every node's state so far after each change, and
 * per sampler step `progress` plus a preview. They go to the prompt's client, or to every socket when
 * the prompt has none (as ComfyUI does).
 */
export class ProgressReporter {
  private readonly states = new Map<string, NodeState>();

  constructor(
    private readonly hub: SocketHub,
    private readonly promptId: string,
    private readonly clientId: string | null,
  ) {}

  running(id: string): void {
    this.set(id, { value: 0, max: 1, state: "running" });
  }

  finished(id: string): void {
    const max = this.states.get(id)?.max ?? 1;
    this.set(id, { value: max, max, state: "finished" });
  }

  /**
   * One sampler step. Clients that asked for preview metadata get the type-4 preview right after the
   * progress state, before `progress`; others get the type-1 preview after it (ComfyUI's hook order).
   */
  step(id: string, value: number, max: number, preview: Raster | undefined): void {
    this.set(id, { value, max, state: "running" });
    const jpeg = preview && encodeBlockJpeg(preview);
    const withMetadata = this.clientId !== null && this.hub.supportsPreviewMetadata(this.clientId);
    if (jpeg && withMetadata)
      this.hub.sendBinary(metadataPreviewFrame(jpeg, this.promptId, id), this.clientId);
    this.hub.send("progress", { value, max, prompt_id: this.promptId, node: id }, this.clientId);
    if (jpeg && !withMetadata) this.hub.sendBinary(legacyPreviewFrame(jpeg), this.clientId);
  }

  private set(id: string, state: NodeState) {
    this.states.set(id, state);
    const nodes = Object.fromEntries(
      [...this.states].map(([nodeId, s]) => [
        nodeId,
        {
          ...s,
          node_id: nodeId,
          prompt_id: this.promptId,
          display_node_id: nodeId,
          parent_node_id: null,
          real_node_id: nodeId,
        },
      ]),
    );
    this.hub.send("progress_state", { prompt_id: this.promptId, nodes }, this.clientId);
  }
}
