import type { Db } from "../db/client";
import type { RunStatus } from "../db/schema";
import type { LiveMachine } from "../durable/dispatcher/fleet-state";
import type { Bindings } from "../env";
import { averageRunSeconds, countRunsByStatus } from "../stores/run-stats";
import { type FleetSnapshot, fleetSnapshot, instancesOf } from "./fleet";
import { RUN_STATUSES_OF } from "./run-views";

const round = (n: number) => Math.round(n * 10) / 10;

/** The mean of the values machines reported; null when none did. */
function mean(values: (number | undefined)[]): number | null {
  const known = values.filter((v): v is number => v !== undefined && Number.isFinite(v));
  return known.length === 0 ? null : round(known.reduce((a, b) => a + b, 0) / known.length);
}

const percent = (used: number | undefined, total: number | undefined) =>
  used !== undefined && total ? (used / total) * 100 : undefined;

/** Seed 004's `system` block: the connected machines' load, averaged (null: nothing reported). */
export function fleetLoad(snapshot: FleetSnapshot) {
  const live = snapshot.machines.map((m) => m.live).filter((m): m is LiveMachine => !!m?.connected);
  const gpus = live.flatMap((m) => m.gpus);
  return {
    cpu_usage_percent: mean(live.map((m) => m.system?.cpu_percent)),
    memory_usage_percent: mean(live.map((m) => percent(m.system?.memory_used_mb, m.system?.memory_total_mb))),
    gpu_usage_percent: mean(gpus.map((g) => g.utilization_percent)),
    gpu_memory_usage_percent: mean(gpus.map((g) => percent(g.memory_used_mb, g.memory_total_mb))),
    disk_usage_percent: mean(live.map((m) => percent(m.system?.disk_used_gb, m.system?.disk_total_gb))),
  };
}

const total = (counts: Partial<Record<RunStatus, number>>, statuses: readonly RunStatus[]) =>
  statuses.reduce((n, s) => n + (counts[s] ?? 0), 0);

/** Seed 004's metrics for the caller's fleet, plus instance and per-status counts. */
export async function fleetMetrics(env: Bindings, db: Db, userId: string) {
  const [snapshot, counts, averageSeconds] = await Promise.all([
    fleetSnapshot(env, db, userId),
    countRunsByStatus(db, userId),
    averageRunSeconds(db, userId),
  ]);
  const instances = instancesOf(snapshot);
  const {
    cpu_usage_percent,
    memory_usage_percent,
    gpu_usage_percent,
    gpu_memory_usage_percent,
    disk_usage_percent,
  } = fleetLoad(snapshot);
  return {
    cpu_usage_percent,
    memory_usage_percent,
    gpu_usage_percent,
    gpu_memory_usage_percent,
    disk_usage_percent,
    active_executions: total(counts, ["queued", "running", "uploading"]),
    queue_size: counts["not-started"] ?? 0,
    total_executions: total(counts, Object.keys(counts) as RunStatus[]),
    average_execution_time_seconds: averageSeconds === null ? null : round(averageSeconds),
    completed_executions: total(counts, RUN_STATUSES_OF.completed),
    failed_executions: total(counts, RUN_STATUSES_OF.failed),
    cancelled_executions: total(counts, RUN_STATUSES_OF.cancelled),
    runs_by_status: counts,
    machines_online: snapshot.machines.filter((m) => m.live?.connected).length,
    instances_total: instances.length,
    instances_alive: instances.filter((i) => i.alive).length,
    instances_busy: instances.filter((i) => i.busy).length,
  };
}

export type FleetMetrics = Awaited<ReturnType<typeof fleetMetrics>>;
