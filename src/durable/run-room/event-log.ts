import { isTerminal, RUN_STATUSES, type RunStatus } from "../../db/schema/runs";
import { DeferredTask } from "../../lib/deferred-task";
import { hasEnded, type RunEvent, type RunEventBody, RunSnapshot } from "../../lib/run-events";

type EventRow = { seq: number; type: RunEvent["type"]; data: string; at: string };

/**
 * Events whose loss in a crash costs little: a later status or progress supersedes a progress event or
 * a live run's status (and the run's row in D1 holds its status: see `offer`), and log lines are in D1
 * too. They are kept in memory and written with the room's next write, `FLUSH_MS` after the first of
 * them, or once they reach the numbering bound, so a run's steps and moves are one commit instead of
 * one each, and their frames wait for no commit of their own. A run's end and its warnings are written
 * before anyone gets them: subscribers and waiters rely on the end being there after a restart.
 */
const buffered = (body: RunEventBody) =>
  body.type === "progress" ||
  body.type === "log" ||
  (body.type === "status" && !isTerminal(body.data.status));
const FLUSH_MS = 1_000;
/**
 * How many numbers a live run's room may hand out beyond its last written event. A room that had
 * handed out numbers before it started again numbers on past them (past its last written event
 * exactly, once the run has ended), so a number a subscriber saw is never given to another event: at
 * worst a restart skips some.
 */
const SEQ_RESERVE = 64;

/** The run's numbered events and its current snapshot, in the RunRoom's storage. */
export class EventLog {
  /** Cached reads: one RunRoom instance is the only writer of its storage. */
  private seq: number;
  private reserved: number;
  /** Whether the room may have handed out a number: its tables are made with the first. */
  private numbered: boolean;
  private current: RunSnapshot | null | undefined;
  /** Numbered and sent to subscribers, not yet written: all newer than every written event. */
  private unwritten: EventRow[] = [];
  private snapshotUnwritten = false;
  private readonly writeLater = new DeferredTask("run_events_write", FLUSH_MS, () => this.write());

  private readonly sql: SqlStorage;

  constructor(private readonly storage: DurableObjectStorage) {
    this.sql = storage.sql;
    this.numbered =
      this.sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events'").toArray().length >
      0;
    const written = this.numbered
      ? (this.sql.exec<{ seq: number | null }>("SELECT MAX(seq) AS seq FROM events").one().seq ?? 0)
      : 0;
    const live = !hasEnded(this.snapshot());
    this.seq = this.numbered && live ? written + SEQ_RESERVE : written;
    // A restarted room writes its next event at once, so a second restart numbers past it.
    this.reserved = this.numbered || !live ? this.seq : this.seq + SEQ_RESERVE;
  }

  lastSeq(): number {
    return this.seq;
  }

  snapshot(): RunSnapshot | null {
    if (this.current === undefined) {
      const row = this.numbered
        ? this.sql.exec<{ data: string }>("SELECT data FROM snapshot WHERE id = 1").toArray()[0]
        : undefined;
      this.current = row ? RunSnapshot.parse(JSON.parse(row.data)) : null;
    }
    return this.current;
  }

  /**
   * Takes the run's row, as a subscriber just read it, for the snapshot when the room has none yet
   * (whatever the row says), or when the row shows a later attempt or status of the live run than the
   * snapshot (a restart lost the room's last status events). An ended run's snapshot is never replaced,
   * and a room with a snapshot takes the end only from its event, which comes after the run's last
   * log lines.
   */
  offer(row: RunSnapshot) {
    const current = this.snapshot();
    if (current && !movedOn(current, row)) return;
    this.current = row;
    // Written with the next event, never by itself: every write holds the newest number handed out,
    // which the numbering after a restart relies on. Until then the row in D1 holds it anyway.
    this.snapshotUnwritten = true;
  }

  append(body: RunEventBody): RunEvent {
    if (!this.numbered) this.makeTables();
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
    if (buffered(body) && row.seq <= this.reserved) this.writeLater.soon();
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

  /**
   * Made with the first number, in one commit with the turn that hands it out (its frames wait for the
   * commit: the output gate), so a room that starts again with them knows it may have handed out more.
   */
  private makeTables() {
    this.sql.exec(`CREATE TABLE IF NOT EXISTS events (
      seq INTEGER PRIMARY KEY AUTOINCREMENT, type TEXT NOT NULL, data TEXT NOT NULL, at TEXT NOT NULL)`);
    this.sql.exec(
      "CREATE TABLE IF NOT EXISTS snapshot (id INTEGER PRIMARY KEY CHECK (id = 1), data TEXT NOT NULL)",
    );
    this.numbered = true;
  }

  after(seq: number): RunEvent[] {
    const written = this.numbered
      ? this.sql
          .exec<EventRow>("SELECT seq, type, data, at FROM events WHERE seq > ? ORDER BY seq", seq)
          .toArray()
      : [];
    return [...written, ...this.unwritten.filter((row) => row.seq > seq)].map(
      (row) => ({ seq: row.seq, type: row.type, at: row.at, data: JSON.parse(row.data) }) as RunEvent,
    );
  }

  /**
   * Writes what is unwritten, all or nothing. Then the room may hand out `SEQ_RESERVE` numbers unwritten
   * while the run is live, none once it has ended (no more events are expected).
   */
  private write() {
    const ended = hasEnded(this.current);
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
    });
    this.writeLater.cancel();
    this.unwritten = [];
    this.snapshotUnwritten = false;
    this.reserved = ended ? this.seq : this.seq + SEQ_RESERVE;
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

/** Whether the live run's row shows a later move than the room's snapshot: a newer attempt or status. */
const movedOn = (snapshot: RunSnapshot, row: RunSnapshot) =>
  !isTerminal(snapshot.status) &&
  !isTerminal(row.status) &&
  (row.attempt > snapshot.attempt ||
    (row.attempt === snapshot.attempt && stepOf(row.status) > stepOf(snapshot.status)));
// A live run moves forward through these, and starts over at the first with a new attempt.
const stepOf = (status: RunStatus) => RUN_STATUSES.indexOf(status);
