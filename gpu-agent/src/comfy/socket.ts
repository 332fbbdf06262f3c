import { randomUUID } from "node:crypto";
import WebSocket from "ws";
import { type BackoffPolicy, backoffDelay } from "../backoff";
import { type Logger, silentLogger } from "../log";
import { type ComfyEvent, parseEvent } from "./events";
import { type PreviewImage, parsePreviewFrame } from "./preview-frames";

export type SocketNotice =
  | { kind: "event"; event: ComfyEvent }
  | { kind: "preview"; preview: PreviewImage }
  | { kind: "open" }
  | { kind: "closed"; reason: string };

export interface ComfySocketOptions {
  /** ComfyUI's HTTP address, e.g. `http://127.0.0.1:8188`. */
  baseUrl: string;
  /** ComfyUI sends a prompt's events to the socket of the client id it was queued with. */
  clientId?: string;
  /** Ask for type-4 previews, which name their prompt and node. Default true. */
  previewMetadata?: boolean;
  /** How often to ping ComfyUI. Default 5 s. */
  pingIntervalMs?: number;
  /** A connection with no frame at all (not even a pong) for this long is treated as dead. Default 15 s. */
  silenceMs?: number;
  /** Limit for opening a connection. Default 10 s. */
  connectTimeoutMs?: number;
  reconnect?: BackoffPolicy;
  log?: Logger;
}

/**
 * Follows ComfyUI's `/ws`: keeps one connection open under a fixed client id, reconnecting with backoff,
 * and tells subscribers about each event, preview and connection change. A connection that goes silent
 * (a hung ComfyUI still holds the socket) is closed and replaced, so callers hear `closed` and never
 * wait on a dead socket.
 */
export class ComfySocket {
  readonly clientId: string;
  private readonly url: string;
  /** Replaced, never changed in place: a listener that (un)subscribes during `emit` does not disturb it. */
  private listeners: ReadonlyArray<(notice: SocketNotice) => void> = [];
  private socket: WebSocket | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private retry: NodeJS.Timeout | undefined;
  private attempt = 0;
  private lastFrameAt = 0;
  private running = false;

  constructor(private readonly options: ComfySocketOptions) {
    this.clientId = options.clientId ?? `comfy-edge-${randomUUID()}`;
    const base = options.baseUrl.replace(/\/+$/, "").replace(/^http/, "ws");
    this.url = `${base}/ws?clientId=${encodeURIComponent(this.clientId)}`;
  }

  get isOpen(): boolean {
    return this.socket?.readyState === WebSocket.OPEN;
  }

  /** Starts connecting; from then on the socket reconnects by itself until `stop()`. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.connect();
  }

  stop(): void {
    this.running = false;
    clearTimeout(this.retry);
    this.socket?.terminate();
  }

  /** Calls `listener` for everything that happens; returns the unsubscribe function. */
  subscribe(listener: (notice: SocketNotice) => void): () => void {
    this.listeners = [...this.listeners, listener];
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  /** Resolves true once the connection is open, or false after `timeoutMs`. */
  waitOpen(timeoutMs: number): Promise<boolean> {
    if (this.isOpen) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (open: boolean) => {
        clearTimeout(timer);
        unsubscribe();
        resolve(open);
      };
      const timer = setTimeout(() => done(false), timeoutMs);
      const unsubscribe = this.subscribe((notice) => {
        if (notice.kind === "open") done(true);
      });
    });
  }

  private connect() {
    const socket = new WebSocket(this.url, {
      handshakeTimeout: this.options.connectTimeoutMs ?? 10_000,
      // ComfyUI is on this host: compressing its events and previews (aiohttp does once asked) only
      // costs CPU on both sides.
      perMessageDeflate: false,
    });
    this.socket = socket;
    let reason = "connection closed";
    socket.on("open", () => {
      this.attempt = 0;
      this.lastFrameAt = Date.now();
      if (this.options.previewMetadata ?? true) {
        socket.send(JSON.stringify({ type: "feature_flags", data: { supports_preview_metadata: true } }));
      }
      this.startHeartbeat(socket, () => {
        reason = "ComfyUI's WebSocket went silent";
      });
      this.emit({ kind: "open" });
    });
    socket.on("message", (data, isBinary) => {
      this.lastFrameAt = Date.now();
      const bytes = Buffer.isBuffer(data)
        ? data
        : Array.isArray(data)
          ? Buffer.concat(data)
          : Buffer.from(data);
      if (isBinary) {
        const preview = parsePreviewFrame(bytes);
        if (preview) this.emit({ kind: "preview", preview });
        return;
      }
      const event = parseEvent(bytes.toString("utf8"));
      if (event) this.emit({ kind: "event", event });
    });
    socket.on("pong", () => {
      this.lastFrameAt = Date.now();
    });
    socket.on("error", (error) => {
      reason = error.message;
      this.options.log?.debug("ComfyUI WebSocket error", { url: this.url, error: error.message });
    });
    socket.on("close", () => {
      clearInterval(this.heartbeat);
      if (this.socket === socket) this.socket = undefined;
      this.emit({ kind: "closed", reason });
      if (this.running) this.scheduleReconnect();
    });
  }

  private startHeartbeat(socket: WebSocket, onSilence: () => void) {
    const interval = this.options.pingIntervalMs ?? 5_000;
    const silence = this.options.silenceMs ?? 15_000;
    clearInterval(this.heartbeat);
    this.heartbeat = setInterval(() => {
      if (Date.now() - this.lastFrameAt >= silence) {
        (this.options.log ?? silentLogger).warn("ComfyUI's WebSocket went silent; reconnecting", {
          url: this.url,
        });
        onSilence();
        socket.terminate();
        return;
      }
      socket.ping();
    }, interval);
  }

  private scheduleReconnect() {
    const delay = backoffDelay(this.attempt++, this.options.reconnect ?? { baseMs: 250, capMs: 5_000 });
    this.retry = setTimeout(() => this.connect(), delay);
  }

  private emit(notice: SocketNotice) {
    for (const listener of this.listeners) listener(notice);
  }
}
