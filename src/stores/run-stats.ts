import { and, count, eq, isNotNull, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { type RunStatus, runs } from "../db/schema";

/** How many of the tenant's runs are in each status (statuses with none are absent). */
export async function countRunsByStatus(db: Db, userId: string): Promise<Partial<Record<RunStatus, number>>> {
  const rows = await db
    .select({ status: runs.status, n: count() })
    .from(runs)
    .where(eq(runs.userId, userId))
    .groupBy(runs.status);
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}

/** Mean wall time from start to end of the tenant's successful runs, in seconds; null when none. */
export async function averageRunSeconds(db: Db, userId: string): Promise<number | null> {
  const [row] = await db
    .select({
      seconds: sql<number | null>`avg((julianday(${runs.endedAt}) - julianday(${runs.startedAt})) * 86400.0)`,
    })
    .from(runs)
    .where(
      and(
        eq(runs.userId, userId),
        eq(runs.status, "success"),
        isNotNull(runs.startedAt),
        isNotNull(runs.endedAt),
      ),
    );
  return row?.seconds ?? null;
}
