import type { NewRun } from "../../db/schema";
import { DeferredTask } from "../../lib/deferred-task";

/** A new run's row, with the id its job is stored under. */
export type NewRunRow = NewRun & { id: string };

/**
 * A new run's row as the Dispatcher is handed and holds it: its graph and bindings are in the run's job,
 * so they are neither sent nor stored twice.
 */
export type HeldRow = Omit<NewRunRow, "graph" | "bindings">;

/** How long a let-go hold may wait for a storage write to ride on before it is deleted by itself. */
const RELEASE_WAIT_MS = 1000;

/**
 * New runs whose job is stored but whose D1 row is not yet written. Each is held in the same storage
 * write as its job and let go once the row exists, so a restart in between (the job may already be on
 * an agent) leaves the row to write when the object starts again, before any report of the run. Letting
 * go is a delete that rides on the next storage write made anyway (the next hold, a run's end, the
 * alarm), or made by itself within a second, so a busy queue pays no commit for it and the
 * Dispatcher's answer to the POST waits for none; an idle one is clean before it hibernates. A restart
 * before the delete writes the row again, which finds the row there and keeps it.
 */
export class UnrecordedRuns {
  private readonly released = new Set<string>();
  private readonly flushLater = new DeferredTask("unrecorded_runs_flush", RELEASE_WAIT_MS, () =>
    this.flush(),
  );

  constructor(private readonly sql: SqlStorage) {
    sql.exec("CREATE TABLE IF NOT EXISTS unrecorded_runs (run_id TEXT PRIMARY KEY, row TEXT NOT NULL)");
  }

  hold(row: HeldRow) {
    this.flush();
    this.sql.exec(
      "INSERT OR REPLACE INTO unrecorded_runs (run_id, row) VALUES (?, ?)",
      row.id,
      JSON.stringify(row),
    );
  }

  release(runId: string) {
    this.released.add(runId);
    this.flushLater.soon();
  }

  /** Deletes the holds let go since the last write; call it where the object writes its storage anyway. */
  flush() {
    this.flushLater.cancel();
    for (const runId of this.released) this.sql.exec("DELETE FROM unrecorded_runs WHERE run_id = ?", runId);
    this.released.clear();
  }

  all(): HeldRow[] {
    return this.sql
      .exec<{ row: string }>("SELECT row FROM unrecorded_runs")
      .toArray()
      .map(({ row }): HeldRow => JSON.parse(row))
      .filter((row) => !this.released.has(row.id));
  }
}
