import { DurableObject } from "cloudflare:workers";
import type { Bindings } from "../env";
import { DeferredTask } from "../lib/deferred-task";
import type { FleetEvent, FleetMessage, InstanceStatus, TaskCounts } from "./fleet-room/events";

/** At most one `task_progress` per run per this interval; the newest value wins. */
export const PROGRESS_INTERVAL_MS = 500;
/** `global_status` after instance changes is sent at most this often. */
const GLOBAL_STATUS_INTERVAL_MS = 1000;

type Pending = { progress: number; requestId: string | null };

/**
 * One per tenant: the subscribers of seed 003's global WebSocket. Events fan out as they come, except
 * progress, which is coalesced per run so thousands of concurrent runs stay a bounded stream.
 * Subscribers sit on hibernatable sockets; instance states are kept in storage for `global_status`.
 */
export class FleetRoom extends DurableObject<Bindings> {
  private readonly pending = new Map<string, Pending>();
  private readonly progressSentAt = new Map<string, number>();
  private progressTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly globalStatus = new DeferredTask("global_status", GLOBAL_STATUS_INTERVAL_MS, () =>
    this.broadcast(this.message("global_status", this.instanceCounts(), null)),
  );

  constructor(ctx: DurableObjectState, env: Bindings) {
    super(ctx, env);
    ctx.storage.sql.exec(
      "CREATE TABLE IF NOT EXISTS instances (id TEXT PRIMARY KEY, alive INTEGER NOT NULL, busy INTEGER NOT NULL)",
    );
  }

  /** Replaces the known instance states (the caller read them from the Dispatchers). */
  async syncInstances(instances: InstanceStatus[]): Promise<void> {
    this.ctx.storage.sql.exec("DELETE FROM instances");
    for (const i of instances) this.remember(i);
  }

  override async fetch(request: Request): Promise<Response> {
    const { 0: client, 1: server } = new WebSocketPair();
    this.ctx.acceptWebSocket(server);
    const tasks = JSON.parse(request.headers.get("X-Task-Counts") ?? "{}") as Partial<TaskCounts>;
    this.sendTo(server, this.message("global_status", { ...this.instanceCounts(), ...tasks }, null));
    return new Response(null, { status: 101, webSocket: client });
  }

  async publish(event: FleetEvent, requestId: string | null = null): Promise<void> {
    switch (event.type) {
      case "task_progress":
        return this.queueProgress(event.data.taskId, { progress: event.data.progress, requestId });
      case "instance_status":
        this.remember(event.data);
        this.globalStatus.soon();
        break;
      case "task_completed":
      case "task_failed":
        // A finished task's pending progress is stale.
        this.pending.delete(event.data.taskId);
        this.progressSentAt.delete(event.data.taskId);
        break;
      default:
      // Model downloads and removals: their agents already throttle progress to about one a second.
    }
    this.broadcast(this.message(event.type, event.data, requestId));
  }

  async subscribers(): Promise<number> {
    return this.ctx.getWebSockets().length;
  }

  override async webSocketMessage(ws: WebSocket, raw: string | ArrayBuffer) {
    // Clients only listen; a ping gets the current global status.
    if (raw === "ping") this.sendTo(ws, this.message("global_status", this.instanceCounts(), null));
  }

  override async webSocketClose(ws: WebSocket, code: number) {
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, "closing");
    } catch {
      // already closed
    }
  }

  private queueProgress(taskId: string, update: Pending) {
    const sentAt = this.progressSentAt.get(taskId) ?? 0;
    if (Date.now() - sentAt >= PROGRESS_INTERVAL_MS && !this.pending.has(taskId)) {
      this.sendProgress(taskId, update);
      return;
    }
    this.pending.set(taskId, update);
    this.progressTimer ??= setTimeout(() => this.flushProgress(), PROGRESS_INTERVAL_MS);
  }

  private flushProgress() {
    this.progressTimer = undefined;
    const now = Date.now();
    for (const [taskId, update] of this.pending) {
      if (now - (this.progressSentAt.get(taskId) ?? 0) < PROGRESS_INTERVAL_MS) continue;
      this.pending.delete(taskId);
      this.sendProgress(taskId, update);
    }
    if (this.pending.size > 0)
      this.progressTimer = setTimeout(() => this.flushProgress(), PROGRESS_INTERVAL_MS);
  }

  private sendProgress(taskId: string, update: Pending) {
    this.progressSentAt.set(taskId, Date.now());
    this.broadcast(this.message("task_progress", { taskId, progress: update.progress }, update.requestId));
  }

  private remember(i: InstanceStatus) {
    this.ctx.storage.sql.exec(
      "INSERT OR REPLACE INTO instances (id, alive, busy) VALUES (?, ?, ?)",
      i.instanceId,
      i.alive ? 1 : 0,
      i.busy ? 1 : 0,
    );
  }

  private instanceCounts() {
    const row = this.ctx.storage.sql
      .exec<{ total: number; alive: number | null; busy: number | null }>(
        "SELECT COUNT(*) AS total, SUM(alive) AS alive, SUM(busy) AS busy FROM instances",
      )
      .one();
    return { totalInstances: row.total, aliveInstances: row.alive ?? 0, busyInstances: row.busy ?? 0 };
  }

  private message(type: FleetMessage["type"], data: unknown, requestId: string | null): string {
    return JSON.stringify({ type, timestamp: Date.now(), data, requestId } satisfies FleetMessage);
  }

  private broadcast(text: string) {
    for (const ws of this.ctx.getWebSockets()) this.sendTo(ws, text);
  }

  private sendTo(ws: WebSocket, text: string) {
    try {
      ws.send(text);
    } catch {
      // a closing socket; its close handler cleans up
    }
  }
}
