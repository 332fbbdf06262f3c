import { createHash } from "node:crypto";
import type * as z from "zod/mini";
import type { InstanceInfo } from "../../src/protocol/v1";
import { outputNodeClasses } from "./comfy/fresh-outputs";
import type { ComfyFolders, DiskSpace } from "./comfy-folders";
import type { Logger } from "./log";
import type { ModelInventory } from "./models/inventory";

/** What the pool needs from a ComfyUI client to tell whether the instance answers. */
export interface InstanceProbe {
  systemStats(signal: AbortSignal): Promise<Record<string, unknown>>;
  objectInfo(signal: AbortSignal): Promise<Record<string, unknown>>;
}

/** One ComfyUI on this host: one slot, running one job at a time. */
export class ComfyInstance<Client extends InstanceProbe = InstanceProbe> {
  available = false;
  reason: string | undefined = "not probed yet";
  /** The run it is working on, if any. */
  busyWith: string | undefined;
  systemStats: Record<string, unknown> | undefined;
  nodeClasses: string[] | undefined;
  disk: DiskSpace | undefined;
  /** Its folders on this host, when the agent was told where they are. */
  folders: ComfyFolders | undefined;
  /**
   * The hash of its `GET /object_info`, by which the control plane knows the definitions, and what the
   * agent reads from them. The definitions themselves (megabytes of JSON per instance on a ComfyUI with
   * many custom nodes) are not kept: they are read again on the rare request for them.
   */
  objectInfo: { hash: string; outputNodes: ReadonlySet<string> } | undefined;
  /** Its model files, sent when the control plane asks for them by hash. */
  models: ModelInventory | undefined;

  constructor(
    readonly id: string,
    readonly url: string,
    readonly client: Client,
  ) {}

  /** Takes a fresh read of its node definitions as the set it reports. */
  useObjectInfo({ definitions, hash }: ObjectInfo) {
    this.nodeClasses = Object.keys(definitions);
    this.objectInfo = { hash, outputNodes: outputNodeClasses(definitions) };
  }

  info(): z.input<typeof InstanceInfo> {
    return {
      id: this.id,
      comfy_url: this.url,
      available: this.available,
      reason: this.reason,
      system_stats: this.systemStats,
      node_classes: this.nodeClasses,
      disk: this.disk,
      object_info_hash: this.objectInfo?.hash,
      models_hash: this.models?.current?.hash,
    };
  }
}

export interface InstancePoolOptions {
  probeIntervalMs: number;
  probeTimeoutMs: number;
  log: Logger;
  /** Called when an instance becomes available or unavailable. */
  onChange(instance: ComfyInstance): void;
}

/**
 * The host's ComfyUI instances (`comfy-0`, `comfy-1`, … in the order of `--comfy`), probed with
 * GET /system_stats so that one that went down takes no jobs until it answers again.
 */
export class InstancePool<Client extends InstanceProbe = InstanceProbe> {
  readonly instances: ComfyInstance<Client>[];
  private timer: NodeJS.Timeout | undefined;
  private probing = false;

  constructor(
    urls: string[],
    createClient: (url: string) => Client,
    private readonly options: InstancePoolOptions,
  ) {
    this.instances = urls.map((url, i) => new ComfyInstance(`comfy-${i}`, url, createClient(url)));
  }

  get(id: string): ComfyInstance<Client> | undefined {
    return this.instances.find((instance) => instance.id === id);
  }

  start(): void {
    this.timer ??= setInterval(() => void this.probeAll(), this.options.probeIntervalMs);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  async probeAll(): Promise<void> {
    if (this.probing) return;
    this.probing = true;
    try {
      await Promise.all(this.instances.map((instance) => this.probe(instance)));
    } finally {
      this.probing = false;
    }
  }

  /** Called when a job found the instance down; the probe brings it back once it answers. */
  markUnavailable(instance: ComfyInstance<Client>, reason: string): void {
    if (!instance.available && instance.reason === reason) return;
    const wasAvailable = instance.available;
    instance.available = false;
    instance.reason = reason;
    if (wasAvailable) {
      this.options.log.warn(`${instance.id} unavailable: ${reason}`, { url: instance.url });
      this.options.onChange(instance);
    }
  }

  /** Probes one instance now (its WebSocket just opened or closed) instead of at the next round. */
  async probe(instance: ComfyInstance<Client>): Promise<void> {
    const signal = AbortSignal.timeout(this.options.probeTimeoutMs);
    try {
      instance.systemStats = await instance.client.systemStats(signal);
    } catch (error) {
      this.markUnavailable(instance, `ComfyUI at ${instance.url} does not answer (${describe(error)})`);
      return;
    }
    if (instance.available) return;
    try {
      // Custom nodes may have changed while it was down, so read the classes again.
      instance.useObjectInfo(
        await readObjectInfo(instance.client, AbortSignal.timeout(this.options.probeTimeoutMs * 6)),
      );
    } catch (error) {
      this.options.log.warn(`${instance.id}: could not read /object_info`, { error: describe(error) });
    }
    instance.available = true;
    instance.reason = undefined;
    this.options.log.info(`${instance.id} available`, { url: instance.url });
    this.options.onChange(instance);
  }
}

/** An instance's node definitions, with the hash of their JSON text that names them to the control plane. */
export type ObjectInfo = { definitions: Record<string, unknown>; hash: string };

export async function readObjectInfo(client: InstanceProbe, signal: AbortSignal): Promise<ObjectInfo> {
  const definitions = await client.objectInfo(signal);
  const hash = createHash("sha256").update(JSON.stringify(definitions)).digest("hex");
  return { definitions, hash };
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.name === "TimeoutError" ? "timed out" : error.message;
  return String(error);
}
