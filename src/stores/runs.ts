import { and, count, desc, eq, gte, inArray, lte, notInArray, type SQL } from "drizzle-orm";
import type { Db } from "../db/client";
import { type NewRun, type RunRow, type RunStatus, runLogs, runs, TERMINAL_STATUSES } from "../db/schema";
import { nowIso } from "../lib/ids";

export type { NewRun, RunRow } from "../db/schema";

export async function insertRun(db: Db, row: NewRun): Promise<RunRow> {
  const [created] = await db.insert(runs).values(row).returning();
  return created as RunRow;
}

export function findRun(db: Db, userId: string, id: string) {
  return db.query.runs.findFirst({ where: and(eq(runs.id, id), eq(runs.userId, userId)) });
}

export function findRunById(db: Db, id: string) {
  return db.query.runs.findFirst({ where: eq(runs.id, id) });
}

export type RunFilters = {
  status?: RunStatus[];
  deploymentId?: string;
  createdAfter?: string;
  createdBefore?: string;
  origin?: RunRow["origin"];
  limit: number;
  offset: number;
};

export async function listRuns(db: Db, userId: string, f: RunFilters) {
  const conditions: SQL[] = [eq(runs.userId, userId)];
  if (f.status?.length) conditions.push(inArray(runs.status, f.status));
  if (f.deploymentId) conditions.push(eq(runs.deploymentId, f.deploymentId));
  if (f.createdAfter) conditions.push(gte(runs.createdAt, f.createdAfter));
  if (f.createdBefore) conditions.push(lte(runs.createdAt, f.createdBefore));
  if (f.origin) conditions.push(eq(runs.origin, f.origin));
  const where = and(...conditions);
  const [rows, [total]] = await Promise.all([
    db
      .select()
      .from(runs)
      .where(where)
      .orderBy(desc(runs.createdAt), desc(runs.id))
      .limit(f.limit)
      .offset(f.offset),
    db.select({ value: count() }).from(runs).where(where),
  ]);
  return { rows, total: total?.value ?? 0 };
}

/**
 * Writes a status change if the run is still in `from` (compare-and-set); returns the new row, or
 * undefined when another writer moved the run first. Only the run lifecycle calls this.
 */
export async function updateRunStatus(
  db: Db,
  id: string,
  from: RunStatus,
  fields: Partial<Omit<NewRun, "id" | "userId">> & { status: RunStatus },
): Promise<RunRow | undefined> {
  const [row] = await db
    .update(runs)
    .set({ ...fields, updatedAt: nowIso() })
    .where(and(eq(runs.id, id), eq(runs.status, from)))
    .returning();
  return row;
}

/** Updates fields of a run that is not finished, without changing its status. */
export async function updateLiveRun(db: Db, id: string, fields: Partial<NewRun>) {
  await db
    .update(runs)
    .set({ ...fields, updatedAt: nowIso() })
    .where(and(eq(runs.id, id), notInArray(runs.status, [...TERMINAL_STATUSES])));
}

export type NewLog = {
  level: (typeof runLogs.$inferInsert)["level"];
  message: string;
  nodeId?: string;
  at?: string;
};

export async function appendLogs(db: Db, runId: string, logs: NewLog[]) {
  if (logs.length === 0) return;
  await db.insert(runLogs).values(logs.map((l) => ({ runId, at: l.at ?? nowIso(), ...l })));
}

export async function listLogs(db: Db, runId: string, opts: { levels?: NewLog["level"][]; tail: number }) {
  const where = opts.levels
    ? and(eq(runLogs.runId, runId), inArray(runLogs.level, opts.levels))
    : eq(runLogs.runId, runId);
  const [rows, [total]] = await Promise.all([
    db.select().from(runLogs).where(where).orderBy(desc(runLogs.id)).limit(opts.tail),
    db.select({ value: count() }).from(runLogs).where(eq(runLogs.runId, runId)),
  ]);
  return { rows: rows.reverse(), total: total?.value ?? 0 };
}
