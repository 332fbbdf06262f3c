import type { Db } from "../db/client";
import { dispatcherClient } from "../durable/dispatcher/client";
import type { Bindings } from "../env";
import { listOldUnstartedRuns } from "../stores/runs";

/** A run row older than this without its queue entry was cut off mid-request, not just slow. */
const UNQUEUED_AFTER_MS = 60_000;
const RUNS_PER_SWEEP = 500;

/**
 * Keeps run rows and queue entries from diverging: a `not-started` run that its pool's Dispatcher does
 * not hold ends `failed` (`not_queued`) instead of waiting forever. The client of such a run saw its
 * request fail; an idempotency key lets it ask again safely.
 */
export async function failUnqueuedRuns(env: Bindings, db: Db, now = Date.now()): Promise<string[]> {
  const before = new Date(now - UNQUEUED_AFTER_MS).toISOString();
  const byPool = new Map<string, { userId: string; pool: string; ids: string[] }>();
  for (const run of await listOldUnstartedRuns(db, before, RUNS_PER_SWEEP)) {
    const key = `${run.userId}/${run.pool}`;
    const group = byPool.get(key) ?? { userId: run.userId, pool: run.pool, ids: [] };
    group.ids.push(run.id);
    byPool.set(key, group);
  }
  const failed = await Promise.all(
    [...byPool.values()].map((g) => dispatcherClient(env, g.userId, g.pool).failUnqueued(g.ids)),
  );
  return failed.flat();
}
