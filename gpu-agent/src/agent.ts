import { join } from "node:path";
import type * as z from "zod/mini";
import {
  type AckMessage,
  type CancelMessage,
  type FreeMemoryMessage,
  type HelloMessage,
  type InFlightJob,
  type JobMessage,
  type ModelCleanupMessage,
  type ModelDeleteMessage,
  PROTOCOL_VERSION,
  type ReportMessage,
  type ServerMessage,
} from "../../src/protocol/v1";
import { type ComfyPort, createComfyPort } from "./comfy-adapter";
import { ComfyFolders } from "./comfy-folders";
import type { AgentConfig } from "./config";
import { gpusFromSystemStats, HostLoad } from "./host-load";
import { type ComfyInstance, InstancePool, type ObjectInfo, readObjectInfo } from "./instances";
import { JobJournal, type JobRecord } from "./job-journal";
import { JobRun } from "./job-runner";
import { Link, type LinkEnd, type Welcome } from "./link";
import type { Logger } from "./log";
import { ModelDownloads } from "./models/downloads";
import { FileHasher, JobGate } from "./models/file-hasher";
import { ModelHashCache } from "./models/hash-cache";
import { ModelInventory } from "./models/inventory";
import { graphStrings, ModelUsage } from "./models/model-usage";
import { cleanupToBudget, deleteModelFile, type ModelsDirectory } from "./models/removal";
import { Outbox } from "./outbox";
import { PreviewRelay } from "./previews";
import { Reports } from "./reports";
import type { Drainable } from "./shutdown";
import { agentInfo, type GpuInfo, readGpus } from "./system-info";
import { type AgentTimings, DEFAULT_TIMINGS } from "./timings";
import { UploadUrlRequests } from "./upload-url-requests";

/** How long after a budget refusal the agent sends again what cannot wait for a reconnect. */
const REFUSAL_RESEND_DELAY_MS = 1_000;

export interface AgentOptions {
  config: AgentConfig;
  log: Logger;
  timings?: Partial<AgentTimings>;
  readGpus?: () => Promise<GpuInfo[]>;
}

/** How the agent ended: 0 after a shutdown; 3 when the control plane will not take it back. */
export interface AgentExit {
  code: number;
  message: string;
}

/**
 * The agent: one link to the control plane, the host's ComfyUI instances, the jobs running on them
 * and the outbox their reports go through.
 */
export class Agent implements Drainable {
  readonly exited: Promise<AgentExit>;
  private resolveExit!: (exit: AgentExit) => void;
  private readonly jobs = new Map<string, JobRun>();
  private readonly link: Link;
  private readonly uploads: UploadUrlRequests;
  private readonly reports: Reports;
  private readonly previews: PreviewRelay;
  private readonly pool: InstancePool<ComfyPort>;
  private readonly timings: AgentTimings;
  private readonly trustedOrigins: string[];
  private draining = false;
  private gpus: GpuInfo[] = [];
  private readonly hostLoad: HostLoad;
  private gpuTimer: NodeJS.Timeout | undefined;
  private refusedResendTimer: NodeJS.Timeout | undefined;
  private readonly jobGate = new JobGate();
  /** Busy while a job uploads its outputs: model downloads yield to those. */
  private readonly uploadGate = new JobGate();
  private readonly downloads: ModelDownloads;
  /** Hashes every instance's model files, one at a time for the whole host. */
  readonly modelHasher = new FileHasher(this.jobGate);
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly options: AgentOptions,
    private readonly outbox: Outbox,
    private readonly journal: JobJournal,
    modelHashes: ModelHashCache,
    private readonly modelUsage: ModelUsage,
  ) {
    this.exited = new Promise((resolve) => {
      this.resolveExit = resolve;
    });
    const comfy = { ...DEFAULT_TIMINGS.comfy, unreachableMs: options.config.comfyDownS * 1000 };
    this.timings = { ...DEFAULT_TIMINGS, comfy, ...options.timings };
    this.hostLoad = new HostLoad(options.config.stateDir);
    this.trustedOrigins = [new URL(options.config.server.replace(/^ws/, "http")).origin];
    const createClient = (url: string) =>
      createComfyPort(url, {
        log: options.log,
        progressIntervalMs: options.config.progressThrottleMs,
        timings: this.timings.comfy,
      });
    this.pool = new InstancePool(options.config.comfy, createClient, {
      probeIntervalMs: this.timings.probeIntervalMs,
      probeTimeoutMs: this.timings.probeTimeoutMs,
      log: options.log,
      onChange: (instance) => {
        this.link.sendHeartbeat();
        void this.refreshModels(instance as ComfyInstance<ComfyPort>);
      },
    });
    options.config.comfyDir?.forEach((dir, i) => {
      const instance = this.pool.instances[i];
      if (instance) instance.folders = new ComfyFolders(dir, options.log);
    });
    this.pool.instances.forEach((instance, i) => {
      const dir = options.config.comfyDir?.[i];
      instance.models = new ModelInventory({
        lister: instance.client,
        modelsDir: dir === undefined ? undefined : join(dir, "models"),
        cache: modelHashes,
        hasher: this.modelHasher,
        log: options.log,
        onChange: () => this.link.sendHeartbeat(),
      });
    });
    for (const instance of this.pool.instances) {
      instance.client.onConnectionChange(() => void this.pool.probe(instance));
    }
    this.downloads = new ModelDownloads({
      modelsDirs: this.modelsDirectories().map(({ dir }) => dir),
      concurrency: options.config.modelDownloads,
      policy: { allowPrivate: options.config.allowPrivateInputs, trustedOrigins: this.trustedOrigins },
      reserveBytes: options.config.modelDiskReserveMb * 1024 * 1024,
      progressIntervalMs: this.timings.modelProgressMs,
      retryDelayMs: this.timings.modelRetryDelayMs,
      uploads: this.uploadGate,
      cache: modelHashes,
      send: (message) => this.link.send(message),
      onLanded: () => void this.refreshAllModels(),
      log: options.log,
    });
    this.reports = new Reports(
      outbox,
      {
        send: (message) => this.link.send(message),
        sendLatest: (key, message, superseded) => this.link.sendLatest(key, message, superseded),
      },
      options.log,
    );
    this.uploads = new UploadUrlRequests(
      (message) => this.link.send(message),
      this.timings.uploadUrlTimeoutMs,
      () => this.link.state === "ready",
    );
    this.link = new Link(
      {
        server: options.config.server,
        token: options.config.token,
        log: options.log,
        heartbeatMs: options.config.heartbeatMs,
        backoff: this.timings.backoff,
        handshakeTimeoutMs: this.timings.handshakeTimeoutMs,
        random: this.timings.random,
      },
      {
        hello: () => this.hello(),
        heartbeat: () => this.heartbeat(),
        onReady: (welcome) => this.onReady(welcome),
        onMessage: (message) => this.onMessage(message),
        onEnd: (end) => this.onLinkEnd(end),
      },
    );
    // Previews go straight to the socket, never through the outbox.
    this.previews = new PreviewRelay(this.link);
  }

  /**
   * Opens the outbox and the job journal, probes every ComfyUI once, picks up the runs it held before a
   * restart, then connects (its hello lists those runs, so the control plane keeps their leases).
   */
  static async start(options: AgentOptions): Promise<Agent> {
    const outbox = await Outbox.open(options.config.stateDir, options.log);
    if (outbox.size > 0) options.log.info(`outbox: ${outbox.size} report(s) from before to resend`);
    const journal = await JobJournal.open(options.config.stateDir, options.log);
    const modelHashes = await ModelHashCache.open(options.config.stateDir, options.log);
    const modelUsage = await ModelUsage.open(options.config.stateDir);
    const agent = new Agent(options, outbox, journal, modelHashes, modelUsage);
    if (!options.config.comfyDir) {
      options.log.warn(
        "ComfyUI's directory is not set (--comfy-dir / COMFYUI_DIR): the input and output files of runs stay in its folders, " +
          "and model files are reported by name only (no size or SHA-256)",
      );
    }
    await agent.pool.probeAll();
    await agent.refreshHostInfo();
    await agent.reattach();
    for (const instance of agent.pool.instances.filter((i) => !i.available)) {
      options.log.error(
        `!!! ${instance.id}: no ComfyUI answers at ${instance.url}. It takes no jobs until it does; ` +
          "start ComfyUI there or point --comfy / COMFYUI_URL at it.",
      );
    }
    agent.pool.start();
    agent.gpuTimer = setInterval(() => void agent.refreshHostInfo(), agent.timings.gpuRefreshMs);
    agent.link.start();
    return agent;
  }

  get linkState() {
    return this.link.state;
  }

  /** Reports not yet acknowledged by the control plane, oldest first. */
  get unackedReports(): ReportMessage[] {
    return this.reports.unacked();
  }

  get runningJobs(): JobRun[] {
    return [...this.jobs.values()];
  }

  // ---- link handlers ----

  private async hello(): Promise<z.input<typeof HelloMessage>> {
    return {
      type: "hello",
      protocol: PROTOCOL_VERSION,
      agent: agentInfo(),
      gpus: this.reportedGpus(),
      instances: this.pool.instances.map((instance) => instance.info()),
      in_flight: this.heldLeases(),
    };
  }

  private heartbeat() {
    const disks = this.pool.instances.flatMap(({ id, disk }) => (disk ? [{ instance_id: id, ...disk }] : []));
    return {
      leases: this.heldLeases().map(({ run_id, lease_token }) => ({ run_id, lease_token })),
      instances: this.pool.instances.map(({ id, available, reason, objectInfo, models }) => ({
        id,
        available,
        reason,
        object_info_hash: objectInfo?.hash,
        models_hash: models?.current?.hash,
      })),
      gpus: this.reportedGpus(),
      system: this.hostLoad.read(),
      disks: disks.length > 0 ? disks : undefined,
      draining: this.draining || undefined,
    };
  }

  /**
   * Leases this agent holds: its running jobs, plus runs whose final report still waits in the outbox
   * (finished while the link was down, or before a restart), so the server keeps them until it hears.
   */
  private heldLeases(): z.input<typeof InFlightJob>[] {
    const held = new Map<string, z.input<typeof InFlightJob>>();
    for (const run of this.jobs.values()) {
      const { run_id, lease_token, instance_id } = run.job;
      held.set(run_id, { run_id, lease_token, instance_id, prompt_id: run.promptId });
    }
    for (const lease of this.reports.unfinishedLeases())
      if (!held.has(lease.run_id)) held.set(lease.run_id, lease);
    return [...held.values()];
  }

  private onReady(welcome: Welcome) {
    const heartbeatMs = this.options.config.heartbeatMs ?? welcome.heartbeat_interval_ms;
    if (heartbeatMs * 2 > welcome.lease_ttl_ms) {
      this.options.log.warn("heartbeats are too slow for the lease TTL; leases may expire", {
        heartbeat_ms: heartbeatMs,
        lease_ttl_ms: welcome.lease_ttl_ms,
      });
    }
    for (const runId of welcome.drop) {
      const run = this.jobs.get(runId);
      if (run) {
        this.options.log.warn("the control plane no longer leases this run to us; stopping it", {
          run_id: runId,
        });
        run.stop();
      }
    }
    this.reports.resendAll();
    this.uploads.resendAll();
    if (this.draining) this.link.sendHeartbeat();
  }

  /**
   * The control plane refused a message unapplied (this connection went over its message budget), and
   * does not say which. Progress can wait for the next reconnect; an upload request or a run's final
   * report cannot, so those go again once the budget has had a second to refill.
   */
  private resendAfterRefusal() {
    this.refusedResendTimer ??= setTimeout(() => {
      this.refusedResendTimer = undefined;
      if (this.closing) return;
      this.uploads.resendAll();
      this.reports.resendFinal();
    }, REFUSAL_RESEND_DELAY_MS);
  }

  /**
   * The control plane lacks this instance's node definitions: they are read again and sent. ComfyUI's
   * definitions change while it runs (LoadImage lists the input folder's files, a loader its model
   * files), so a read that no longer matches the asked hash is sent under its own hash, which the
   * instance reports from then on.
   */
  private async sendObjectInfo(instanceId: string, hash: string) {
    const instance = this.pool.get(instanceId);
    if (!instance || instance.objectInfo?.hash !== hash) return;
    let read: ObjectInfo;
    try {
      read = await readObjectInfo(instance.client, AbortSignal.timeout(this.timings.probeTimeoutMs * 6));
    } catch (error) {
      this.options.log.warn(`${instanceId}: could not read /object_info to send it`, {
        error: String(error),
      });
      return;
    }
    if (read.hash !== hash) instance.useObjectInfo(read);
    this.link.send({
      type: "object_info",
      instance_id: instanceId,
      hash: read.hash,
      definitions: read.definitions,
    });
  }

  /** The control plane's inventory of this instance is stale: send it, if it is still that one. */
  private sendModels(instanceId: string, hash: string) {
    const models = this.pool.get(instanceId)?.models?.current;
    if (models?.hash !== hash) return;
    this.link.send({ type: "models", instance_id: instanceId, hash, models: models.models });
  }

  /** ComfyUI's POST /free on the named instances: it unloads every model they hold, between prompts. */
  private async freeMemory(message: FreeMemoryMessage) {
    const targets = this.pool.instances.filter(
      (instance) => !message.instance_ids || message.instance_ids.includes(instance.id),
    );
    const request = { unload_models: true, free_memory: message.free_memory };
    for (const instance of targets) {
      try {
        await instance.client.free(request, AbortSignal.timeout(this.timings.probeTimeoutMs));
        this.options.log.info(`${instance.id}: asked ComfyUI to unload its models`, request);
      } catch (error) {
        this.options.log.warn(`${instance.id}: POST /free failed`, { error: String(error) });
      }
    }
  }

  /** Each distinct ComfyUI models directory of this host, with the files its ComfyUI lists there. */
  private modelsDirectories(): ModelsDirectory[] {
    const directories = new Map<string, ModelsDirectory>();
    this.pool.instances.forEach((instance, i) => {
      const dir = this.options.config.comfyDir?.[i];
      if (dir === undefined) return;
      const models = join(dir, "models");
      // Instances sharing one directory list the same files: each file once.
      const files = new Map((directories.get(models)?.files ?? []).map((f) => [`${f.folder}/${f.name}`, f]));
      for (const file of instance.models?.current?.models ?? [])
        files.set(`${file.folder}/${file.name}`, file);
      directories.set(models, { dir: models, files: [...files.values()] });
    });
    return [...directories.values()];
  }

  /** Deletes model files from disk (one, or least recently used down to a budget), never a running job's. */
  private async removeModels(message: ModelDeleteMessage | ModelCleanupMessage) {
    const inUse = new Set([...this.jobs.values()].flatMap((run) => [...graphStrings(run.job.graph)]));
    const ctx = {
      directories: this.modelsDirectories(),
      inUse,
      lastUsedAt: (name: string) => this.modelUsage.lastUsedAt(name),
    };
    const outcome =
      message.type === "model_delete"
        ? await deleteModelFile(ctx, message.folder, message.name)
        : await cleanupToBudget(ctx, message.budget_bytes);
    this.options.log.info("model files removed", { request_id: message.request_id, ...outcome });
    this.link.send({ type: "models_removed", request_id: message.request_id, ...outcome });
    if (outcome.removed.length > 0) await this.refreshAllModels();
  }

  private async refreshAllModels() {
    await Promise.all(this.pool.instances.map((instance) => this.refreshModels(instance)));
  }

  private onMessage(message: Exclude<ServerMessage, Welcome>) {
    switch (message.type) {
      case "job":
        void this.onJob(message);
        break;
      case "cancel":
        this.onCancel(message);
        break;
      case "ack":
        this.onAck(message);
        break;
      case "upload_urls":
        this.uploads.answer(message);
        break;
      case "object_info_request":
        void this.sendObjectInfo(message.instance_id, message.hash);
        break;
      case "models_request":
        this.sendModels(message.instance_id, message.hash);
        break;
      case "free_memory":
        void this.freeMemory(message);
        break;
      case "model_download":
        this.downloads.start(message);
        break;
      case "model_delete":
      case "model_cleanup":
        void this.removeModels(message);
        break;
      case "error":
        if (message.code === "rate_limited") {
          // The agent paces itself under its budget: a refusal means the budget and the pacing disagree.
          this.options.log.warn("the control plane refused a frame over this link's budget; sending again");
          this.resendAfterRefusal();
        } else if (!message.request_id || !this.uploads.refuse(message.request_id, message.message)) {
          this.options.log.warn(`control plane error ${message.code}: ${message.message}`);
        }
        break;
    }
  }

  private onLinkEnd(end: LinkEnd) {
    if (end.kind === "stopped") return;
    this.options.log.error(end.message);
    for (const run of this.jobs.values()) run.stop();
    void this.closeLocal().then(() => this.resolveExit({ code: 3, message: end.message }));
  }

  // ---- jobs ----

  private async onJob(job: JobMessage) {
    const existing = this.jobs.get(job.run_id);
    if (existing?.job.lease_token === job.lease_token) return;
    const refusal = await this.refusalOf(job);
    if (refusal) {
      this.options.log.warn("handing a job back", { run_id: job.run_id, reason: refusal });
      await this.reports.report(job, { kind: "released", reason: refusal });
      return;
    }
    const instance = this.pool.get(job.instance_id) as ComfyInstance<ComfyPort>;
    this.options.log.info("job received", {
      run_id: job.run_id,
      instance: instance.id,
      attempt: job.attempt,
    });
    this.startRun(job, instance);
  }

  /** Runs a job on an instance (or picks up one journaled before a restart) until it is over. */
  private startRun(job: JobMessage, instance: ComfyInstance<ComfyPort>, resume?: JobRecord) {
    const { config } = this.options;
    const run = new JobRun({
      job,
      instance,
      resume,
      journal: this.journal,
      log: this.options.log,
      settings: {
        uploadConcurrency: config.uploadConcurrency,
        uploadRetryDelayMs: this.timings.uploadRetryDelayMs,
        uploadRetryForMs: this.timings.uploadRetryForMs,
        maxInputBytes: config.maxInputMb * 1024 * 1024,
        inputTimeoutMs: this.timings.inputTimeoutMs,
        allowPrivateInputs: config.allowPrivateInputs,
        trustedOrigins: this.trustedOrigins,
      },
      report: (report) => this.reports.report(job, report),
      uploads: this.uploadGate,
      requestUploadUrls: (files, signal) => this.uploads.request(job, files, signal),
      preview: (image) => this.previews.push(job, image),
      onComfyUnavailable: (reason) => {
        this.pool.markUnavailable(instance, reason);
        // A ComfyUI that lost the prompt in a restart may already be back: check now, not next round.
        void this.pool.probe(instance);
      },
    });
    instance.busyWith = job.run_id;
    this.jobs.set(job.run_id, run);
    void this.modelUsage.recordGraph(job.graph);
    this.jobGate.begin();
    void run.done.finally(() => {
      this.jobGate.end();
      this.previews.forget(job.run_id);
      if (this.jobs.get(job.run_id) === run) this.jobs.delete(job.run_id);
      if (instance.busyWith === job.run_id) instance.busyWith = undefined;
      this.options.log.info("job over", { run_id: job.run_id });
    });
  }

  /** Why this agent cannot run the job now, if it cannot. */
  private async refusalOf(job: JobMessage): Promise<string | undefined> {
    if (this.draining) return "agent shutting down";
    const instance = this.pool.get(job.instance_id);
    if (!instance) return `no instance ${job.instance_id} here`;
    // A run being stopped holds its instance a moment more, while ComfyUI interrupts it; so does a run
    // whose final report is out (the control plane sends the next job once it has it) while that
    // report's fsync and the run's clean-up finish.
    const previous = instance.busyWith ? this.jobs.get(instance.busyWith) : undefined;
    if (previous?.stopping || previous?.over) {
      let timer: NodeJS.Timeout | undefined;
      const waited = new Promise((resolve) => {
        timer = setTimeout(resolve, this.timings.busyWaitMs);
      });
      await Promise.race([previous.done, waited]);
      clearTimeout(timer);
    }
    if (!instance.available) return `${instance.id} unavailable: ${instance.reason}`;
    if (instance.busyWith) return `${instance.id} is busy with ${instance.busyWith}`;
    return undefined;
  }

  private onCancel(message: z.infer<typeof CancelMessage>) {
    const run = this.jobs.get(message.run_id);
    if (!run || run.job.lease_token !== message.lease_token) {
      this.options.log.debug("cancel for a run not running here; ignored", { run_id: message.run_id });
      return;
    }
    this.options.log.info("cancelling", { run_id: message.run_id, reason: message.reason });
    run.cancel();
  }

  private onAck(message: z.infer<typeof AckMessage>) {
    const entry = this.reports.ack(message);
    if (message.status !== "stale" || !entry) return;
    const run = this.jobs.get(entry.message.run_id);
    if (run && run.job.lease_token === entry.message.lease_token && !run.stopping) {
      this.options.log.warn("the control plane refused a report: lease no longer held; stopping the run", {
        run_id: entry.message.run_id,
      });
      run.stop();
    }
  }

  /** GPUs, the host's load and disk, and the disk space of ComfyUI's folders, for hello and heartbeats. */
  private async refreshHostInfo() {
    [this.gpus] = await Promise.all([(this.options.readGpus ?? readGpus)(), this.hostLoad.refreshDisk()]);
    for (const instance of this.pool.instances) instance.disk = await instance.folders?.diskSpace();
    await this.refreshAllModels();
  }

  /** Lists an answering instance's model files again; what changed goes out with the next heartbeat. */
  private async refreshModels(instance: ComfyInstance<ComfyPort>) {
    if (!instance.available) return;
    try {
      await instance.models?.refresh(AbortSignal.timeout(this.timings.probeTimeoutMs * 6));
    } catch (error) {
      this.options.log.debug(`${instance.id}: could not list its model files`, { error: String(error) });
    }
  }

  /**
   * Runs journaled by this agent's previous process. Those with a prompt in ComfyUI are followed again
   * (wherever ComfyUI has it: queued, running, or finished while the agent was away), never queued a
   * second time. One whose final report is already in the outbox is over; one that never reached
   * `POST /prompt` is left out of hello, so the control plane queues it again.
   */
  private async reattach() {
    const reported = new Set(this.reports.unfinishedLeases().map((lease) => lease.run_id));
    for (const record of await this.journal.list()) {
      const { job } = record;
      const instance = this.pool.get(job.instance_id);
      if (reported.has(job.run_id) || !record.prompt_id || !record.graph || !instance) {
        await instance?.folders?.remove(record.inputs);
        await this.journal.remove(job.run_id);
        continue;
      }
      this.options.log.info("picking up a run from before the restart", {
        run_id: job.run_id,
        prompt_id: record.prompt_id,
      });
      this.startRun(job, instance as ComfyInstance<ComfyPort>, record);
    }
  }

  /** nvidia-smi's view when it has one; otherwise the CUDA (or other) devices ComfyUI reports. */
  private reportedGpus(): GpuInfo[] {
    if (this.gpus.length > 0) return this.gpus;
    return this.pool.instances
      .flatMap((instance) => gpusFromSystemStats(instance.systemStats))
      .map((gpu, index) => ({ ...gpu, index }));
  }

  // ---- shutdown ----

  startDraining(): void {
    this.draining = true;
    this.link.sendHeartbeat();
  }

  async waitForJobs(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const settled = (async () => {
      while (this.jobs.size > 0) await Promise.allSettled(this.runningJobs.map((run) => run.done));
      return true as const;
    })();
    try {
      return await Promise.race([settled, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async releaseJobs(reason: string): Promise<void> {
    for (const run of this.runningJobs) void run.release(reason);
    // Released is reported at once; give ComfyUI a moment to stop the prompts, but do not wait on it.
    await this.waitForJobs(this.timings.busyWaitMs);
  }

  flushReports(timeoutMs: number): Promise<boolean> {
    return this.reports.waitUntilAcked(timeoutMs);
  }

  async close(): Promise<void> {
    await this.link.stop(1000, "agent shutting down");
    await this.closeLocal();
    this.resolveExit({ code: 0, message: "shut down" });
  }

  private closeLocal(): Promise<void> {
    this.closing ??= this.releaseLocalResources();
    return this.closing;
  }

  private async releaseLocalResources() {
    this.pool.stop();
    this.downloads.close();
    clearInterval(this.gpuTimer);
    clearTimeout(this.refusedResendTimer);
    await this.waitForJobs(this.timings.busyWaitMs);
    for (const instance of this.pool.instances) instance.client.close();
    await this.outbox.close();
  }
}
