import { isTerminal } from "../../db/schema/runs";
import { type RunEvent, type RunEventBody, RunSnapshot } from "../../lib/run-events";

type EventRow = { seq: number; type: RunEvent["type"]; data: string; at: string };

/** The run's numbered events and its current snapshot, in the RunRoom's SQLite storage. */
export class EventLog {
  /** Cached reads: one RunRoom instance is the only writer of its storage. */
  private seq: number | null = null;
  private current: RunSnapshot | null | undefined;

  constructor(private readonly sql: SqlStorage) {
    sql.exec(`CREATE TABLE IF NOT EXISTS events (
      seq INTEGER PRIMARY KEY AUTOINCREMENT, type TEXT NOT NULL, data TEXT NOT NULL, at TEXT NOT NULL)`);
    sql.exec(
      "CREATE TABLE IF NOT EXISTS snapshot (id INTEGER PRIMARY KEY CHECK (id = 1), data TEXT NOT NULL)",
    );
  }

  lastSeq(): number {
    this.seq ??= this.sql.exec<{ seq: number | null }>("SELECT MAX(seq) AS seq FROM events").one().seq ?? 0;
    return this.seq;
  }

  snapshot(): RunSnapshot | null {
    if (this.current === undefined) {
      const row = this.sql.exec<{ data: string }>("SELECT data FROM snapshot WHERE id = 1").toArray()[0];
      this.current = row ? RunSnapshot.parse(JSON.parse(row.data)) : null;
    }
    return this.current;
  }

  initSnapshot(snapshot: RunSnapshot) {
    if (this.snapshot()) return;
    this.sql.exec("INSERT INTO snapshot (id, data) VALUES (1, ?)", JSON.stringify(snapshot));
    this.current = snapshot;
  }

  append(body: RunEventBody): RunEvent {
    const at = new Date().toISOString();
    const { seq } = this.sql
      .exec<{ seq: number }>(
        "INSERT INTO events (type, data, at) VALUES (?, ?, ?) RETURNING seq",
        body.type,
        JSON.stringify(body.data),
        at,
      )
      .one();
    this.seq = seq;
    this.fold(body, at);
    return { ...body, seq, at } as RunEvent;
  }

  after(seq: number): RunEvent[] {
    return this.sql
      .exec<EventRow>("SELECT seq, type, data, at FROM events WHERE seq > ? ORDER BY seq", seq)
      .toArray()
      .map((row) => ({ seq: row.seq, type: row.type, at: row.at, data: JSON.parse(row.data) }) as RunEvent);
  }

  /**
   * Folds an event into the snapshot: status events replace it, progress events update a live run's.
   * A finished run's snapshot is its final status event, so a late progress event cannot make it stale.
   */
  private fold(body: RunEventBody, at: string) {
    const current = this.snapshot();
    let next: RunSnapshot | null = current;
    if (body.type === "status") next = body.data;
    else if (body.type === "progress" && current && !isTerminal(current.status))
      next = { ...current, progress: body.data, updated_at: at };
    if (next && next !== current) {
      this.sql.exec("INSERT OR REPLACE INTO snapshot (id, data) VALUES (1, ?)", JSON.stringify(next));
      this.current = next;
    }
  }
}
