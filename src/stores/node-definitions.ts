import { and, asc, eq, isNull, type SQLWrapper } from "drizzle-orm";
import type { Db } from "../db/client";
import { machineNodeDefinitions, machines, nodeDefinitions } from "../db/schema";
import { nowIso } from "../lib/ids";

export const nodeDefinitionsKey = (hash: string) => `node-definitions/${hash}.json`;

export async function hasNodeDefinitions(db: Db, hash: string) {
  const row = await db.query.nodeDefinitions.findFirst({ where: eq(nodeDefinitions.hash, hash) });
  return row !== undefined;
}

/** Stores one set of definitions under its hash; storing the same set again changes nothing. */
export async function saveNodeDefinitions(
  db: Db,
  bucket: R2Bucket,
  set: { hash: string; json: string; classCount: number },
) {
  await bucket.put(nodeDefinitionsKey(set.hash), set.json, {
    httpMetadata: { contentType: "application/json" },
  });
  await db
    .insert(nodeDefinitions)
    .values({ hash: set.hash, classCount: set.classCount, byteSize: set.json.length })
    .onConflictDoNothing();
}

/** Records which definitions one ComfyUI instance of a machine reports now. */
export async function linkInstanceDefinitions(db: Db, machineId: string, instanceId: string, hash: string) {
  const reportedAt = nowIso();
  await db
    .insert(machineNodeDefinitions)
    .values({ machineId, instanceId, hash, reportedAt })
    .onConflictDoUpdate({
      target: [machineNodeDefinitions.machineId, machineNodeDefinitions.instanceId],
      set: { hash, reportedAt },
    });
}

/**
 * The definition rows of a user's live machines (of one pool, when given: a name, or a subquery), oldest
 * report first, as a query to run alone or in a batch.
 */
export const definitionHashRows = (db: Db, userId: string | SQLWrapper, pool?: string | SQLWrapper) =>
  db
    .select({ hash: machineNodeDefinitions.hash })
    .from(machineNodeDefinitions)
    .innerJoin(machines, eq(machines.id, machineNodeDefinitions.machineId))
    .where(
      and(
        eq(machines.userId, userId),
        isNull(machines.deletedAt),
        pool === undefined ? undefined : eq(machines.pool, pool),
      ),
    )
    .orderBy(asc(machineNodeDefinitions.reportedAt));

export const distinctHashes = (rows: { hash: string }[]) => [...new Set(rows.map((row) => row.hash))];

/** The definition hashes a user's live machines (of one pool, when given) report, oldest report first. */
export async function reportedDefinitionHashes(db: Db, userId: string, pool?: string) {
  return distinctHashes(await definitionHashRows(db, userId, pool).all());
}

export async function readNodeDefinitions(bucket: R2Bucket, hash: string) {
  const object = await bucket.get(nodeDefinitionsKey(hash));
  return object ? object.json<Record<string, unknown>>() : undefined;
}
