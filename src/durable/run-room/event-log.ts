import { isTerminal } from "../../db/schema/runs";
import { DeferredTask } from "../../lib/deferred-task";
import { type RunEvent, type RunEventBody, RunSnapshot } from "../../lib/run-events";

type EventRow = { seq: number; type: RunEvent["type"]; data: string; at: string };

/**
 * Events a run sends many of, whose loss in a crash costs little (a later progress or status supersedes
 * a progress event; log lines are in D1 too). They are kept in memory and written with the room's next
 * write, `FLUSH_MS` after the first of them, or once they reach the numbering bound, so a burst of steps
 * is one commit instead of one each, and their frames wait for no commit of their own.
 */
const BUFFERED = new Set<RunEvent["type"]>(["progress", "log"]);
const FLUSH_MS = 1_000;
/**
 * How many numbers a live run's room may hand out beyond what it has written. The bound is written with
 * the events, and a restarted room numbers from it, so a number a subscriber saw is never given to
 * another event: at worst a restart skips some.
 */
const SEQ_RESERVE = 64;
const RESERVED_KEY = "event-log:reserved";

/** The run's numbered events and its current snapshot, in the RunRoom's storage. */
export class EventLog {
  /** Cached reads: one RunRoom instance is the only writer of its storage. */
  private seq: number;
  private reserved: number;
  private current: RunSnapshot | null | undefined;
  /** Numbered and sent to subscribers, not yet written: all newer than every written event. */
  private unwritten: EventRow[] = [];
  private snapshotUnwritten = false;
  private readonly writeLater = new DeferredTask("run_events_write", FLUSH_MS, () => this.write());

  private readonly sql: SqlStorage;

  constructor(private readonly storage: DurableObjectStorage) {
    this.sql = storage.sql;
    this.sql.exec(`CREATE TABLE IF NOT EXISTS events (
      seq INTEGER PRIMARY KEY AUTOINCREMENT, type TEXT NOT NULL, data TEXT NOT NULL, at TEXT NOT NULL)`);
    this.sql.exec(
      "CREATE TABLE IF NOT EXISTS snapshot (id INTEGER PRIMARY KEY CHECK (id = 1), data TEXT NOT NULL)",
    );
    const written =
      this.sql.exec<{ seq: number | null }>("SELECT MAX(seq) AS seq FROM events").one().seq ?? 0;
    this.seq = Math.max(written, storage.kv.get<number>(RESERVED_KEY) ?? 0);
    this.reserved = this.seq;
  }

  lastSeq(): number {
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
    // Serialized now, so an event that cannot be stored fails its own publish, not a later one.
    const row: EventRow = {
      seq: this.seq + 1,
      type: body.type,
      data: JSON.stringify(body.data),
      at: new Date().toISOString(),
    };
    const before = { current: this.current, snapshotUnwritten: this.snapshotUnwritten };
    this.seq = row.seq;
    this.unwritten.push(row);
    this.fold(body, row.at);
    if (BUFFERED.has(body.type) && row.seq <= this.reserved) this.writeLater.soon();
    else {
      try {
        this.write();
      } catch (error) {
        // Nothing was written: this event is taken back, so it fails its own publish only.
        this.unwritten.pop();
        this.seq = row.seq - 1;
        this.current = before.current;
        this.snapshotUnwritten = before.snapshotUnwritten;
        throw error;
      }
    }
    return { ...body, seq: row.seq, at: row.at } as RunEvent;
  }

  after(seq: number): RunEvent[] {
    const written = this.sql
      .exec<EventRow>("SELECT seq, type, data, at FROM events WHERE seq > ? ORDER BY seq", seq)
      .toArray();
    return [...written, ...this.unwritten.filter((row) => row.seq > seq)].map(
      (row) => ({ seq: row.seq, type: row.type, at: row.at, data: JSON.parse(row.data) }) as RunEvent,
    );
  }

  /**
   * Writes what is unwritten and the numbering bound, all or nothing: the bound is ahead of the last
   * number while the run is live, exactly the last once it has ended (no more events are expected).
   */
  private write() {
    const ended = !!this.current && isTerminal(this.current.status);
    const reserved = ended ? this.seq : this.seq + SEQ_RESERVE;
    this.storage.transactionSync(() => {
      for (const row of this.unwritten)
        this.sql.exec(
          "INSERT INTO events (seq, type, data, at) VALUES (?, ?, ?, ?)",
          row.seq,
          row.type,
          row.data,
          row.at,
        );
      if (this.snapshotUnwritten && this.current)
        this.sql.exec(
          "INSERT OR REPLACE INTO snapshot (id, data) VALUES (1, ?)",
          JSON.stringify(this.current),
        );
      if (reserved !== this.reserved) this.storage.kv.put(RESERVED_KEY, reserved);
    });
    this.writeLater.cancel();
    this.unwritten = [];
    this.snapshotUnwritten = false;
    this.reserved = reserved;
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
      this.current = next;
      this.snapshotUnwritten = true;
    }
  }
}
