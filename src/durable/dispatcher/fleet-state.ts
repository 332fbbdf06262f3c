import type { z } from "zod";
import { instanceKey } from "../../lib/instance-key";
import type { Gpu, HelloMessage, SystemLoad } from "../../protocol/v1";
import type { InstanceStatus } from "../fleet-room/events";
import type { AgentAttachment } from "./agent-registry";
import { slotKey, WHOLE_MACHINE } from "./job-queue";

/** Per-pool overrides of the fleet settings (`PUT /api/config`); unset keys fall back to the env. */
export type PoolSettings = {
  heartbeatIntervalMs?: number;
  leaseTtlMs?: number;
  maxAttempts?: number;
  defaultTimeoutMinutes?: number | null;
};

type SeenMachine = {
  instances: { id: string; comfy_url: string }[];
  gpus: z.infer<typeof Gpu>[];
};

export type LiveInstance = {
  id: string;
  comfyUrl: string | null;
  available: boolean;
  reason: string | null;
  enabled: boolean;
  alive: boolean;
  runId: string | null;
};

export type LiveMachine = {
  machineId: string;
  connected: boolean;
  draining: boolean;
  enabled: boolean;
  lastSeenAt: number | null;
  gpus: z.infer<typeof Gpu>[];
  system: SystemLoad | null;
  instances: LiveInstance[];
};

/**
 * What the fleet routes read from a Dispatcher: enabled flags and settings (durable, in its SQLite),
 * plus what the agents said at hello. Heartbeat state stays on the sockets' attachments, so a heartbeat
 * costs no storage write.
 */
export class FleetState {
  private settingsCache: PoolSettings | undefined;
  /** `disabledSlots` as stored: read on every dispatch pass, written only by `setEnabled` and `forget`. */
  private disabledCache: ReadonlySet<string> | undefined;

  constructor(private readonly sql: SqlStorage) {
    sql.exec(`CREATE TABLE IF NOT EXISTS fleet_flags (
      machine_id TEXT NOT NULL, instance_id TEXT NOT NULL, enabled INTEGER NOT NULL,
      PRIMARY KEY (machine_id, instance_id))`);
    sql.exec("CREATE TABLE IF NOT EXISTS fleet_seen (machine_id TEXT PRIMARY KEY, info TEXT NOT NULL)");
    sql.exec("CREATE TABLE IF NOT EXISTS fleet_settings (id INTEGER PRIMARY KEY, value TEXT NOT NULL)");
  }

  setEnabled(machineId: string, instanceId: string, enabled: boolean) {
    this.sql.exec(
      `INSERT INTO fleet_flags (machine_id, instance_id, enabled) VALUES (?, ?, ?)
       ON CONFLICT (machine_id, instance_id) DO UPDATE SET enabled = excluded.enabled`,
      machineId,
      instanceId,
      enabled ? 1 : 0,
    );
    this.disabledCache = undefined;
  }

  /** Slot keys that take no new job: disabled instances, and `machine/*` for disabled machines. */
  disabledSlots(): ReadonlySet<string> {
    this.disabledCache ??= new Set(
      this.sql
        .exec<{ machine_id: string; instance_id: string }>(
          "SELECT machine_id, instance_id FROM fleet_flags WHERE enabled = 0",
        )
        .toArray()
        .map((r) => slotKey(r.machine_id, r.instance_id)),
    );
    return this.disabledCache;
  }

  rememberHello(machineId: string, hello: HelloMessage) {
    const info: SeenMachine = {
      instances: hello.instances.map((i) => ({ id: i.id, comfy_url: i.comfy_url })),
      gpus: hello.gpus,
    };
    this.sql.exec(
      "INSERT OR REPLACE INTO fleet_seen (machine_id, info) VALUES (?, ?)",
      machineId,
      JSON.stringify(info),
    );
  }

  forget(machineId: string) {
    this.sql.exec("DELETE FROM fleet_seen WHERE machine_id = ?", machineId);
    this.sql.exec("DELETE FROM fleet_flags WHERE machine_id = ?", machineId);
    this.disabledCache = undefined;
  }

  settings(): PoolSettings {
    this.settingsCache ??= JSON.parse(
      this.sql.exec<{ value: string }>("SELECT value FROM fleet_settings WHERE id = 1").toArray()[0]?.value ??
        "{}",
    ) as PoolSettings;
    return this.settingsCache;
  }

  configure(settings: PoolSettings) {
    this.sql.exec(
      "INSERT OR REPLACE INTO fleet_settings (id, value) VALUES (1, ?)",
      JSON.stringify(settings),
    );
    this.settingsCache = settings;
  }

  /**
   * Every machine this pool has seen, connected or not, with its instances' live state. An instance is
   * alive when its agent is connected, heard from within `livenessMs`, and its ComfyUI answers.
   */
  snapshot(
    agents: AgentAttachment[],
    leases: Map<string, string>,
    livenessMs: number,
    now = Date.now(),
  ): LiveMachine[] {
    const disabled = this.disabledSlots();
    const connected = new Map(agents.filter((a) => a.greeted).map((a) => [a.machineId, a]));
    const seen = this.sql.exec<{ machine_id: string; info: string }>("SELECT * FROM fleet_seen").toArray();
    return seen.map(({ machine_id: machineId, info }) => {
      const hello = JSON.parse(info) as SeenMachine;
      const agent = connected.get(machineId);
      const fresh = !!agent && now - (agent.lastSeenAt ?? 0) <= livenessMs;
      const machineEnabled = !disabled.has(slotKey(machineId, WHOLE_MACHINE));
      const instances = hello.instances.map(({ id, comfy_url }): LiveInstance => {
        const live = agent?.instances.find((i) => i.id === id);
        const available = !!live?.available;
        return {
          id,
          comfyUrl: comfy_url,
          available,
          reason: agent ? (live?.reason ?? null) : "agent not connected",
          enabled: machineEnabled && !disabled.has(slotKey(machineId, id)),
          alive: fresh && available,
          runId: leases.get(slotKey(machineId, id)) ?? null,
        };
      });
      return {
        machineId,
        connected: !!agent,
        draining: agent?.draining ?? false,
        enabled: machineEnabled,
        lastSeenAt: agent?.lastSeenAt ?? null,
        gpus: agent?.gpus ?? hello.gpus,
        system: agent?.system ?? null,
        instances,
      };
    });
  }
}

/** A machine's instances as seed 003's `instance_status` data. */
export const instanceStatuses = (machine: LiveMachine): InstanceStatus[] =>
  machine.instances.map((i) => ({
    instanceId: instanceKey(machine.machineId, i.id),
    alive: i.alive,
    busy: i.runId !== null,
    enabled: i.enabled,
  }));
