import { DurableObject } from "cloudflare:workers";
import type { Bindings } from "../env";
import {
  hasEnded,
  type PreviewEvent,
  type RunEvent,
  type RunEventBody,
  type RunSnapshot,
} from "../lib/run-events";
import { ROOM_PATHS } from "./run-room/client";
import { EventLog } from "./run-room/event-log";
import { LatestPreview, type Preview, previewNotice } from "./run-room/latest-preview";
import { type SseFormat, SseHub } from "./run-room/sse-hub";

const encodeWs = (
  event: RunEvent | PreviewEvent | { type: "snapshot"; seq: number; data: RunSnapshot | null },
) => JSON.stringify(event);

/**
 * One per run: its numbered event log, its latest snapshot and its subscribers (hibernatable WebSockets
 * and SSE streams). A subscriber that reconnects with the last number it saw gets every event after it.
 */
export class RunRoom extends DurableObject<Bindings> {
  private readonly log: EventLog;
  private readonly previews: LatestPreview;
  private readonly sse = new SseHub();
  private readonly waiters = new Set<(snapshot: RunSnapshot) => void>();

  constructor(ctx: DurableObjectState, env: Bindings) {
    super(ctx, env);
    this.log = new EventLog(ctx.storage);
    this.previews = new LatestPreview(ctx.storage.kv);
  }

  /**
   * A subscriber's read of the run's row, just before it subscribes: the room's snapshot when it has
   * none yet (no status event came), or when the row shows a later attempt or status of the live run
   * (a restart lost the room's last status events). A late call cannot rewind the snapshot. Its
   * waiters are told once the snapshot is an ended run's: here that is news only to a room that had
   * none (and so no subscribers), as a room ended by its event told them then.
   */
  async init(snapshot: RunSnapshot): Promise<void> {
    this.log.offer(snapshot);
    const now = this.log.snapshot();
    if (hasEnded(now)) this.finish(now);
  }

  async publish(events: RunEventBody[]): Promise<number> {
    let last = this.log.lastSeq();
    try {
      for (const body of events) {
        const event = this.log.append(body);
        last = event.seq;
        this.broadcast(event);
      }
    } finally {
      // Also when an event after the end failed: the end itself was written and sent.
      const snapshot = this.log.snapshot();
      if (hasEnded(snapshot)) this.finish(snapshot);
    }
    return last;
  }

  /** Keeps a live preview (replacing the last) and tells subscribers; ignored once the run has ended. */
  async setPreview(runId: string, preview: Preview): Promise<boolean> {
    const snapshot = this.log.snapshot();
    if (hasEnded(snapshot)) return false;
    this.previews.set(preview);
    this.broadcast({ type: "preview", data: previewNotice(runId, preview) });
    return true;
  }

  async preview(): Promise<Preview | null> {
    return this.previews.get();
  }

  async state(): Promise<{ seq: number; snapshot: RunSnapshot | null }> {
    return { seq: this.log.lastSeq(), snapshot: this.log.snapshot() };
  }

  /** Resolves with the snapshot once the run ends, or null after `timeoutMs`. */
  async waitForEnd(timeoutMs: number): Promise<RunSnapshot | null> {
    const current = this.log.snapshot();
    if (hasEnded(current)) return current;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters.delete(done);
        resolve(null);
      }, timeoutMs);
      const done = (snapshot: RunSnapshot) => {
        clearTimeout(timer);
        resolve(snapshot);
      };
      this.waiters.add(done);
    });
  }

  override async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const after = parseAfter(url.searchParams.get("after") ?? request.headers.get("Last-Event-ID"));
    if (url.pathname === ROOM_PATHS.socket) return this.acceptSocket(after);
    const format = url.searchParams.get("format") === "comfydeploy" ? "comfydeploy" : "native";
    return this.openStream(
      after,
      request.headers.has("Last-Event-ID") || url.searchParams.has("after"),
      format,
    );
  }

  private acceptSocket(after: number | null): Response {
    const { 0: client, 1: server } = new WebSocketPair();
    this.ctx.acceptWebSocket(server);
    const snapshot = this.log.snapshot();
    server.send(encodeWs({ type: "snapshot", seq: this.log.lastSeq(), data: snapshot }));
    for (const event of this.log.after(after ?? this.log.lastSeq())) server.send(encodeWs(event));
    if (hasEnded(snapshot)) server.close(1000, "run finished");
    return new Response(null, { status: 101, webSocket: client });
  }

  private openStream(after: number | null, resuming: boolean, format: SseFormat): Response {
    const snapshot = this.log.snapshot();
    const backlog = this.log.after(resuming ? (after ?? 0) : this.log.lastSeq());
    const ended = hasEnded(snapshot);
    const stream = this.sse.open({
      format,
      snapshot: resuming ? null : snapshot,
      seq: this.log.lastSeq(),
      backlog,
      ended,
    });
    return new Response(stream, {
      headers: { "Content-Type": "text/event-stream", "Cache-Control": "no-cache", Connection: "keep-alive" },
    });
  }

  private broadcast(event: RunEvent | PreviewEvent) {
    const frame = encodeWs(event);
    for (const ws of this.ctx.getWebSockets()) {
      try {
        ws.send(frame);
      } catch {
        // a socket that went away is cleaned up by its close handler
      }
    }
    this.sse.send(event);
  }

  private finish(snapshot: RunSnapshot) {
    for (const ws of this.ctx.getWebSockets()) ws.close(1000, "run finished");
    this.sse.closeAll();
    for (const resolve of this.waiters) resolve(snapshot);
    this.waiters.clear();
  }

  /** Subscribers only ever send `ping`; a socket that cannot take the answer is closing anyway. */
  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer) {
    try {
      if (message === "ping") ws.send("pong");
    } catch (error) {
      console.error(JSON.stringify({ event: "subscriber_message_failed", error: String(error) }));
    }
  }

  override async webSocketClose(ws: WebSocket, code: number) {
    try {
      ws.close(code === 1005 ? 1000 : code, "closing");
    } catch {
      // already closed
    }
  }
}

function parseAfter(value: string | null): number | null {
  if (value === null || value === "") return null;
  const n = Number(value);
  return Number.isInteger(n) && n >= 0 ? n : null;
}
