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
 * an agent) leaves the row to write when the object starts again, before any report of the run.
 */
export class UnrecordedRuns {
  constructor(private readonly sql: SqlStorage) {
    sql.exec("CREATE TABLE IF NOT EXISTS unrecorded_runs (run_id TEXT PRIMARY KEY, row TEXT NOT NULL)");
  }

  hold(row: HeldRow) {
    this.sql.exec(
      "INSERT OR REPLACE INTO unrecorded_runs (run_id, row) VALUES (?, ?)",
      row.id,
      JSON.stringify(row),
    );
  }

  release(runId: string) {
    this.sql.exec("DELETE FROM unrecorded_runs WHERE run_id = ?", runId);
  }

  all(): HeldRow[] {
    return this.sql
      .exec<{ row: string }>("SELECT row FROM unrecorded_runs")
      .toArray()
      .map(({ row }) => JSON.parse(row));
  }
}
