import { randomUUID } from "node:crypto";
import WebSocket from "ws";

export type Frame =
  | { kind: "text"; type: string; data: Record<string, unknown> }
  | { kind: "binary"; bytes: Buffer };

const BINARY_NAMES: Record<number, string> = { 1: "PREVIEW_IMAGE", 4: "PREVIEW_IMAGE_WITH_METADATA" };

/**
 * A test client on ComfyUI's /ws that keeps every frame, and names them the way the traces'
 * `ws_message_types_in_order` does (`client:connected`, `status`, `binary:PREVIEW_IMAGE`, …).
 */
export class WsRecorder {
  readonly frames: Frame[] = [];
  private readonly names: string[] = [];
  private readonly listeners = new Set<() => void>();

  private constructor(
    readonly clientId: string,
    private readonly socket: WebSocket,
  ) {
    socket.on("message", (data: Buffer, isBinary) => {
      if (isBinary) {
        this.frames.push({ kind: "binary", bytes: data });
        this.names.push(`binary:${BINARY_NAMES[data.readUInt32BE(0)] ?? "UNKNOWN"}`);
      } else {
        const json = JSON.parse(data.toString()) as { type: string; data: Record<string, unknown> };
        this.frames.push({ kind: "text", type: json.type, data: json.data });
        this.names.push(json.type);
      }
      for (const listener of this.listeners) listener();
    });
  }

  static connect(
    baseUrl: string,
    options: { clientId?: string; featureFlags?: boolean } = {},
  ): Promise<WsRecorder> {
    const clientId = options.clientId ?? randomUUID().replaceAll("-", "");
    const socket = new WebSocket(`${baseUrl.replace(/^http/, "ws")}/ws?clientId=${clientId}`);
    const recorder = new WsRecorder(clientId, socket);
    return new Promise((resolve, reject) => {
      socket.once("error", reject);
      socket.once("open", () => {
        recorder.names.push("client:connected");
        if (options.featureFlags) {
          socket.send(JSON.stringify({ type: "feature_flags", data: { supports_preview_metadata: true } }));
          recorder.names.push("client_sent:feature_flags");
        }
        resolve(recorder);
      });
    });
  }

  types(): string[] {
    return [...this.names];
  }

  messages(type: string): Record<string, unknown>[] {
    return this.frames.flatMap((f) => (f.kind === "text" && f.type === type ? [f.data] : []));
  }

  binaries(): Buffer[] {
    return this.frames.flatMap((f) => (f.kind === "binary" ? [f.bytes] : []));
  }

  /** Resolves once a frame matching `predicate` has arrived (also if it already had). */
  waitFor(predicate: (frame: Frame) => boolean, timeoutMs = 5000): Promise<Frame> {
    return this.until(() => this.frames.find(predicate), timeoutMs);
  }

  /** The run's last message to its client: `executing {node: null, prompt_id}`. */
  waitForEnd(promptId: string, timeoutMs = 5000): Promise<Frame> {
    return this.waitFor(
      (f) =>
        f.kind === "text" && f.type === "executing" && f.data.node === null && f.data.prompt_id === promptId,
      timeoutMs,
    );
  }

  /** Resolves once `count` frames (the connection event included) have been named. */
  waitForCount(count: number, timeoutMs = 5000): Promise<void> {
    return this.until(() => (this.names.length >= count ? true : undefined), timeoutMs).then(() => undefined);
  }

  /** Resolves when the server has closed the connection (or it was closed here). */
  closed(): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => this.socket.once("close", () => resolve()));
  }

  close(): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      this.socket.once("close", () => resolve());
      this.socket.close();
    });
  }

  private until<T>(check: () => T | undefined, timeoutMs: number): Promise<T> {
    return new Promise((resolve, reject) => {
      const attempt = () => {
        const found = check();
        if (found === undefined) return false;
        cleanup();
        resolve(found);
        return true;
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out after ${timeoutMs} ms; frames so far: ${this.names.join(", ")}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.listeners.delete(listener);
      };
      const listener = () => void attempt();
      if (!attempt()) this.listeners.add(listener);
    });
  }
}
