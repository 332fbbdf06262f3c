import { and, asc, eq, inArray, isNull, type SQLWrapper, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { machineModelSets, machineModels, machineNodeDefinitions, machines } from "../db/schema";
import { nowIso } from "../lib/ids";
import type { ModelFile } from "../protocol/v1";

/** D1 binds at most 100 parameters per statement; a model row takes 7. */
const ROWS_PER_INSERT = 14;

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

/** Where model files are looked for: a pool, or one machine of it (a pinned deployment). */
export type ModelScope = { pool: string; machineId?: string | null };

/** A scope whose pool and machine may also be SQL (subqueries on a deployment), for batched reads. */
type ScopeExpression = { pool: string | SQLWrapper; machineId?: string | SQLWrapper | null };

const inScope = (userId: string | SQLWrapper, scope: ScopeExpression) =>
  and(
    eq(machines.userId, userId),
    isNull(machines.deletedAt),
    eq(machines.pool, scope.pool),
    scope.machineId ? eq(machines.id, scope.machineId) : undefined,
  );

/**
 * The instances in scope that reported a model inventory, with the hash of that inventory and of the
 * node definitions they report (if any): together they say which inputs name model files.
 */
export const inventoryInstanceRows = (db: Db, userId: string | SQLWrapper, scope: ScopeExpression) =>
  db
    .select({
      machineId: machineModelSets.machineId,
      instanceId: machineModelSets.instanceId,
      modelsHash: machineModelSets.hash,
      // Named apart: a D1 batch returns rows as objects, where two columns named `hash` become one.
      definitionsHash: sql<string | null>`${machineNodeDefinitions.hash}`.as("definitions_hash"),
    })
    .from(machineModelSets)
    .innerJoin(machines, eq(machines.id, machineModelSets.machineId))
    .leftJoin(
      machineNodeDefinitions,
      and(
        eq(machineNodeDefinitions.machineId, machineModelSets.machineId),
        eq(machineNodeDefinitions.instanceId, machineModelSets.instanceId),
      ),
    )
    .where(inScope(userId, scope));

export type InventoryInstance = Awaited<ReturnType<typeof inventoryInstanceRows>>[number];

/** The files of one instance's inventory, folder and name only. */
export async function instanceModelFiles(db: Db, machineId: string, instanceId: string) {
  return db
    .select({ folder: machineModels.folder, name: machineModels.name })
    .from(machineModels)
    .where(and(eq(machineModels.machineId, machineId), eq(machineModels.instanceId, instanceId)))
    .all();
}

/** D1 binds at most 100 parameters per statement; the scope takes up to 4. */
const NAMES_PER_QUERY = 90;

/** Which of these file names the instances in scope hold (every folder: the caller picks). */
export async function modelFilesInScope(db: Db, userId: string, scope: ModelScope, names: readonly string[]) {
  const unique = [...new Set(names)];
  const chunks: string[][] = [];
  for (let i = 0; i < unique.length; i += NAMES_PER_QUERY) chunks.push(unique.slice(i, i + NAMES_PER_QUERY));
  const found = await Promise.all(
    chunks.map((chunk) =>
      db
        .select({
          machineId: machineModels.machineId,
          instanceId: machineModels.instanceId,
          folder: machineModels.folder,
          name: machineModels.name,
        })
        .from(machineModels)
        .innerJoin(machines, eq(machines.id, machineModels.machineId))
        .where(and(inScope(userId, scope), inArray(machineModels.name, chunk)))
        .all(),
    ),
  );
  return found.flat();
}
