import { randomUUID } from "node:crypto";
import { WebSocket } from "ws";
import type { Freeze } from "./faults";
import { pyJson } from "./py-json";

/** What ComfyUI answers a client's `feature_flags` with (and what GET /features returns). */
export const SERVER_FEATURES = { supports_preview_metadata: true, max_upload_size: 104_857_600 };

/**
 * The server side of `/ws`, like ComfyUI's PromptServer: sockets by client id, a message to one client
 * id or to all (`sid` null), the `status` greeting, the feature-flags handshake and the `executing`
 * replay for a client that reconnects mid-run.
 */
export class SocketHub {
  private readonly sockets = new Map<string, WebSocket>();
  private readonly flags = new Map<string, Record<string, unknown>>();
  private held: (() => void)[] = [];
  /** The client id of the running prompt (ComfyUI's `server.client_id`). */
  executingClient: string | null = null;
  /** The node that last sent `executing` (ComfyUI's `server.last_node_id`). */
  lastNode: string | null = null;

  constructor(
    private readonly freeze: Freeze,
    private readonly queueRemaining: () => number,
  ) {}

  accept(ws: WebSocket, requestedId: string | null): void {
    const sid = requestedId || randomUUID().replaceAll("-", "");
    this.sockets.set(sid, ws);
    this.flags.set(sid, {});
    this.send("status", { status: this.queueInfo(), sid }, sid);
    if (this.executingClient === sid && this.lastNode !== null)
      this.send("executing", { node: this.lastNode }, sid);
    let first = true;
    ws.on("message", (data, isBinary) => {
      if (isBinary) return;
      let message: unknown;
      try {
        message = JSON.parse(data.toString());
      } catch {
        return;
      }
      const { type, data: body } = (message ?? {}) as { type?: unknown; data?: unknown };
      if (first && type === "feature_flags") {
        this.flags.set(
          sid,
          typeof body === "object" && body !== null ? (body as Record<string, unknown>) : {},
        );
        this.send("feature_flags", SERVER_FEATURES, sid);
      }
      first = false;
    });
    // ComfyUI drops the id when any socket that used it closes, even if a newer socket has taken it over.
    ws.on("close", () => {
      this.sockets.delete(sid);
      this.flags.delete(sid);
    });
    // A hung ComfyUI answers no pings either (the `ws` server is made with autoPong off).
    ws.on("ping", (payload) => {
      if (!this.freeze.frozen) ws.pong(payload);
    });
  }

  send(type: string, data: unknown, sid: string | null): void {
    this.deliver(pyJson({ type, data }), sid);
  }

  sendBinary(frame: Buffer, sid: string | null): void {
    this.deliver(frame, sid);
  }

  broadcastStatus(): void {
    this.send("status", { status: this.queueInfo() }, null);
  }

  supportsPreviewMetadata(sid: string): boolean {
    return this.flags.get(sid)?.supports_preview_metadata === true;
  }

  /** Sends what was held back while frozen. */
  flushHeld(): void {
    const held = this.held;
    this.held = [];
    for (const send of held) send();
  }

  private queueInfo() {
    return { exec_info: { queue_remaining: this.queueRemaining() } };
  }

  private deliver(payload: string | Buffer, sid: string | null) {
    if (this.freeze.frozen) {
      this.held.push(() => this.deliver(payload, sid));
      return;
    }
    const targets = sid === null ? [...this.sockets.values()] : [this.sockets.get(sid)];
    for (const ws of targets) if (ws?.readyState === WebSocket.OPEN) ws.send(payload);
  }
}
