import { and, count, desc, eq, getTableColumns, lt, ne, type SQL, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { type FilePurpose, type FileStatus, files, runs } from "../db/schema";
import { nowIso } from "../lib/ids";

export type FileRow = typeof files.$inferSelect;
export type NewFile = typeof files.$inferInsert;

export async function insertFile(db: Db, row: NewFile): Promise<FileRow> {
  const [created] = await db.insert(files).values(row).returning();
  return created as FileRow;
}

/** Only the owner's row: another tenant's id reads as missing. */
export function findOwnedFile(db: Db, userId: string, id: string) {
  return db.query.files.findFirst({ where: and(eq(files.id, id), eq(files.userId, userId)) });
}

export function findOwnedFileByKey(db: Db, userId: string, key: string) {
  return db.query.files.findFirst({ where: and(eq(files.r2Key, key), eq(files.userId, userId)) });
}

/**
 * Inserts a run's output file in the batch that moves the run to `success`, after that move: only if the
 * run is a success then, and only if its key is new. A move that was refused (the run already ended)
 * records nothing, and a repeated success finds its keys taken, so each output is recorded once.
 */
export function insertOutputFileOnSuccess(db: Db, row: NewFile & { runId: string }) {
  // INSERT … SELECT names every column, in the table's order: the row's value, else the column's default.
  const values = Object.fromEntries(
    Object.entries(getTableColumns(files)).map(([key, column]) => {
      const value = row[key as keyof NewFile] ?? (column.hasDefault ? column.default : null);
      return [key, sql`${value}`.as(column.name)];
    }),
  ) as { [K in keyof typeof files._.columns]: SQL.Aliased };
  const succeeded = and(eq(runs.id, row.runId), eq(runs.status, "success"));
  return db.insert(files).select(db.select(values).from(runs).where(succeeded)).onConflictDoNothing();
}

/** For signed URLs, whose signature already names the file. */
export function findFileById(db: Db, id: string) {
  return db.query.files.findFirst({ where: eq(files.id, id) });
}

export type FileFilter = {
  purpose?: FilePurpose;
  status?: FileStatus;
  folder?: string;
  runId?: string;
  limit: number;
  offset: number;
};

export async function listOwnedFiles(db: Db, userId: string, filter: FileFilter) {
  const conditions: SQL[] = [eq(files.userId, userId)];
  if (filter.purpose) conditions.push(eq(files.purpose, filter.purpose));
  if (filter.status) conditions.push(eq(files.status, filter.status));
  else conditions.push(ne(files.status, "expired"));
  if (filter.folder) conditions.push(eq(files.folder, filter.folder));
  if (filter.runId) conditions.push(eq(files.runId, filter.runId));
  const where = and(...conditions);
  const [rows, totals] = await Promise.all([
    db
      .select()
      .from(files)
      .where(where)
      .orderBy(desc(files.createdAt), desc(files.id))
      .limit(filter.limit)
      .offset(filter.offset)
      .all(),
    db.select({ total: count() }).from(files).where(where).all(),
  ]);
  return { rows, total: totals[0]?.total ?? 0 };
}

/** Asset folders directly below `parent` (`/` or `/a/b`), derived from the paths in use. */
export async function childFolders(db: Db, userId: string, parent: string): Promise<string[]> {
  const prefix = parent === "/" ? "/" : `${parent}/`;
  const rows = await db
    .selectDistinct({ folder: files.folder })
    .from(files)
    .where(
      and(
        eq(files.userId, userId),
        eq(files.purpose, "asset"),
        ne(files.status, "expired"),
        sql`instr(${files.folder}, ${prefix}) = 1`,
        ne(files.folder, parent),
      ),
    )
    .all();
  const names = new Set<string>();
  for (const { folder } of rows) {
    const name = folder.slice(prefix.length).split("/")[0];
    if (name) names.add(`${prefix}${name}`);
  }
  return [...names].sort();
}

/** Bytes held or reserved by the user: ready files and pending uploads, not expired ones. */
export async function usedBytes(db: Db, userId: string): Promise<number> {
  const [row] = await db
    .select({ used: sql<number>`coalesce(sum(${files.size}), 0)` })
    .from(files)
    .where(and(eq(files.userId, userId), ne(files.status, "expired")))
    .all();
  return Number(row?.used ?? 0);
}

export async function updateOwnedFile(
  db: Db,
  userId: string,
  id: string,
  patch: Partial<Pick<FileRow, "filename" | "folder" | "description">>,
) {
  const [row] = await db
    .update(files)
    .set({ ...patch, updatedAt: nowIso() })
    .where(and(eq(files.id, id), eq(files.userId, userId)))
    .returning();
  return row;
}

/** pending → ready, once; false when another request settled it first. */
export async function markReady(
  db: Db,
  id: string,
  facts: { size: number; contentType?: string; sha256?: string | null },
): Promise<FileRow | undefined> {
  const now = nowIso();
  const [row] = await db
    .update(files)
    .set({
      status: "ready",
      size: facts.size,
      ...(facts.contentType ? { contentType: facts.contentType } : {}),
      ...(facts.sha256 ? { sha256: facts.sha256 } : {}),
      uploadId: null,
      expiresAt: null,
      confirmedAt: now,
      updatedAt: now,
    })
    .where(and(eq(files.id, id), eq(files.status, "pending")))
    .returning();
  return row;
}

export async function markExpired(db: Db, id: string): Promise<FileRow | undefined> {
  const [row] = await db
    .update(files)
    .set({ status: "expired", uploadId: null, updatedAt: nowIso() })
    .where(and(eq(files.id, id), eq(files.status, "pending")))
    .returning();
  return row;
}

export async function deleteOwnedFile(db: Db, userId: string, id: string) {
  const [row] = await db
    .delete(files)
    .where(and(eq(files.id, id), eq(files.userId, userId)))
    .returning();
  return row;
}

export function pendingPastExpiry(db: Db, now: string, limit: number) {
  return db
    .select()
    .from(files)
    .where(and(eq(files.status, "pending"), lt(files.expiresAt, now)))
    .limit(limit)
    .all();
}
