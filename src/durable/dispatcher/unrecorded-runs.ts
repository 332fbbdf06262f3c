import type { NewRun } from "../../db/schema";

/**
 * New runs whose job is stored but whose D1 row is not yet written. Each is held in the same storage
 * write as its job and let go once the row exists, so a restart in between (the job may already be on
 * an agent) leaves the row to write when the object starts again, before any report of the run.
 */
export class UnrecordedRuns {
  constructor(private readonly sql: SqlStorage) {
    sql.exec("CREATE TABLE IF NOT EXISTS unrecorded_runs (run_id TEXT PRIMARY KEY, row TEXT NOT NULL)");
  }

  hold(run: NewRun & { id: string }) {
    this.sql.exec(
      "INSERT OR REPLACE INTO unrecorded_runs (run_id, row) VALUES (?, ?)",
      run.id,
      JSON.stringify(run),
    );
  }

  release(runId: string) {
    this.sql.exec("DELETE FROM unrecorded_runs WHERE run_id = ?", runId);
  }

  all(): (NewRun & { id: string })[] {
    return this.sql
      .exec<{ row: string }>("SELECT row FROM unrecorded_runs")
      .toArray()
      .map(({ row }) => JSON.parse(row));
  }
}
