import type { NewRun } from "../../db/schema";

/** A new run's row, with the id its job is stored under. */
export type NewRunRow = NewRun & { id: string };

/**
 * A new run's row as the Dispatcher is handed and holds it: its graph and bindings are in the run's job,
 * so they are neither sent nor stored twice.
 */
export type HeldRow = Omit<NewRunRow, "graph" | "bindings">;

/**
 * New runs whose job is stored but whose D1 row is not yet written. Each is held in the same storage
 * write as its job and let go once the row exists, so a restart in between (the job may already be on
 * an agent) leaves the row to write when the object starts again, before any report of the run. Letting
 * go is a delete that rides on the next storage write made anyway (the next hold, a run's end, the
 * alarm), so it costs no commit of its own, and the Dispatcher's answer to the POST does not wait for
 * one; a restart before it writes the row again, which finds the row there and keeps it.
 */
export class UnrecordedRuns {
  private readonly released = new Set<string>();

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
  }

  /** Deletes the holds let go since the last write; call it where the object writes its storage anyway. */
  flush() {
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
