import type { Db } from "../db/client";
import { dispatcherClient } from "../durable/dispatcher/client";
import type { Bindings } from "../env";
import { AppError } from "../lib/errors";
import {
  defaultFleetSettings,
  type FleetSettings,
  FleetSettingsSchema,
  poolSettings,
} from "../lib/fleet-settings";
import { validationError } from "../lib/validation";
import { findFleetSettings, saveFleetSettings } from "../stores/fleet-settings";
import { listMachines } from "../stores/machines";
import { setMachineEnabled } from "./fleet";

export type ConfigUpdate = Partial<FleetSettings> & { servers?: { id: string; enabled: boolean }[] };

async function currentSettings(env: Bindings, db: Db, userId: string) {
  const row = await findFleetSettings(db, userId);
  return { settings: row?.settings ?? defaultFleetSettings(env), updatedAt: row?.updatedAt ?? null };
}

/** The tenant's settings as stored (defaults where never set), with seed 003's `servers`: its machines. */
export async function readFleetConfig(env: Bindings, db: Db, userId: string) {
  const [{ settings, updatedAt }, machines] = await Promise.all([
    currentSettings(env, db, userId),
    listMachines(db, userId),
  ]);
  const servers = machines.map((m) => ({
    id: m.id,
    name: m.name,
    pool: m.pool,
    enabled: m.enabled,
    status: m.status,
    disabledInstances: m.disabledInstances,
  }));
  return { ...settings, servers, updatedAt };
}

/**
 * Merges the update into the stored settings, validates the result as a whole, stores it and hands it
 * to every pool's Dispatcher; `servers` enables or disables whole machines. Unknown machines are a 404
 * before anything changes.
 */
export async function updateFleetConfig(env: Bindings, db: Db, userId: string, update: ConfigUpdate) {
  const { servers, ...changes } = update;
  const { settings } = await currentSettings(env, db, userId);
  const parsed = FleetSettingsSchema.safeParse({ ...settings, ...changes });
  if (!parsed.success) throw validationError(parsed.error, "json");
  const machines = await listMachines(db, userId);
  const known = new Set(machines.map((m) => m.id));
  const unknown = servers?.find((s) => !known.has(s.id));
  if (unknown) throw new AppError("not_found", `Machine '${unknown.id}' not found`);
  await saveFleetSettings(db, userId, parsed.data);
  const pools = new Set(["default", ...machines.map((m) => m.pool)]);
  await Promise.all(
    [...pools].map((pool) => dispatcherClient(env, userId, pool).configure(poolSettings(parsed.data))),
  );
  for (const server of servers ?? []) await setMachineEnabled(env, db, userId, server.id, server.enabled);
  return readFleetConfig(env, db, userId);
}
