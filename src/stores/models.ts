import { and, asc, eq, isNull } from "drizzle-orm";
import type { Db } from "../db/client";
import { machineModelSets, machineModels, machines } from "../db/schema";
import { nowIso } from "../lib/ids";
import type { ModelFile } from "../protocol/v1";

/** D1 binds at most 100 parameters per statement; a model row takes 7. */
const ROWS_PER_INSERT = 14;

/** The hash of the inventory an instance of a machine reported last, if any. */
export async function storedModelsHash(db: Db, machineId: string, instanceId: string) {
  const row = await db.query.machineModelSets.findFirst({
    where: and(eq(machineModelSets.machineId, machineId), eq(machineModelSets.instanceId, instanceId)),
  });
  return row?.hash;
}

/** Replaces an instance's model files with a new inventory, in one batch (all or nothing). */
export async function replaceInstanceModels(
  db: Db,
  inventory: { machineId: string; instanceId: string; hash: string; models: readonly ModelFile[] },
) {
  const { machineId, instanceId, hash } = inventory;
  const rows = inventory.models.map((m) => ({
    machineId,
    instanceId,
    folder: m.folder,
    name: m.name,
    sizeBytes: m.size_bytes ?? null,
    modifiedAt: m.modified_at ?? null,
    sha256: m.sha256 ?? null,
  }));
  const inserts = [];
  for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
    // A name listed twice (it should not be) keeps its first entry.
    inserts.push(
      db
        .insert(machineModels)
        .values(rows.slice(i, i + ROWS_PER_INSERT))
        .onConflictDoNothing(),
    );
  }
  const reportedAt = nowIso();
  await db.batch([
    db
      .delete(machineModels)
      .where(and(eq(machineModels.machineId, machineId), eq(machineModels.instanceId, instanceId))),
    ...inserts,
    db
      .insert(machineModelSets)
      .values({ machineId, instanceId, hash, reportedAt })
      .onConflictDoUpdate({
        target: [machineModelSets.machineId, machineModelSets.instanceId],
        set: { hash, reportedAt },
      }),
  ]);
}

export interface ModelFilter {
  folder?: string;
  machineId?: string;
  name?: string;
}

/** The model files on a user's machines (not deleted), with the machine they are on. */
export async function listUserModels(db: Db, userId: string, filter: ModelFilter = {}) {
  return db
    .select({
      machineId: machineModels.machineId,
      machineName: machines.name,
      machineStatus: machines.status,
      pool: machines.pool,
      instanceId: machineModels.instanceId,
      folder: machineModels.folder,
      name: machineModels.name,
      sizeBytes: machineModels.sizeBytes,
      modifiedAt: machineModels.modifiedAt,
      sha256: machineModels.sha256,
    })
    .from(machineModels)
    .innerJoin(machines, eq(machines.id, machineModels.machineId))
    .where(
      and(
        eq(machines.userId, userId),
        isNull(machines.deletedAt),
        filter.folder === undefined ? undefined : eq(machineModels.folder, filter.folder),
        filter.machineId === undefined ? undefined : eq(machineModels.machineId, filter.machineId),
        filter.name === undefined ? undefined : eq(machineModels.name, filter.name),
      ),
    )
    .orderBy(asc(machineModels.folder), asc(machineModels.name), asc(machineModels.machineId))
    .all();
}

export type MachineModelRow = Awaited<ReturnType<typeof listUserModels>>[number];
