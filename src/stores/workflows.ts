import { and, desc, eq, isNull, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { workflows, workflowVersions } from "../db/schema";
import { nowIso } from "../lib/ids";
import { parseStoredJson } from "../lib/json-guard";

export type WorkflowRow = typeof workflows.$inferSelect;
export type WorkflowVersionRow = typeof workflowVersions.$inferSelect;
export type NewVersion = Omit<typeof workflowVersions.$inferInsert, "version" | "workflowId" | "userId">;

const owned = (userId: string, id: string) =>
  and(eq(workflows.id, id), eq(workflows.userId, userId), isNull(workflows.deletedAt));

/** Inserts a workflow and its version 1 in one transaction. */
export async function insertWorkflow(
  db: Db,
  row: typeof workflows.$inferInsert,
  version: NewVersion,
): Promise<{ workflow: WorkflowRow; version: WorkflowVersionRow }> {
  const [[workflow], [first]] = await db.batch([
    db.insert(workflows).values(row).returning(),
    db
      .insert(workflowVersions)
      .values({ ...version, workflowId: row.id, userId: row.userId, version: 1 })
      .returning(),
  ]);
  return { workflow: workflow!, version: first! };
}

export function listWorkflows(
  db: Db,
  userId: string,
  opts: { search?: string; limit: number; offset: number },
) {
  // instr, not LIKE: D1 caps LIKE patterns at 50 bytes, and a name needs no wildcards.
  const search = opts.search ? sql`instr(lower(${workflows.name}), lower(${opts.search})) > 0` : undefined;
  return db
    .select()
    .from(workflows)
    .where(and(eq(workflows.userId, userId), isNull(workflows.deletedAt), search))
    .orderBy(desc(workflows.createdAt), desc(sql`rowid`))
    .limit(opts.limit)
    .offset(opts.offset)
    .all();
}

export function findWorkflow(db: Db, userId: string, id: string) {
  return db.select().from(workflows).where(owned(userId, id)).get();
}

export function findVersionByNumber(db: Db, userId: string, workflowId: string, version: number) {
  return db
    .select({ version: workflowVersions })
    .from(workflowVersions)
    .innerJoin(workflows, eq(workflows.id, workflowVersions.workflowId))
    .where(and(owned(userId, workflowId), eq(workflowVersions.version, version)))
    .get()
    .then((found) => found?.version);
}

/** A version of a live workflow of this user; a deleted workflow's versions are gone to clients. */
export function findVersionById(db: Db, userId: string, versionId: string) {
  return db
    .select({ version: workflowVersions })
    .from(workflowVersions)
    .innerJoin(workflows, eq(workflows.id, workflowVersions.workflowId))
    .where(and(eq(workflowVersions.id, versionId), eq(workflows.userId, userId), isNull(workflows.deletedAt)))
    .get()
    .then((found) => found?.version);
}

/** Version summaries, newest first; the graphs are left out so a long history stays cheap to list. */
export function listVersions(
  db: Db,
  userId: string,
  workflowId: string,
  opts: { limit: number; offset: number },
) {
  return db
    .select({
      id: workflowVersions.id,
      workflowId: workflowVersions.workflowId,
      userId: workflowVersions.userId,
      version: workflowVersions.version,
      comment: workflowVersions.comment,
      createdAt: workflowVersions.createdAt,
    })
    .from(workflowVersions)
    .where(and(eq(workflowVersions.workflowId, workflowId), eq(workflowVersions.userId, userId)))
    .orderBy(desc(workflowVersions.version))
    .limit(opts.limit)
    .offset(opts.offset)
    .all();
}

/**
 * Appends version N+1, numbering it inside the transaction so concurrent edits cannot collide, and
 * moves the workflow's current version (and any renaming) along with it.
 */
export async function appendVersion(
  db: Db,
  userId: string,
  workflowId: string,
  version: NewVersion,
  changes: Partial<Pick<WorkflowRow, "name" | "description">>,
) {
  const next = sql<number>`(select coalesce(max(${workflowVersions.version}), 0) + 1 from ${workflowVersions} where ${workflowVersions.workflowId} = ${workflowId})`;
  const [[created], [workflow]] = await db.batch([
    db
      .insert(workflowVersions)
      .values({ ...version, workflowId, userId, version: next })
      .returning(),
    db
      .update(workflows)
      .set({
        ...changes,
        currentVersion: sql`(select max(${workflowVersions.version}) from ${workflowVersions} where ${workflowVersions.workflowId} = ${workflowId})`,
        updatedAt: nowIso(),
      })
      .where(owned(userId, workflowId))
      .returning(),
  ]);
  return { version: created!, workflow };
}

export async function updateWorkflow(
  db: Db,
  userId: string,
  id: string,
  changes: Partial<Pick<WorkflowRow, "name" | "description">>,
) {
  const [row] = await db
    .update(workflows)
    .set({ ...changes, updatedAt: nowIso() })
    .where(owned(userId, id))
    .returning();
  return row;
}

export async function softDeleteWorkflow(db: Db, userId: string, id: string): Promise<boolean> {
  const rows = await db
    .update(workflows)
    .set({ deletedAt: nowIso() })
    .where(owned(userId, id))
    .returning({ id: workflows.id });
  return rows.length > 0;
}

/**
 * ComfyUI's UI-format documents live in R2 (bytes for the editor, never read by a run), addressed by
 * their SHA-256 per owner: versions and clones with the same document share one object.
 */
export const workflowDocumentKey = (userId: string, sha256: string) =>
  `workflows/${userId}/documents/${sha256}.json`;

export async function putWorkflowDocument(bucket: R2Bucket, key: string, json: string) {
  await bucket.put(key, json, { httpMetadata: { contentType: "application/json" } });
}

export async function getWorkflowDocument(bucket: R2Bucket, key: string) {
  const object = await bucket.get(key);
  return object ? parseStoredJson<Record<string, unknown>>(await object.text(), key) : null;
}
