import { and, count, desc, eq, gte, inArray, lt, lte, notInArray, type SQL } from "drizzle-orm";
import type { Db } from "../db/client";
import { type RunStatus, runLogs, runs } from "../db/schema";
import { nowIso } from "../lib/ids";

export type RunRow = typeof runs.$inferSelect;
export type NewRun = typeof runs.$inferInsert;

export const TERMINAL_STATUSES: readonly RunStatus[] = ["success", "failed", "cancelled", "timeout"];
export const isTerminal = (status: RunStatus) => TERMINAL_STATUSES.includes(status);

/** Statuses a run may move to `next` from: forward only, never out of a terminal status. */
const predecessors: Record<RunStatus, RunStatus[]> = {
  "not-started": [],
  queued: ["not-started"],
  running: ["not-started", "queued"],
  uploading: ["not-started", "queued", "running"],
  success: ["not-started", "queued", "running", "uploading"],
  failed: ["not-started", "queued", "running", "uploading"],
  cancelled: ["not-started", "queued", "running", "uploading"],
  timeout: ["not-started", "queued", "running", "uploading"],
};

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
 * Moves a run to `status` if that is a step forward; returns the updated row, or undefined when the
 * run was already past it (a late or duplicate report), so callers apply each change at most once.
 */
export async function advanceRun(
  db: Db,
  id: string,
  status: RunStatus,
  fields: Partial<Omit<NewRun, "id" | "userId" | "status">> = {},
): Promise<RunRow | undefined> {
  const now = nowIso();
  const stamps: Partial<NewRun> = {};
  if (status === "queued") stamps.queuedAt = now;
  if (status === "running") stamps.startedAt = now;
  if (isTerminal(status)) stamps.endedAt = now;
  const [row] = await db
    .update(runs)
    .set({ ...fields, ...stamps, status, updatedAt: now })
    .where(and(eq(runs.id, id), inArray(runs.status, predecessors[status])))
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

/** A new attempt starts over: the one place a run goes back, to `not-started`, after its lease was lost. */
export async function requeueRun(db: Db, id: string, attempt: number) {
  const [row] = await db
    .update(runs)
    .set({
      status: "not-started",
      attempt,
      machineId: null,
      instanceId: null,
      promptId: null,
      progress: null,
      updatedAt: nowIso(),
    })
    .where(and(eq(runs.id, id), notInArray(runs.status, [...TERMINAL_STATUSES])))
    .returning();
  return row;
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

/** Runs waiting ahead of this one in its pool: same pool, not yet leased, higher priority or older. */
export async function countAhead(db: Db, run: RunRow) {
  const [row] = await db
    .select({ value: count() })
    .from(runs)
    .where(
      and(
        eq(runs.userId, run.userId),
        eq(runs.pool, run.pool),
        eq(runs.status, "not-started"),
        lt(runs.createdAt, run.createdAt),
        gte(runs.priority, run.priority),
      ),
    );
  return row?.value ?? 0;
}
