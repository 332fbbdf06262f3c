import { DurableObject } from "cloudflare:workers";
import { createDb } from "../db/client";
import type { RunRow, RunWarning } from "../db/schema";
import type { Bindings } from "../env";
import { randomToken } from "../lib/crypto";
import { poolSettings } from "../lib/fleet-settings";
import {
  AGENT_SEND_BUDGET,
  AgentMessage,
  CloseCode,
  type HelloMessage,
  type ModelCleanupMessage,
  type ModelDeleteMessage,
  type ModelsMessage,
  type ObjectInfoMessage,
  PROTOCOL_VERSION,
  type ReportMessage,
  type RunReport,
  type ServerMessage,
  TERMINAL_REPORTS,
} from "../protocol/v1";
import { discardUploadedOutputs, outputUploadGrants } from "../runs/outputs";
import { ReportRefused, RunReports } from "../runs/reports";
import { findFleetSettings } from "../stores/fleet-settings";
import { recordMachineState } from "../stores/machines";
import { findRunById, type InsertedRun, insertRun } from "../stores/runs";
import { enqueueMachineWebhooks } from "../webhooks/enqueue";
import { AgentBudgets } from "./dispatcher/agent-budget";
import { type AgentAttachment, AgentRegistry } from "./dispatcher/agent-registry";
import { type AgentIdentity, type CancelOutcome, readAgentIdentity } from "./dispatcher/client";
import { FleetState, instanceStatuses, type LiveMachine, type PoolSettings } from "./dispatcher/fleet-state";
import { type Job, JobQueue, type NewJob, WHOLE_MACHINE } from "./dispatcher/job-queue";
import {
  announceRemoval,
  applyDownloadProgress,
  applyDownloadResult,
  downloadMessages,
} from "./dispatcher/model-downloads";
import { staleModelInventories, storeReportedModels } from "./dispatcher/models";
import { linkReportedDefinitions, storeReportedDefinitions } from "./dispatcher/node-definitions";
import { relayPreview } from "./dispatcher/previews";
import { SlotModels } from "./dispatcher/slot-models";
import { type HeldRow, type NewRunRow, UnrecordedRuns } from "./dispatcher/unrecorded-runs";
import { publishInstances } from "./fleet-room/client";
import { runRoomClient } from "./run-room/client";
import { RunEventOrder } from "./run-room/ordered-publish";

/** How a report was taken: `freed` is applied, with its run's slot freed and dispatched already. */
type Applied = "ok" | "stale" | "freed";

const SEEN_REPORTS_RETENTION_MS = 24 * 3600_000;
/**
 * Reports that change nothing D1 or a webhook holds when applied again (a copy resent after this
 * object lost its memory): the same prompt id, a status move already made (refused by its
 * compare-and-set), the run's progress once more. They are remembered in memory only, which spares a
 * storage commit per report of a run's walk, one per progress event.
 */
const REAPPLIABLE_REPORTS: ReadonlySet<RunReport["kind"]> = new Set([
  "accepted",
  "started",
  "progress",
  "uploading",
]);
/** Heartbeats refresh the machine's D1 row (`last_seen_at`) at most this often. */
const LAST_SEEN_WRITE_INTERVAL_MS = 5 * 60_000;
/** An agent not heard from for this many heartbeat intervals counts as not alive. */
const LIVENESS_INTERVALS = 3;
/** After a cold start, agents get at least this long (or one lease TTL) to reconnect and reclaim their leases. */
const RESTART_GRACE_MS = 15_000;

/**
 * One per machine pool of a tenant: the durable run queue, the agents' hibernatable sockets and the
 * leases that bind a run to one agent slot. Jobs are pushed to an idle slot the moment one exists.
 */
export class Dispatcher extends DurableObject<Bindings> {
  private readonly queue: JobQueue;
  private readonly agents: AgentRegistry;
  private readonly runs: RunReports;
  private readonly budgets = new AgentBudgets();
  private readonly fleet: FleetState;
  private readonly slotModels: SlotModels;
  private readonly unrecorded: UnrecordedRuns;
  /** This object's publishes to run rooms, in order per run (warnings at accept, then reports'). */
  private readonly runEvents = new RunEventOrder(this.env);
  /** Work on one run happens in order; different runs proceed independently. */
  private readonly runChains = new Map<string, Promise<unknown>>();
  /**
   * The alarm as this object last set or read it (undefined: not read since it started), so a dispatch
   * reads storage only to move the alarm earlier. Only this object sets it.
   */
  private alarmAt: number | null | undefined;

  constructor(ctx: DurableObjectState, env: Bindings) {
    super(ctx, env);
    this.queue = new JobQueue(ctx.storage.sql);
    this.agents = new AgentRegistry(ctx);
    this.runs = new RunReports({ env, db: createDb(env.DB), order: this.runEvents });
    this.fleet = new FleetState(ctx.storage.sql);
    this.slotModels = new SlotModels(ctx.storage.sql);
    this.unrecorded = new UnrecordedRuns(ctx.storage.sql);
    this.graceLeasesAfterColdStart();
    this.recordHeldRuns();
  }

  /**
   * Rows a restart caught between storing their job and writing them (the job may be on an agent
   * already): written now, first on each run's chain, so the run's reports find them.
   */
  private recordHeldRuns() {
    for (const held of this.unrecorded.all()) {
      // A job that left the queue (cancelled once its row existed) has nothing left to write.
      if (!this.queue.get(held.id)) this.unrecorded.release(held.id);
      else {
        const { graph, bindings } = this.queue.payload(held.id);
        void this.serial(held.id, () => this.record({ ...held, graph, bindings }, true));
      }
    }
  }

  /**
   * A new isolate lost every socket with the old one: its agents are reconnecting and may still run
   * their jobs. No lease held by one of them expires before they had time to say so in hello.
   */
  private graceLeasesAfterColdStart() {
    this.queue.graceLeases(Date.now() + Math.max(this.leaseTtlMs, RESTART_GRACE_MS));
  }

  private get leaseTtlMs() {
    return this.fleet.settings().leaseTtlMs ?? (Number(this.env.LEASE_TTL_MS) || 30_000);
  }

  private get maxAttempts() {
    return this.fleet.settings().maxAttempts ?? (Number(this.env.MAX_RUN_ATTEMPTS) || 3);
  }

  private get heartbeatIntervalMs() {
    return this.fleet.settings().heartbeatIntervalMs ?? Math.max(1000, Math.floor(this.leaseTtlMs / 3));
  }

  async ping(): Promise<{ ok: true; at: number }> {
    return { ok: true, at: Date.now() };
  }

  // ---- client side (RPC) ----

  /**
   * Queues a new run and dispatches at once if a slot is idle: this queue is the run's first durable
   * home, so its job can leave for an agent while the run's D1 row is still being written. The row
   * (`run`, less the graph and bindings its job carries) gets `whenNoAgent` among its warnings if no
   * agent is connected. The write is the first work on the run's chain, then the room's `warning`
   * events, so they come before the lease's `queued` and every report; the call returns once the row
   * exists (the events follow on the chain): the row as written, less the graph, inputs and bindings
   * its caller holds, and how many runs wait before it. A row that cannot be written takes the job
   * back. Enqueuing a run already held changes nothing and returns its row as stored.
   */
  async enqueue(
    job: NewJob,
    run: HeldRow,
    whenNoAgent: RunWarning | null = null,
  ): Promise<{ run: InsertedRun; position: number | null }> {
    const fallback = this.fleet.settings().defaultTimeoutMinutes;
    const added = this.queue.add(
      job.deadlineAt === null && fallback ? { ...job, deadlineAt: Date.now() + fallback * 60_000 } : job,
    );
    const held =
      whenNoAgent && this.agents.connectedCount() === 0
        ? { ...run, warnings: [...(run.warnings ?? []), whenNoAgent] }
        : run;
    // In the same storage write as the job: a restart before the row is written leaves it to write.
    if (added) this.unrecorded.hold(held);
    const recorded = this.serial(run.id, () =>
      added
        ? this.recordAndWarn({ ...held, graph: job.payload.graph, bindings: job.payload.bindings })
        : this.storedRun(run.id),
    );
    const [row] = await Promise.all([recorded, this.dispatch()]);
    return { run: row, position: this.queue.position(job.runId) };
  }

  /**
   * Writes a new run's row, then hands its warnings to the run's event order, which keeps them ahead of
   * every later event of the run; nobody waits for their publish. A run whose row was not written has
   * no events.
   */
  private async recordAndWarn(run: NewRunRow): Promise<InsertedRun> {
    const row = await this.record(run);
    if (run.warnings?.length) {
      const events = run.warnings.map((data) => ({ type: "warning" as const, data }));
      runRoomClient(this.env, run.id, this.runEvents)
        .publish(events)
        .catch((error) =>
          console.error(
            JSON.stringify({ event: "warning_publish_failed", run_id: run.id, error: String(error) }),
          ),
        );
    }
    return row;
  }

  /**
   * Writes a new run's row; if it cannot be written, its job is withdrawn. After a restart the row may
   * have been written just before it: that one stands.
   */
  private async record(run: NewRunRow, afterRestart = false): Promise<InsertedRun> {
    const db = createDb(this.env.DB);
    let withdrawn = false;
    try {
      return await insertRun(db, run);
    } catch (error) {
      const written = afterRestart ? await findRunById(db, run.id) : undefined;
      if (written) return written;
      this.withdraw(run.id);
      withdrawn = true;
      throw error;
    } finally {
      this.unrecorded.release(run.id);
      // A withdrawn job's hold goes in the same write, or a restart could still write the row its
      // caller was told failed; rows written on waking have no next write to ride on soon.
      if (withdrawn || afterRestart) this.unrecorded.flush();
    }
  }

  /** A job whose run has no row: it leaves the queue, or is stopped if already sent. */
  private withdraw(runId: string) {
    const job = this.queue.get(runId);
    if (job?.state === "queued") this.queue.remove(runId);
    else if (job) this.stopOnAgent(job, "cancelled");
  }

  private async storedRun(runId: string): Promise<RunRow> {
    const row = await findRunById(createDb(this.env.DB), runId);
    if (!row) throw new Error(`run ${runId} is queued but has no row`);
    return row;
  }

  async position(runId: string): Promise<number | null> {
    return this.queue.position(runId);
  }

  /**
   * Ends a run it holds as `cancelled` (or `timeout`) and stops it: a waiting one leaves the queue; a
   * leased one is told to stop and keeps its slot until it does. It runs on the run's chain, after any
   * report already received: a run whose `succeeded` came first stays a success ("unknown" here), and
   * once cancelled, whatever its agent uploads is deleted when it stops (see `endStopping`).
   */
  async cancel(runId: string, reason: "cancelled" | "timeout"): Promise<CancelOutcome> {
    return this.serial(runId, async () => {
      const job = this.queue.get(runId);
      if (!job || job.state === "stopping") return job ? "stopping" : "unknown";
      await (reason === "timeout" ? this.runs.timedOut(runId) : this.runs.cancelled(runId));
      if (job.state === "queued") {
        this.queue.remove(runId);
        return "removed";
      }
      this.stopOnAgent(job, reason);
      return "stopping";
    });
  }

  /**
   * Fails each of these `not-started` runs that this queue does not hold: the request that created it
   * was cut off before its enqueue arrived, so nothing would ever run it. Returns the ids it failed.
   */
  async failUnqueued(runIds: string[]): Promise<string[]> {
    const failed = await Promise.all(
      runIds.map((runId) =>
        this.serial(runId, async () => {
          if (this.queue.get(runId)) return null;
          const ended = await this.runs.failed(runId, {
            code: "not_queued",
            message: "The run was recorded but never queued: the request that created it was cut off",
          });
          return ended ? runId : null;
        }),
      ),
    );
    return failed.filter((id) => id !== null);
  }

  async stats() {
    return { ...this.queue.counts(), agents: this.agents.connectedCount() };
  }

  // ---- fleet (RPC) ----

  /** The pool's machines and instances as they are now: connection, liveness, load, leases, flags. */
  async fleetSnapshot(): Promise<{ machines: LiveMachine[]; queue: ReturnType<JobQueue["counts"]> }> {
    const liveness = this.heartbeatIntervalMs * LIVENESS_INTERVALS;
    const machines = this.fleet.snapshot(this.agents.greeted(), this.queue.leasesBySlot(), liveness);
    return { machines, queue: this.queue.counts() };
  }

  /** Enables or disables one instance (or the whole machine when `instanceId` is null); a disabled one drains. */
  async setInstanceEnabled(machineId: string, instanceId: string | null, enabled: boolean): Promise<void> {
    this.fleet.setEnabled(machineId, instanceId ?? WHOLE_MACHINE, enabled);
    if (enabled) await this.dispatch();
  }

  /** Tells the tenant's `/ws` subscribers the state of a machine's instances. */
  private async announce(machineId: string, userId: string) {
    const machine = (await this.fleetSnapshot()).machines.find((m) => m.machineId === machineId);
    if (machine) await publishInstances(this.env, userId, instanceStatuses(machine));
  }

  async configure(settings: PoolSettings): Promise<void> {
    this.fleet.configure(settings);
  }

  /** A deleted machine: its socket is closed for good and its runs go back in line. */
  /**
   * Sends `free_memory` to the connected agents among these machines (only their listed instances,
   * when given); returns the machines it reached. Fire and forget: ComfyUI's `/free` has no result.
   */
  freeMemory(targets: { machineId: string; instanceIds?: string[] }[], freeMemory: boolean): string[] {
    const reached: string[] = [];
    for (const { machineId, instanceIds } of targets) {
      const ws = this.agents.socketOf(machineId);
      if (!ws) continue;
      this.send(ws, { type: "free_memory", instance_ids: instanceIds, free_memory: freeMemory });
      reached.push(machineId);
    }
    return reached;
  }

  /**
   * Sends each connected machine among these its unfinished model downloads (the rows are in D1 already;
   * a machine offline now gets them in its next hello). Returns the machines reached.
   */
  async sendModelDownloads(machineIds: string[]): Promise<string[]> {
    const reached: string[] = [];
    for (const machineId of machineIds) {
      const ws = this.agents.socketOf(machineId);
      if (ws && (await this.sendDownloadsTo(ws, this.agents.attachment(ws)))) reached.push(machineId);
    }
    return reached;
  }

  /** Sends a model deletion or disk cleanup to the connected agents among these machines; those reached. */
  removeModels(machineIds: string[], message: ModelDeleteMessage | ModelCleanupMessage): string[] {
    return machineIds.filter((machineId) => {
      const ws = this.agents.socketOf(machineId);
      return ws !== undefined && this.send(ws, message);
    });
  }

  private async sendDownloadsTo(ws: WebSocket, agent: AgentAttachment): Promise<boolean> {
    const messages = await downloadMessages(this.env, createDb(this.env.DB), agent);
    return messages.every((message) => this.send(ws, message));
  }

  async disconnectMachine(machineId: string): Promise<void> {
    this.fleet.forget(machineId);
    this.slotModels.forget(machineId);
    for (const ws of this.agents.socketsOf(machineId)) ws.close(CloseCode.revoked, "machine deleted");
    await Promise.all(
      this.queue.leasedTo(machineId).map((job) => this.loseLease(job, "its machine was deleted")),
    );
    await this.dispatch();
  }

  // ---- agent side ----

  override async fetch(request: Request): Promise<Response> {
    const identity: AgentIdentity = readAgentIdentity(request);
    // A machine has one live link: a new connection replaces the old one.
    for (const old of this.agents.socketsOf(identity.machineId))
      old.close(CloseCode.replaced, "replaced by a new connection");
    const { 0: client, 1: server } = new WebSocketPair();
    this.agents.accept(server, { ...identity, greeted: false, draining: false, instances: [] });
    return new Response(null, { status: 101, webSocket: client });
  }

  /** Each message is handled on its own: a failure answers an error frame and the link stays up. */
  override async webSocketMessage(ws: WebSocket, raw: string | ArrayBuffer): Promise<void> {
    try {
      await this.handleMessage(ws, raw);
    } catch (error) {
      console.error(JSON.stringify({ event: "agent_message_failed", error: String(error) }));
      this.send(ws, { type: "error", code: "internal_error", message: "The message could not be handled" });
    }
  }

  private async handleMessage(ws: WebSocket, raw: string | ArrayBuffer): Promise<unknown> {
    const verdict = this.budgets.take(ws, raw);
    if (verdict === "close") return ws.close(CloseCode.over_budget, "message budget exhausted");
    if (verdict === "refused") {
      return this.send(ws, { type: "error", code: "rate_limited", message: "over budget: not applied" });
    }
    if (typeof raw !== "string") return this.protocolError(ws, "binary frames are not part of protocol v1");
    let parsed: ReturnType<typeof AgentMessage.safeParse>;
    try {
      parsed = AgentMessage.safeParse(JSON.parse(raw));
    } catch {
      return this.protocolError(ws, "frame is not JSON");
    }
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return this.send(ws, {
        type: "error",
        code: "invalid_message",
        message: `${issue?.path.join(".") || "message"}: ${issue?.message ?? "invalid"}`,
      });
    }
    const message = parsed.data;
    const agent = this.agents.attachment(ws);
    if (message.type !== "hello" && !agent.greeted)
      return this.protocolError(ws, "the first message must be hello");
    switch (message.type) {
      case "hello":
        return this.onHello(ws, agent, message);
      case "heartbeat":
        return this.onHeartbeat(ws, agent, message);
      case "report":
        return this.onReport(ws, agent, message);
      case "upload_request":
        return this.onUploadRequest(ws, agent, message);
      case "preview":
        return relayPreview(this.env, this.queue, agent, message);
      case "object_info":
        return this.onObjectInfo(ws, agent, message);
      case "models":
        return this.onModels(ws, agent, message);
      case "model_download_progress":
        return applyDownloadProgress(this.env, createDb(this.env.DB), agent, message);
      case "model_download_result":
        return applyDownloadResult(this.env, createDb(this.env.DB), agent, message);
      case "models_removed":
        return announceRemoval(this.env, agent, message);
    }
  }

  override async webSocketClose(ws: WebSocket, code: number) {
    const agent = this.agents.attachment(ws);
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, "closing");
    } catch {
      // already closed
    }
    // Leases outlive the socket: an agent that comes back in time keeps its runs.
    if (!this.agents.socketOf(agent.machineId)) {
      await recordMachineState(createDb(this.env.DB), agent.machineId, { status: "offline" });
      await enqueueMachineWebhooks(this.env, createDb(this.env.DB), { ...agent, status: "offline" });
      await this.announce(agent.machineId, agent.userId);
    }
  }

  override async webSocketError(ws: WebSocket) {
    await this.webSocketClose(ws, 1011);
  }

  private async onHello(ws: WebSocket, agent: AgentAttachment, hello: HelloMessage) {
    await this.loadSettings(agent.userId);
    const instances = hello.instances.map((i) => ({ id: i.id, available: i.available, reason: i.reason }));
    this.agents.update(ws, {
      greeted: true,
      draining: false,
      instances,
      lastSeenAt: Date.now(),
      persistedAt: Date.now(),
      gpus: hello.gpus,
    });
    this.fleet.rememberHello(agent.machineId, hello);
    const keep: string[] = [];
    const drop: string[] = [];
    const expiresAt = Date.now() + this.leaseTtlMs;
    for (const job of hello.in_flight) {
      if (
        this.queue.holds(job.run_id, job.lease_token) &&
        this.queue.renew(job.run_id, job.lease_token, expiresAt)
      ) {
        keep.push(job.run_id);
      } else {
        drop.push(job.run_id);
      }
    }
    this.send(ws, {
      type: "welcome",
      machine_id: agent.machineId,
      heartbeat_interval_ms: this.heartbeatIntervalMs,
      lease_ttl_ms: this.leaseTtlMs,
      budget: AGENT_SEND_BUDGET,
      keep,
      drop,
    });
    // Runs leased to this machine that the agent no longer has were lost with its previous process.
    const lost = this.queue.leasedTo(agent.machineId).filter((job) => !keep.includes(job.run_id));
    await Promise.all(lost.map((job) => this.loseLease(job, "the agent restarted without it")));
    await recordMachineState(createDb(this.env.DB), agent.machineId, {
      status: "online",
      info: { agent: hello.agent, gpus: hello.gpus, instances: hello.instances, protocol: PROTOCOL_VERSION },
    });
    await enqueueMachineWebhooks(this.env, createDb(this.env.DB), { ...agent, status: "online" });
    await this.announce(agent.machineId, agent.userId);
    await this.dispatch();
    await this.requestMissingDefinitions(ws, agent.machineId, hello.instances);
    this.requestStaleModels(ws, agent.machineId, hello.instances);
    await this.sendDownloadsTo(ws, agent);
  }

  /** Node definitions (`GET /object_info`) travel by hash: the full set only when this plane lacks it. */
  private async requestMissingDefinitions(
    ws: WebSocket,
    machineId: string,
    instances: { id: string; object_info_hash?: string | undefined }[],
  ) {
    const missing = await linkReportedDefinitions(createDb(this.env.DB), machineId, instances);
    for (const { instance_id, hash } of missing) {
      this.send(ws, { type: "object_info_request", instance_id, hash });
    }
  }

  /** Model inventories travel by hash too: a list only when the stored one is not that hash. */
  private requestStaleModels(
    ws: WebSocket,
    machineId: string,
    instances: { id: string; models_hash?: string | undefined }[],
  ) {
    const stale = staleModelInventories(this.slotModels, machineId, instances);
    for (const { instance_id, hash } of stale) this.send(ws, { type: "models_request", instance_id, hash });
  }

  private async onModels(ws: WebSocket, agent: AgentAttachment, message: ModelsMessage) {
    const refused = await storeReportedModels(
      createDb(this.env.DB),
      this.slotModels,
      agent.machineId,
      message,
    );
    if (refused) return this.send(ws, { type: "error", code: "invalid_message", message: refused });
    // Jobs waiting for these files may run on it now.
    await this.dispatch();
  }

  private async onObjectInfo(ws: WebSocket, agent: AgentAttachment, message: ObjectInfoMessage) {
    const db = createDb(this.env.DB);
    const refused = await storeReportedDefinitions(db, this.env.BUCKET, agent.machineId, message);
    if (refused) this.send(ws, { type: "error", code: "invalid_message", message: refused });
  }

  /** The tenant's fleet settings, in case this Dispatcher started after the last update was pushed. */
  private async loadSettings(userId: string) {
    const stored = await findFleetSettings(createDb(this.env.DB), userId);
    if (stored) this.fleet.configure(poolSettings(stored.settings));
  }

  private async onHeartbeat(
    ws: WebSocket,
    agent: AgentAttachment,
    beat: Extract<AgentMessage, { type: "heartbeat" }>,
  ) {
    const expiresAt = Date.now() + this.leaseTtlMs;
    for (const lease of beat.leases) {
      const job = this.queue.get(lease.run_id);
      if (job?.machine_id === agent.machineId) this.queue.renew(lease.run_id, lease.lease_token, expiresAt);
    }
    await this.touch(ws, agent, beat);
    const draining = beat.draining ?? agent.draining;
    const instances = beat.instances ?? agent.instances;
    if (draining !== agent.draining || JSON.stringify(instances) !== JSON.stringify(agent.instances)) {
      this.agents.update(ws, { draining, instances });
      await this.announce(agent.machineId, agent.userId);
      // An instance that came back with other custom nodes reports a new hash.
      if (beat.instances) {
        await this.requestMissingDefinitions(ws, agent.machineId, beat.instances);
        this.requestStaleModels(ws, agent.machineId, beat.instances);
      }
      if (draining !== agent.draining) {
        await recordMachineState(createDb(this.env.DB), agent.machineId, {
          status: draining ? "draining" : "online",
        });
      }
    }
    await this.dispatch();
  }

  /** Keeps the heartbeat's live state on the socket; the D1 row is refreshed only now and then. */
  private async touch(
    ws: WebSocket,
    agent: AgentAttachment,
    beat: Extract<AgentMessage, { type: "heartbeat" }>,
  ) {
    const now = Date.now();
    const persist = now - (agent.persistedAt ?? 0) >= LAST_SEEN_WRITE_INTERVAL_MS;
    this.agents.update(ws, {
      lastSeenAt: now,
      gpus: beat.gpus ?? agent.gpus,
      system: beat.system ?? agent.system,
      ...(persist ? { persistedAt: now } : {}),
    });
    if (persist) {
      await recordMachineState(createDb(this.env.DB), agent.machineId, {
        status: (beat.draining ?? agent.draining) ? "draining" : "online",
      });
    }
  }

  private async onReport(ws: WebSocket, agent: AgentAttachment, message: ReportMessage) {
    const { event_id, run_id } = message;
    let applied: Applied;
    try {
      applied = await this.serial(run_id, (release) => this.applyReport(agent, message, release));
    } catch (error) {
      return this.refuseReport(ws, message, error);
    }
    this.send(ws, { type: "ack", event_id, status: applied === "stale" ? "stale" : "ok" });
    // Only a run's end frees its slot; other reports leave nothing new to dispatch.
    if (applied === "ok" && TERMINAL_REPORTS.has(message.report.kind)) await this.dispatch();
  }

  /**
   * A report that cannot be applied: the agent gets an error frame naming the report, and the run ends
   * `failed` with the reason instead of staying `running`. Once it has, the report is acked `stale`, so
   * the agent drops it and stops the job.
   */
  private async refuseReport(ws: WebSocket, message: ReportMessage, error: unknown) {
    const { event_id, run_id, lease_token } = message;
    const refused =
      error instanceof ReportRefused
        ? error
        : new ReportRefused(
            "report_failed",
            `The control plane could not apply a ${message.report.kind} report`,
          );
    if (!(error instanceof ReportRefused))
      console.error(
        JSON.stringify({ event: "report_failed", run_id, kind: message.report.kind, error: String(error) }),
      );
    this.send(ws, { type: "error", code: refused.code, message: refused.message, request_id: event_id });
    const ended = await this.serial(run_id, async () => {
      if (!this.queue.holds(run_id, lease_token)) return false;
      await this.runs.failed(run_id, { code: refused.code, message: refused.message });
      this.queue.remove(run_id);
      return true;
    }).catch(() => false);
    if (!ended) return;
    this.send(ws, { type: "ack", event_id, status: "stale" });
    await this.dispatch();
  }

  /**
   * Applies a report once, and only from the holder of the run's live lease. Once the report is
   * applied (D1 holds it; its room events are queued behind the run's earlier ones) the run's next
   * report may start (`release`) while it is announced. A report that ends the run is remembered then,
   * in the same storage write that takes its job out of the queue, and the next job goes to the freed
   * slot; any other report is remembered once announced, so this object's storage write does not
   * come between its event and the room (locally they share one thread). A restart before the write
   * applies the resent copy again, which finds D1 already moved; the ack waits for the announcement.
   */
  private async applyReport(
    agent: AgentAttachment,
    message: ReportMessage,
    release: () => void,
  ): Promise<Applied> {
    const { event_id, run_id, lease_token, report } = message;
    if (this.queue.wasSeen(event_id)) return "ok";
    const job = this.queue.get(run_id);
    if (!job || job.machine_id !== agent.machineId || !this.queue.holds(run_id, lease_token)) return "stale";
    let freed = false;
    const applied = (ended: boolean) => {
      release();
      if (!ended) return;
      freed = true;
      this.queue.remove(run_id);
      this.queue.remember(event_id, true);
      this.unrecorded.flush();
      void this.dispatch().catch((error) =>
        console.error(JSON.stringify({ event: "dispatch_failed", run_id, error: String(error) })),
      );
    };
    // A stopping run is already final in D1; only its logs still matter.
    if (job.state !== "stopping" || report.kind === "log") {
      // Only a success names keys; every other report is applied without reading the grants.
      const grantedKeys =
        report.kind === "succeeded" ? this.queue.grantedKeys(run_id, lease_token) : new Set<string>();
      try {
        await this.runs.apply(
          { runId: run_id, userId: job.user_id, origin: agent.origin, grantedKeys },
          report,
          applied,
        );
      } catch (error) {
        // Once D1 holds the end the report is applied; only announcing it failed.
        if (!freed) throw error;
        console.error(JSON.stringify({ event: "run_end_announce_failed", run_id, error: String(error) }));
      }
    }
    if (freed) return "freed";
    if (report.kind === "released")
      await this.loseLease(job, `the agent released it: ${report.reason}`, false);
    else if (job.state === "stopping" && TERMINAL_REPORTS.has(report.kind)) await this.endStopping(job);
    else if (TERMINAL_REPORTS.has(report.kind)) this.queue.remove(run_id);
    // Only once applied: a restart in the middle leaves its resent copy to apply.
    this.queue.remember(event_id, !REAPPLIABLE_REPORTS.has(report.kind));
    return "ok";
  }

  private async onUploadRequest(
    ws: WebSocket,
    agent: AgentAttachment,
    message: Extract<AgentMessage, { type: "upload_request" }>,
  ) {
    const job = this.queue.get(message.run_id);
    // A cancelled or timed-out run uploads nothing more.
    if (!job || job.state === "stopping" || !this.queue.holds(message.run_id, message.lease_token)) {
      return this.send(ws, {
        type: "error",
        code: "stale_lease",
        message: job?.state === "stopping" ? "run stopping: no upload" : "lease not held",
        request_id: message.request_id,
      });
    }
    const owner = { userId: job.user_id, runId: job.run_id, attempt: job.attempt };
    const files = await outputUploadGrants(this.env, agent.origin, owner, message.files);
    this.queue.grant(
      job.run_id,
      message.lease_token,
      files.map((f) => f.key),
    );
    this.send(ws, { type: "upload_urls", request_id: message.request_id, files });
  }

  // ---- dispatching and leases ----

  /**
   * Pushes waiting jobs to idle slots, highest priority first, then oldest. Recording each lease in D1
   * runs on the run's own chain, after the job is sent and without holding up the caller.
   */
  private async dispatch() {
    for (const { slot, held } of this.idleSlotsByModels()) {
      const job = this.queue.nextWaitingFor(slot.machineId, slot.gpus, [null, ...held]);
      if (!job) continue;
      const lease = {
        machineId: slot.machineId,
        instanceId: slot.instanceId,
        token: randomToken("lease_", 18),
        expiresAt: Date.now() + this.leaseTtlMs,
      };
      this.queue.lease(job.run_id, lease);
      const sent = this.send(slot.ws, {
        type: "job",
        run_id: job.run_id,
        lease_token: lease.token,
        lease_expires_at: lease.expiresAt,
        attempt: job.attempt,
        instance_id: slot.instanceId,
        ...this.queue.payload(job.run_id),
        deadline_at: job.deadline_at,
      });
      if (!sent) {
        this.queue.requeue(job.run_id, job.attempt);
        continue;
      }
      void this.serial(job.run_id, (release) =>
        this.runs.leased(job.run_id, slot.machineId, job.attempt, slot.instanceId, release),
      );
    }
    await this.scheduleAlarm();
  }

  /**
   * The idle slots, each with the model keys of waiting jobs it holds every file of (a job naming model
   * files goes only to such a slot). Slots holding fewer go first, so a job naming no file is taken by
   * one that could not run the others, not by the only one that could.
   */
  private idleSlotsByModels() {
    const idle = this.agents.idleSlots(this.queue.busySlots(), this.fleet.disabledSlots());
    // With every slot busy (a loaded pool, most passes) the waiting jobs' files are not read at all.
    if (idle.length === 0) return [];
    const modelKeys = this.queue.waitingModelKeys();
    return idle
      .map((slot) => ({
        slot,
        held: modelKeys.filter((key) => this.slotModels.holdsAll(slot.machineId, slot.instanceId, key)),
      }))
      .sort((a, b) => a.held.length - b.held.length);
  }

  /** A lease that ended without a result: the run goes back in line, or fails after its last attempt. */
  private async loseLease(job: Job, why: string, serialise = true) {
    const work = async () => {
      if (job.state === "stopping") return this.endStopping(job);
      if (job.attempt >= this.maxAttempts) {
        this.queue.remove(job.run_id);
        await this.runs.failed(job.run_id, {
          code: "lease_expired",
          message: `Gave up after ${job.attempt} attempts; the last ended because ${why}`,
        });
        return;
      }
      this.queue.requeue(job.run_id, job.attempt + 1);
      await this.runs.requeued(job.run_id, job.attempt + 1);
    };
    await (serialise ? this.serial(job.run_id, work) : work());
  }

  /**
   * A cancelled or timed-out run has stopped: it is already final in D1 with no outputs, so whatever its
   * agent uploaded before it heard of the cancel is deleted; no object stays in R2 without a file record.
   */
  private async endStopping(job: Job) {
    if (job.lease_token)
      await discardUploadedOutputs(this.env, this.queue.grantedKeys(job.run_id, job.lease_token));
    this.queue.remove(job.run_id);
  }

  private stopOnAgent(job: Job, reason: "cancelled" | "timeout") {
    this.queue.markStopping(job.run_id, reason);
    const ws = job.machine_id ? this.agents.socketOf(job.machine_id) : undefined;
    if (ws && job.lease_token)
      this.send(ws, { type: "cancel", run_id: job.run_id, lease_token: job.lease_token, reason });
  }

  override async alarm() {
    // A fired alarm is no longer set; the dispatch below sets the next one.
    this.alarmAt = null;
    const now = Date.now();
    for (const job of this.queue.pastDeadline(now)) {
      await this.serial(job.run_id, () => this.runs.timedOut(job.run_id));
      if (job.state === "queued") this.queue.remove(job.run_id);
      else this.stopOnAgent(job, "timeout");
    }
    for (const job of this.queue.expiredLeases(now))
      await this.loseLease(job, "its agent stopped renewing the lease");
    this.queue.forgetReportsBefore(now - SEEN_REPORTS_RETENTION_MS);
    this.unrecorded.flush();
    await this.dispatch();
  }

  private async scheduleAlarm() {
    const next = this.queue.nextWakeUp();
    if (next === null) return;
    if (this.alarmAt === undefined) this.alarmAt = await this.ctx.storage.getAlarm();
    if (this.alarmAt !== null && next >= this.alarmAt) return;
    await this.ctx.storage.setAlarm(next);
    this.alarmAt = next;
  }

  /**
   * Queues work on the run's chain. The next work starts when this one ends, or earlier when it calls
   * `release`: what is left of it (announcing what D1 already holds) keeps its own order elsewhere.
   */
  private serial<T>(runId: string, work: (release: () => void) => Promise<T>): Promise<T> {
    const previous = this.runChains.get(runId) ?? Promise.resolve();
    let release = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const next = previous.then(
      () => work(release),
      () => work(release),
    );
    const ended = next.then(
      () => {},
      (err) => console.error(`run ${runId}:`, err),
    );
    const settled = Promise.race([released, ended]);
    this.runChains.set(runId, settled);
    void settled.then(() => {
      if (this.runChains.get(runId) === settled) this.runChains.delete(runId);
    });
    return next;
  }

  private send(ws: WebSocket, message: ServerMessage): boolean {
    try {
      ws.send(JSON.stringify(message));
      return true;
    } catch {
      return false;
    }
  }

  private protocolError(ws: WebSocket, message: string) {
    this.send(ws, { type: "error", code: "protocol_error", message });
    ws.close(CloseCode.protocol_error, message.slice(0, 120));
  }
}
