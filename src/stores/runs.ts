import {
  and,
  count,
  desc,
  eq,
  getTableColumns,
  gte,
  inArray,
  lte,
  notInArray,
  type SQL,
  type SQLWrapper,
  sql,
} from "drizzle-orm";
import type { Db } from "../db/client";
import { placeholders, prepareOnce } from "../db/prepared";
import { type NewRun, type RunRow, type RunStatus, runLogs, runs, TERMINAL_STATUSES } from "../db/schema";
import { nowIso } from "../lib/ids";

export type { NewRun, RunRow } from "../db/schema";

/** A new run's row as its insert returns it: less the graph, inputs and bindings its writer holds. */
export type InsertedRun = Omit<RunRow, "graph" | "inputs" | "bindings">;
const { graph: _graph, inputs: _inputs, bindings: _bindings, ...insertedColumns } = getTableColumns(runs);

/**
 * Written once per accepted run: prepared per shape of row (see `placeholders`). The columns the writer
 * handed in as JSON are not read back, parsed and copied again.
 */
export async function insertRun(db: Db, row: NewRun): Promise<InsertedRun> {
  const { columns, values, shape } = placeholders(row);
  const insert = prepareOnce(db, `insertRun:${shape}`, () =>
    db
      .insert(runs)
      .values(columns as unknown as NewRun)
      .returning(insertedColumns)
      .prepare(),
  );
  const [created] = await insert.all(values);
  return created as InsertedRun;
}

/** Runs still `not-started` that were created before `before`: waiting in a queue, or never queued. */
export function listOldUnstartedRuns(db: Db, before: string, limit: number) {
  return db
    .select({ id: runs.id, userId: runs.userId, pool: runs.pool })
    .from(runs)
    .where(and(eq(runs.status, "not-started"), lte(runs.createdAt, before)))
    .limit(limit);
}

export function findRun(db: Db, userId: string, id: string) {
  return db.query.runs.findFirst({ where: and(eq(runs.id, id), eq(runs.userId, userId)) });
}

export function findRunById(db: Db, id: string) {
  const find = prepareOnce(db, "findRunById", () =>
    db.query.runs.findFirst({ where: eq(runs.id, sql.placeholder("id")) }).prepare(),
  );
  return find.execute({ id });
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

type StatusFields = Partial<Omit<NewRun, "id" | "userId">> & { status: RunStatus };

const statusWhere = (id: string | SQLWrapper, from: readonly RunStatus[]) =>
  and(eq(runs.id, id), inArray(runs.status, [...from]));

/**
 * The run's status moved with a compare-and-set on the statuses it may move from, as a query to run in
 * a batch with other writes: the new row, or none when the run is missing or elsewhere. Only the run
 * lifecycle calls this.
 */
export const updateRunStatus = (db: Db, id: string, from: readonly RunStatus[], fields: StatusFields) =>
  db
    .update(runs)
    .set({ ...fields, updatedAt: nowIso() })
    .where(statusWhere(id, from))
    .returning();

/**
 * `updateRunStatus` run alone, the way most changes are: prepared once per move (the statuses it is
 * allowed from) and shape of fields. Only the run lifecycle calls this.
 */
export function moveRunStatus(db: Db, id: string, from: readonly RunStatus[], fields: StatusFields) {
  const { columns, values, shape } = placeholders({ ...fields, updatedAt: nowIso() });
  const update = prepareOnce(db, `moveRunStatus:${from.join(",")}:${shape}`, () =>
    db
      .update(runs)
      .set(columns as unknown as StatusFields)
      .where(statusWhere(sql.placeholder("_id"), from))
      .returning()
      .prepare(),
  );
  return update.all({ ...values, _id: id });
}

/** Updates fields of a run that is not finished, without changing its status (prepared per shape). */
export async function updateLiveRun(db: Db, id: string, fields: Partial<NewRun>) {
  const { columns, values, shape } = placeholders({ ...fields, updatedAt: nowIso() });
  const update = prepareOnce(db, `updateLiveRun:${shape}`, () =>
    db
      .update(runs)
      .set(columns as unknown as Partial<NewRun>)
      .where(and(eq(runs.id, sql.placeholder("_id")), notInArray(runs.status, [...TERMINAL_STATUSES])))
      .prepare(),
  );
  await update.run({ ...values, _id: id });
}

export type NewLog = {
  level: (typeof runLogs.$inferInsert)["level"];
  message: string;
  nodeId?: string;
  at?: string;
};

/** Log lines a run keeps; older ones are dropped and counted in `runs.logs_dropped`. */
export const MAX_LOGS_PER_RUN = 2000;

/** Appends lines and trims the run to its newest `keep`, in one round trip. */
export async function appendLogs(db: Db, runId: string, logs: NewLog[], keep = MAX_LOGS_PER_RUN) {
  if (logs.length === 0) return;
  await db.batch(appendLogsQueries(db, runId, logs, keep));
}

/** The queries of `appendLogs` (lines given), to run in a batch with the writes they belong to. */
export function appendLogsQueries(db: Db, runId: string, logs: NewLog[], keep = MAX_LOGS_PER_RUN) {
  const cutoff = db
    .select({ id: runLogs.id })
    .from(runLogs)
    .where(eq(runLogs.runId, runId))
    .orderBy(desc(runLogs.id))
    .limit(1)
    .offset(keep);
  return [
    db.insert(runLogs).values(logs.map((l) => ({ runId, at: l.at ?? nowIso(), ...l }))),
    db.delete(runLogs).where(and(eq(runLogs.runId, runId), lte(runLogs.id, cutoff))),
    // changes() is the number of lines the delete just removed
    db
      .update(runs)
      .set({ logsDropped: sql`${runs.logsDropped} + changes()` })
      .where(eq(runs.id, runId)),
  ] as const;
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
