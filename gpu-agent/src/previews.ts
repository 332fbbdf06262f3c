import { MAX_PREVIEW_BYTES, PREVIEW_TYPES, type PreviewMessage } from "../../src/protocol/v1";
import type { PreviewImage } from "./comfy/preview-frames";
import { ProgressThrottle } from "./progress-throttle";

/**
 * The link as previews see it: a best-effort send, replaced by a newer preview of the run while it waits
 * for budget, and how much is still waiting on the socket.
 */
export interface PreviewLink {
  sendLatest(key: string, message: PreviewMessage): boolean;
  readonly bufferedAmount: number;
}

export interface PreviewRelayOptions {
  /** At most one preview per run per interval; the newest wins. Default 500 ms (2 per second). */
  intervalMs?: number;
  /** A preview is dropped while more than this many bytes wait on the socket: reports go first. */
  maxBufferedBytes?: number;
  now?: () => number;
}

type Lease = { run_id: string; lease_token: string };
type Held = { lease: Lease; image: PreviewImage; contentType: PreviewMessage["content_type"] };

const isPreviewType = (type: string): type is PreviewMessage["content_type"] =>
  (PREVIEW_TYPES as readonly string[]).includes(type);

/**
 * Relays ComfyUI's live previews to the control plane, throttled per run. Previews are never queued in
 * the outbox and never wait: one that cannot go now (link down, socket backed up) is simply dropped,
 * so progress, logs and outputs are never delayed by them.
 */
export class PreviewRelay {
  private readonly runs = new Map<string, ProgressThrottle<Held>>();

  constructor(
    private readonly link: PreviewLink,
    private readonly options: PreviewRelayOptions = {},
  ) {}

  push(lease: Lease, image: PreviewImage): void {
    if (!isPreviewType(image.mimeType) || image.image.byteLength > MAX_PREVIEW_BYTES) return;
    let throttle = this.runs.get(lease.run_id);
    if (!throttle) {
      throttle = new ProgressThrottle<Held>(
        this.options.intervalMs ?? 500,
        (held) => this.send(held),
        this.options.now,
      );
      this.runs.set(lease.run_id, throttle);
    }
    throttle.push({ lease, image, contentType: image.mimeType });
  }

  /** The run is over: a held-back preview is dropped (its outputs are what matter now). */
  forget(runId: string): void {
    this.runs.get(runId)?.dispose();
    this.runs.delete(runId);
  }

  private send({ lease, image, contentType }: Held): void {
    if (this.link.bufferedAmount > (this.options.maxBufferedBytes ?? 256 * 1024)) return;
    this.link.sendLatest(`preview:${lease.run_id}`, {
      type: "preview",
      run_id: lease.run_id,
      lease_token: lease.lease_token,
      at: (this.options.now ?? Date.now)(),
      content_type: contentType,
      ...(image.nodeId ? { node_id: image.nodeId } : {}),
      data: Buffer.from(image.image).toString("base64"),
    });
  }
}
