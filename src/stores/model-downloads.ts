import { and, desc, eq, inArray } from "drizzle-orm";
import type { Db } from "../db/client";
import { type ModelDownloadStatus, modelDownloads } from "../db/schema";
import { nowIso } from "../lib/ids";

export type ModelDownloadRow = typeof modelDownloads.$inferSelect;
export type NewModelDownload = Omit<typeof modelDownloads.$inferInsert, "updatedAt">;

/** D1 binds at most 100 parameters per statement; a new download row takes 9. */
const ROWS_PER_INSERT = 10;

export async function insertModelDownloads(db: Db, rows: NewModelDownload[]): Promise<void> {
  const updatedAt = nowIso();
  const inserts = [];
  for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
    inserts.push(
      db.insert(modelDownloads).values(rows.slice(i, i + ROWS_PER_INSERT).map((r) => ({ ...r, updatedAt }))),
    );
  }
  const [first, ...rest] = inserts;
  if (first) await db.batch([first, ...rest]);
}

/** A machine's downloads that are not over (sent again whenever its agent says hello). */
export function unfinishedDownloadsOf(db: Db, machineId: string) {
  return db
    .select()
    .from(modelDownloads)
    .where(
      and(
        eq(modelDownloads.machineId, machineId),
        inArray(modelDownloads.status, ["pending", "downloading"]),
      ),
    )
    .all();
}

/** This machine's download, while it is not over: a late or repeated report matches nothing. */
const unfinishedDownload = (machineId: string, id: string) =>
  and(
    eq(modelDownloads.id, id),
    eq(modelDownloads.machineId, machineId),
    inArray(modelDownloads.status, ["pending", "downloading"]),
  );

/** Progress from the machine's agent; only while the download is not over (a late message changes nothing). */
export async function recordDownloadProgress(
  db: Db,
  machineId: string,
  id: string,
  progress: { bytesDone: number; bytesTotal: number | null },
): Promise<ModelDownloadRow | undefined> {
  const [row] = await db
    .update(modelDownloads)
    .set({ ...progress, status: "downloading", updatedAt: nowIso() })
    .where(unfinishedDownload(machineId, id))
    .returning();
  return row;
}

/** A download's end, as its machine's agent reports it; once only (a repeated report returns nothing). */
export async function finishDownload(
  db: Db,
  machineId: string,
  id: string,
  end:
    | { status: Extract<ModelDownloadStatus, "completed">; sha256: string; sizeBytes: number }
    | { status: Extract<ModelDownloadStatus, "failed">; error: string },
): Promise<ModelDownloadRow | undefined> {
  const at = nowIso();
  const fields =
    end.status === "completed"
      ? { status: end.status, sha256: end.sha256, bytesDone: end.sizeBytes, bytesTotal: end.sizeBytes }
      : { status: end.status, error: end.error };
  const [row] = await db
    .update(modelDownloads)
    .set({ ...fields, updatedAt: at, finishedAt: at })
    .where(unfinishedDownload(machineId, id))
    .returning();
  return row;
}

/** A user's downloads that are not over, on any machine. */
export function activeUserDownloads(db: Db, userId: string) {
  return db
    .select()
    .from(modelDownloads)
    .where(and(eq(modelDownloads.userId, userId), inArray(modelDownloads.status, ["pending", "downloading"])))
    .all();
}

/** A user's downloads of one model name (and folder), newest first. */
export function userDownloadsOf(db: Db, userId: string, name: string, folder?: string) {
  return db
    .select()
    .from(modelDownloads)
    .where(
      and(
        eq(modelDownloads.userId, userId),
        eq(modelDownloads.name, name),
        folder === undefined ? undefined : eq(modelDownloads.folder, folder),
      ),
    )
    .orderBy(desc(modelDownloads.createdAt))
    .all();
}

/** How much of a download is done, 0–1; null while its size is unknown. */
export function downloadFraction(row: Pick<ModelDownloadRow, "status" | "bytesDone" | "bytesTotal">) {
  if (row.status === "completed") return 1;
  if (!row.bytesTotal) return null;
  return Math.min(1, row.bytesDone / row.bytesTotal);
}
