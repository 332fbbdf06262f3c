import type { JobPayload } from "../../protocol/v1";
import { modelsKey } from "./slot-models";
import { WaitingLine } from "./waiting-line";

export type NewJob = {
  runId: string;
  userId: string;
  priority: number;
  attempt: number;
  deadlineAt: number | null;
  payload: JobPayload;
};

export type JobState = "queued" | "leased" | "stopping";

export type Job = {
  run_id: string;
  user_id: string;
  priority: number;
  seq: number;
  attempt: number;
  state: JobState;
  machine_id: string | null;
  instance_id: string | null;
  lease_token: string | null;
  lease_expires_at: number | null;
  deadline_at: number | null;
  stop_reason: string | null;
  enqueued_at: number;
  /** The model files the job names (see `modelsKey`); null for none. */
  models_key: string | null;
};

/** How many report ids remembered in memory only a queue keeps (see `JobQueue.remember`). */
const RECENT_REPORTS_KEPT = 4096;

/** A job's columns, less its payload: read on every report, so the graph is not copied out each time. */
const JOB_COLUMNS = `run_id, user_id, priority, seq, attempt, state, machine_id, instance_id, lease_token,
  lease_expires_at, deadline_at, stop_reason, enqueued_at, models_key`;

/**
 * The Dispatcher's durable queue, in its SQLite storage. `queued` jobs wait for a slot (priority, then
 * age); `leased` jobs run on an agent under a lease; `stopping` jobs were cancelled or timed out and
 * wait for the agent to confirm, keeping their slot busy until ComfyUI is free. What runs on every
 * report reads only the few leased and stopping rows, or walks an index from its head, so its cost does
 * not grow with the number of jobs waiting.
 */
export class JobQueue {
  constructor(private readonly sql: SqlStorage) {
    sql.exec(`CREATE TABLE IF NOT EXISTS jobs (
      run_id TEXT PRIMARY KEY, user_id TEXT NOT NULL, priority INTEGER NOT NULL, seq INTEGER NOT NULL,
      attempt INTEGER NOT NULL, state TEXT NOT NULL, machine_id TEXT, instance_id TEXT, lease_token TEXT,
      lease_expires_at INTEGER, deadline_at INTEGER, stop_reason TEXT, enqueued_at INTEGER NOT NULL,
      payload TEXT NOT NULL)`);
    // A queue created before jobs named model files gets the column; NULL means none.
    if (
      !sql
        .exec<{ name: string }>("PRAGMA table_info(jobs)")
        .toArray()
        .some((c) => c.name === "models_key")
    )
      sql.exec("ALTER TABLE jobs ADD COLUMN models_key TEXT");
    sql.exec("CREATE INDEX IF NOT EXISTS jobs_waiting ON jobs(state, priority DESC, seq)");
    addPinnedColumn(sql);
    sql.exec(
      "CREATE INDEX IF NOT EXISTS jobs_waiting_lines ON jobs(state, pinned_to, models_key, priority DESC, seq)",
    );
    sql.exec("CREATE INDEX IF NOT EXISTS jobs_waiting_models ON jobs(state, models_key)");
    sql.exec("CREATE INDEX IF NOT EXISTS jobs_deadline ON jobs(deadline_at) WHERE deadline_at IS NOT NULL");
    sql.exec("CREATE TABLE IF NOT EXISTS seen_reports (event_id TEXT PRIMARY KEY, at INTEGER NOT NULL)");
    sql.exec(`CREATE TABLE IF NOT EXISTS output_grants (
      run_id TEXT NOT NULL, lease_token TEXT NOT NULL, key TEXT NOT NULL, PRIMARY KEY (run_id, key))`);
    sql.exec("CREATE TABLE IF NOT EXISTS restart_graces (lease_token TEXT PRIMARY KEY)");
  }

  private lastSeq: number | null = null;
  private waiting: WaitingLine | null = null;
  /**
   * The rows of jobs on an agent (leased or stopping), as last written: each report of a run reads its
   * job several times. Only this object writes the table, and every write below drops or replaces the
   * run's entry, so the cache never disagrees with storage; it is rebuilt from storage on wake.
   */
  private readonly onAgents = new Map<string, Job>();
  /** Ids of reports applied lately and remembered in memory only (see `remember`), oldest first. */
  private readonly recentReports = new Set<string>();

  /** Keeps a row read or written, if it is one worth keeping. */
  private cache(job: Job) {
    if (job.state === "queued") this.onAgents.delete(job.run_id);
    else this.onAgents.set(job.run_id, job);
  }

  private line(): WaitingLine {
    this.waiting ??= new WaitingLine(
      this.sql.exec<{ priority: number; seq: number }>(
        "SELECT priority, seq FROM jobs WHERE state = 'queued'",
      ),
    );
    return this.waiting;
  }

  /** Takes a job that is leaving `queued` out of the line. */
  private leaveLine(job: Job | undefined) {
    if (job?.state === "queued") this.line().remove(job.priority, job.seq);
  }

  private nextSeq(): number {
    this.lastSeq ??= this.sql.exec<{ seq: number | null }>("SELECT MAX(seq) AS seq FROM jobs").one().seq ?? 0;
    this.lastSeq += 1;
    return this.lastSeq;
  }

  /** Adds a job; enqueuing a run that is already known changes nothing. */
  add(job: NewJob): boolean {
    const seq = this.nextSeq();
    const cursor = this.sql.exec(
      `INSERT INTO jobs (run_id, user_id, priority, seq, attempt, state, deadline_at, enqueued_at, payload,
         models_key)
       VALUES (?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?) ON CONFLICT(run_id) DO NOTHING`,
      job.runId,
      job.userId,
      job.priority,
      seq,
      job.attempt,
      job.deadlineAt,
      Date.now(),
      JSON.stringify(job.payload),
      modelsKey(job.payload.models),
    );
    if (cursor.rowsWritten === 0) return false;
    this.line().add(job.priority, seq);
    return true;
  }

  get(runId: string): Job | undefined {
    const cached = this.onAgents.get(runId);
    if (cached) return cached;
    const job = this.sql.exec<Job>(`SELECT ${JOB_COLUMNS} FROM jobs WHERE run_id = ?`, runId).toArray()[0];
    if (job) this.cache(job);
    return job;
  }

  /** Written by `add` from a job the control plane built (typed end to end): read back as written, not parsed again. */
  payload(runId: string): JobPayload {
    const row = this.sql.exec<{ payload: string }>("SELECT payload FROM jobs WHERE run_id = ?", runId).one();
    return JSON.parse(row.payload) as JobPayload;
  }

  /**
   * The model keys (see `modelsKey`) of the waiting jobs, one each: a seek per key through the index, so
   * the cost follows how many different sets of files wait, not how many jobs.
   */
  waitingModelKeys(): string[] {
    const keys: string[] = [];
    for (;;) {
      const row = this.sql
        .exec<{ key: string }>(
          `SELECT models_key AS key FROM jobs WHERE state = 'queued' AND models_key > ?
           ORDER BY models_key LIMIT 1`,
          keys.at(-1) ?? "",
        )
        .toArray()[0];
      if (!row) return keys;
      keys.push(row.key);
    }
  }

  /**
   * The next waiting job that may run on a slot of `machineId` with these GPU names and these model
   * keys (null: jobs that name no model file): unpinned or pinned to it, and needing no GPU or one whose
   * name contains the requirement (case-insensitive). Each key's jobs are read from their own index range.
   */
  nextWaitingFor(
    machineId: string,
    gpuNames: readonly string[],
    modelKeys: readonly (string | null)[],
  ): Job | undefined {
    // Newline-joined, so a requirement (one line) only matches within one name.
    const names = gpuNames.join("\n").toLowerCase();
    // For each set of model files this slot holds, the head of the unpinned line and of the line pinned
    // here, each walked on its index, so runs pinned to other machines or waiting for other files
    // (however many) are never read.
    const head = (key: string | null, pinned: string, ...args: string[]) =>
      this.sql
        .exec<Job>(
          `SELECT ${JOB_COLUMNS} FROM jobs WHERE state = 'queued' AND ${pinned} AND models_key IS ?
             AND (json_extract(payload, '$.gpu') IS NULL OR instr(?, lower(json_extract(payload, '$.gpu'))) > 0)
           ORDER BY priority DESC, seq ASC LIMIT 1`,
          ...args,
          key,
          names,
        )
        .toArray()[0];
    let next: Job | undefined;
    for (const key of modelKeys) {
      for (const job of [head(key, "pinned_to IS NULL"), head(key, "pinned_to = ?", machineId)]) {
        if (
          job &&
          (!next || job.priority > next.priority || (job.priority === next.priority && job.seq < next.seq))
        )
          next = job;
      }
    }
    return next;
  }

  lease(runId: string, lease: { machineId: string; instanceId: string; token: string; expiresAt: number }) {
    const job = this.get(runId);
    this.leaveLine(job);
    this.sql.exec(
      `UPDATE jobs SET state = 'leased', machine_id = ?, instance_id = ?, lease_token = ?, lease_expires_at = ?
       WHERE run_id = ?`,
      lease.machineId,
      lease.instanceId,
      lease.token,
      lease.expiresAt,
      runId,
    );
    if (job)
      this.cache({
        ...job,
        state: "leased",
        machine_id: lease.machineId,
        instance_id: lease.instanceId,
        lease_token: lease.token,
        lease_expires_at: lease.expiresAt,
      });
  }

  /** True when `token` is the live lease of the run (leased or stopping). */
  holds(runId: string, token: string): boolean {
    const job = this.get(runId);
    return !!job && job.state !== "queued" && job.lease_token === token;
  }

  renew(runId: string, token: string, expiresAt: number): boolean {
    this.sql.exec("DELETE FROM restart_graces WHERE lease_token = ?", token);
    const cursor = this.sql.exec(
      "UPDATE jobs SET lease_expires_at = ? WHERE run_id = ? AND lease_token = ? AND state != 'queued'",
      expiresAt,
      runId,
      token,
    );
    const renewed = cursor.rowsWritten > 0;
    const cached = this.onAgents.get(runId);
    if (renewed && cached) this.cache({ ...cached, lease_expires_at: expiresAt });
    return renewed;
  }

  /** Remembers the R2 keys granted to the run's lease: the only keys its outputs may name. */
  grant(runId: string, leaseToken: string, keys: string[]) {
    for (const key of keys)
      this.sql.exec(
        "INSERT OR REPLACE INTO output_grants (run_id, lease_token, key) VALUES (?, ?, ?)",
        runId,
        leaseToken,
        key,
      );
  }

  grantedKeys(runId: string, leaseToken: string): Set<string> {
    const rows = this.sql
      .exec<{ key: string }>(
        "SELECT key FROM output_grants WHERE run_id = ? AND lease_token = ?",
        runId,
        leaseToken,
      )
      .toArray();
    return new Set(rows.map((r) => r.key));
  }

  /** Puts a job back in line for a new attempt, keeping its place by priority and original age. */
  requeue(runId: string, attempt: number) {
    const job = this.get(runId);
    this.sql.exec("DELETE FROM output_grants WHERE run_id = ?", runId);
    this.sql.exec(
      `UPDATE jobs SET state = 'queued', attempt = ?, machine_id = NULL, instance_id = NULL, lease_token = NULL,
       lease_expires_at = NULL WHERE run_id = ?`,
      attempt,
      runId,
    );
    this.onAgents.delete(runId);
    if (job && job.state !== "queued") this.line().add(job.priority, job.seq);
  }

  markStopping(runId: string, reason: string) {
    const job = this.get(runId);
    this.leaveLine(job);
    this.sql.exec("UPDATE jobs SET state = 'stopping', stop_reason = ? WHERE run_id = ?", reason, runId);
    if (job) this.cache({ ...job, state: "stopping", stop_reason: reason });
  }

  remove(runId: string) {
    this.leaveLine(this.get(runId));
    this.onAgents.delete(runId);
    this.sql.exec("DELETE FROM jobs WHERE run_id = ?", runId);
    this.sql.exec("DELETE FROM output_grants WHERE run_id = ?", runId);
  }

  leasedTo(machineId: string): Job[] {
    return this.sql
      .exec<Job>(
        `SELECT ${JOB_COLUMNS} FROM jobs WHERE state IN ('leased', 'stopping') AND machine_id = ?`,
        machineId,
      )
      .toArray();
  }

  /** Slot key → the run it holds, for every leased or stopping job. */
  leasesBySlot(): Map<string, string> {
    const rows = this.sql
      .exec<{ machine_id: string; instance_id: string; run_id: string }>(
        "SELECT machine_id, instance_id, run_id FROM jobs WHERE state IN ('leased', 'stopping')",
      )
      .toArray();
    return new Map(rows.map((r) => [slotKey(r.machine_id, r.instance_id), r.run_id]));
  }

  busySlots(): Set<string> {
    return new Set(this.leasesBySlot().keys());
  }

  /**
   * Moves every live lease's expiry to at least `until`, once per lease until its agent renews it: a
   * lease cut off by the Dispatcher's own restart gets time to be reclaimed, a dead agent's lease is
   * extended at most once.
   */
  graceLeases(until: number) {
    this.onAgents.clear();
    this.sql.exec(
      "DELETE FROM restart_graces WHERE lease_token NOT IN (SELECT lease_token FROM jobs WHERE lease_token IS NOT NULL)",
    );
    this.sql.exec(
      `UPDATE jobs SET lease_expires_at = max(lease_expires_at, ?)
       WHERE state != 'queued' AND lease_token NOT IN (SELECT lease_token FROM restart_graces)`,
      until,
    );
    this.sql.exec(
      `INSERT OR IGNORE INTO restart_graces (lease_token)
       SELECT lease_token FROM jobs WHERE state != 'queued' AND lease_token IS NOT NULL`,
    );
  }

  expiredLeases(now: number): Job[] {
    return this.sql
      .exec<Job>(
        `SELECT ${JOB_COLUMNS} FROM jobs WHERE state IN ('leased', 'stopping') AND lease_expires_at <= ?`,
        now,
      )
      .toArray();
  }

  pastDeadline(now: number): Job[] {
    return this.sql
      .exec<Job>(
        `SELECT ${JOB_COLUMNS} FROM jobs WHERE state != 'stopping' AND deadline_at IS NOT NULL AND deadline_at <= ?`,
        now,
      )
      .toArray();
  }

  /** The earliest moment something needs the alarm: a lease to expire or a deadline to pass. */
  nextWakeUp(): number | null {
    const row = this.sql
      .exec<{ at: number | null }>(
        `SELECT MIN(at) AS at FROM (
           SELECT lease_expires_at AS at FROM jobs WHERE state IN ('leased', 'stopping')
           UNION ALL SELECT * FROM (SELECT deadline_at AS at FROM jobs
             WHERE deadline_at IS NOT NULL AND state != 'stopping' ORDER BY deadline_at LIMIT 1))`,
      )
      .one();
    return row.at;
  }

  /** How many waiting jobs run before this one. */
  position(runId: string): number | null {
    const job = this.get(runId);
    if (job?.state !== "queued") return null;
    return this.line().ahead(job.priority, job.seq);
  }

  counts(): { queued: number; leased: number; stopping: number } {
    const rows = this.sql.exec<{ state: JobState; n: number }>(
      "SELECT state, COUNT(*) AS n FROM jobs GROUP BY state",
    );
    const counts = { queued: 0, leased: 0, stopping: 0 };
    for (const row of rows) counts[row.state] = row.n;
    return counts;
  }

  wasSeen(eventId: string): boolean {
    if (this.recentReports.has(eventId)) return true;
    return this.sql.exec("SELECT 1 FROM seen_reports WHERE event_id = ?", eventId).toArray().length > 0;
  }

  /**
   * Remembers an applied report so a resent copy changes nothing: in storage when `durable`, otherwise
   * among the last few thousand in memory, which covers what an agent resends after a reconnect (the
   * reports still unacked when its link dropped) without a storage write per report.
   */
  remember(eventId: string, durable: boolean) {
    if (durable) {
      this.sql.exec("INSERT OR IGNORE INTO seen_reports (event_id, at) VALUES (?, ?)", eventId, Date.now());
      return;
    }
    this.recentReports.add(eventId);
    if (this.recentReports.size > RECENT_REPORTS_KEPT)
      this.recentReports.delete(this.recentReports.values().next().value as string);
  }

  forgetReportsBefore(at: number) {
    this.sql.exec("DELETE FROM seen_reports WHERE at < ?", at);
  }
}

/**
 * `pinned_to`: the machine a job is pinned to, from its payload, as a column its index can hold.
 * Tables made before it get it here; adding a virtual column twice is the only error to ignore.
 */
function addPinnedColumn(sql: SqlStorage) {
  try {
    sql.exec(
      "ALTER TABLE jobs ADD COLUMN pinned_to TEXT GENERATED ALWAYS AS (json_extract(payload, '$.machine_id')) VIRTUAL",
    );
  } catch (err) {
    if (!/duplicate column/i.test(String(err))) throw err;
  }
}

export const slotKey = (machineId: string, instanceId: string) => `${machineId}/${instanceId}`;

/** The instance id that stands for a whole machine in slot keys (enabled flags). */
export const WHOLE_MACHINE = "*";
