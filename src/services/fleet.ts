import type { Db } from "../db/client";
import type { RunStatus } from "../db/schema";
import { dispatcherClient } from "../durable/dispatcher/client";
import type { LiveInstance, LiveMachine } from "../durable/dispatcher/fleet-state";
import { connectFleetSocket, publishFleetEvent } from "../durable/fleet-room/client";
import type { Bindings } from "../env";
import { notFound } from "../lib/errors";
import { instanceKey, splitInstanceKey } from "../lib/instance-key";
import { findMachine, listMachines, type MachineRow, setMachineFlags } from "../stores/machines";
import { countRunsByStatus } from "../stores/run-stats";
import { RUN_STATUSES_OF } from "./run-views";

/** Seed 003's instance: one ComfyUI on one agent's machine, id `<machine id>:<instance id>`. */
export type InstanceView = ReturnType<typeof instanceView>;

function hostAndPort(url: string | null) {
  try {
    const parsed = new URL(url ?? "");
    const port = parsed.port ? Number(parsed.port) : parsed.protocol === "https:" ? 443 : 80;
    return { ip: parsed.hostname, port };
  } catch {
    return { ip: null, port: null };
  }
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function instanceView(machine: MachineRow, live: LiveMachine | undefined, instance: LiveInstance) {
  return {
    id: instanceKey(machine.id, instance.id),
    serverId: machine.id,
    serverName: machine.name,
    ...hostAndPort(instance.comfyUrl),
    enabled: instance.enabled,
    alive: instance.alive,
    busy: instance.runId !== null,
    lastHeartbeat: iso(live?.lastSeenAt ?? null) ?? machine.lastSeenAt,
    machine_id: machine.id,
    instance_id: instance.id,
    pool: machine.pool,
    comfy_url: instance.comfyUrl,
    connected: live?.connected ?? false,
    draining: live?.draining ?? false,
    available: instance.available,
    reason: instance.reason,
    current_task_id: instance.runId,
  };
}

/** The live state of every pool the tenant's machines are in, read from the pools' Dispatchers. */
export async function fleetSnapshot(env: Bindings, db: Db, userId: string) {
  const machines = await listMachines(db, userId);
  const pools = [...new Set(machines.map((m) => m.pool))];
  const snapshots = await Promise.all(
    pools.map((pool) => dispatcherClient(env, userId, pool).fleetSnapshot()),
  );
  const live = new Map(snapshots.flatMap((s) => s.machines.map((m) => [m.machineId, m] as const)));
  const queue = { queued: 0, leased: 0, stopping: 0 };
  for (const s of snapshots) {
    queue.queued += s.queue.queued;
    queue.leased += s.queue.leased;
    queue.stopping += s.queue.stopping;
  }
  return { machines: machines.map((row) => ({ row, live: live.get(row.id) })), queue };
}

export type FleetSnapshot = Awaited<ReturnType<typeof fleetSnapshot>>;

export function instancesOf(snapshot: FleetSnapshot): InstanceView[] {
  return snapshot.machines.flatMap(({ row, live }) =>
    (live?.instances ?? []).map((instance) => instanceView(row, live, instance)),
  );
}

export async function listInstances(env: Bindings, db: Db, userId: string) {
  return instancesOf(await fleetSnapshot(env, db, userId));
}

export async function getInstance(env: Bindings, db: Db, userId: string, key: string) {
  const { machineId, instanceId } = splitInstanceKey(key);
  const machine = await findMachine(db, userId, machineId);
  if (!machine) throw notFound("Instance");
  const snapshot = await dispatcherClient(env, userId, machine.pool).fleetSnapshot();
  const live = snapshot.machines.find((m) => m.machineId === machineId);
  const instance = live?.instances.find((i) => i.id === instanceId);
  if (!instance) throw notFound("Instance");
  return instanceView(machine, live, instance);
}

/**
 * Enables or disables one instance. A disabled instance takes no new job and finishes the one it has.
 * D1 mirrors the flag first; the Dispatcher's copy is the one that routes.
 */
export async function setInstanceEnabled(
  env: Bindings,
  db: Db,
  userId: string,
  key: string,
  enabled: boolean,
) {
  const current = await getInstance(env, db, userId, key);
  const machine = await findMachine(db, userId, current.machine_id);
  if (!machine) throw notFound("Instance");
  const others = machine.disabledInstances.filter((id) => id !== current.instance_id);
  await setMachineFlags(db, userId, machine.id, {
    disabledInstances: enabled ? others : [...others, current.instance_id],
  });
  await dispatcherClient(env, userId, machine.pool).setInstanceEnabled(
    machine.id,
    current.instance_id,
    enabled,
  );
  const updated = await getInstance(env, db, userId, key);
  await publishFleetEvent(env, userId, { type: "instance_status", data: instanceStatus(updated) });
  return updated;
}

/** Enables or disables a whole machine: every instance on it drains or takes work again. */
export async function setMachineEnabled(env: Bindings, db: Db, userId: string, id: string, enabled: boolean) {
  const machine = await findMachine(db, userId, id);
  if (!machine) throw notFound("Machine");
  await setMachineFlags(db, userId, id, { enabled });
  await dispatcherClient(env, userId, machine.pool).setInstanceEnabled(id, null, enabled);
}

const sum = (counts: Partial<Record<RunStatus, number>>, statuses: RunStatus[]) =>
  statuses.reduce((n, s) => n + (counts[s] ?? 0), 0);

const instanceStatus = (i: InstanceView) => ({
  instanceId: i.id,
  alive: i.alive,
  busy: i.busy,
  enabled: i.enabled,
});

/** Subscribes a client to the tenant's `/ws` events; it first gets `global_status`. */
export async function openFleetSocket(env: Bindings, db: Db, userId: string, request: Request) {
  const [snapshot, counts] = await Promise.all([
    fleetSnapshot(env, db, userId),
    countRunsByStatus(db, userId),
  ]);
  return connectFleetSocket(env, userId, request, instancesOf(snapshot).map(instanceStatus), {
    pendingTasks: sum(counts, RUN_STATUSES_OF.pending),
    runningTasks: sum(counts, RUN_STATUSES_OF.running),
    completedTasks: sum(counts, RUN_STATUSES_OF.completed),
  });
}

/** Seed 003's monitor overview: instances from the Dispatchers' live state, tasks from D1. */
export async function fleetOverview(env: Bindings, db: Db, userId: string) {
  const [snapshot, counts] = await Promise.all([
    fleetSnapshot(env, db, userId),
    countRunsByStatus(db, userId),
  ]);
  const instances = instancesOf(snapshot);
  return {
    totalInstances: instances.length,
    aliveInstances: instances.filter((i) => i.alive).length,
    busyInstances: instances.filter((i) => i.busy).length,
    pendingTasks: sum(counts, RUN_STATUSES_OF.pending),
    runningTasks: sum(counts, RUN_STATUSES_OF.running),
    completedTasks: sum(counts, RUN_STATUSES_OF.completed),
    failedTasks: sum(counts, RUN_STATUSES_OF.failed),
    cancelledTasks: sum(counts, RUN_STATUSES_OF.cancelled),
    enabledInstances: instances.filter((i) => i.enabled).length,
    onlineMachines: snapshot.machines.filter((m) => m.live?.connected).length,
    totalMachines: snapshot.machines.length,
  };
}
