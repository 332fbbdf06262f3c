import { closeSync, fdatasync, openSync, writeSync } from "node:fs";
import { mkdir, open, readFile, rename } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { ReportMessage } from "../../src/protocol/v1";
import type { Logger } from "./log";

/** A report waiting for its ack, with the instance that ran it (hello lists such runs as in flight). */
export interface OutboxEntry {
  message: ReportMessage;
  instanceId: string;
}

type Line = { add: OutboxEntry } | { ack: string };

const FILE_NAME = "outbox.jsonl";
/** Rewrite the file once acked lines outnumber live ones by this much (and at least this many). */
const COMPACT_AFTER_DEAD_LINES = 2000;

const datasync = promisify(fdatasync);
/** What `append` hands back when no disk step is queued: one shared promise, none made per progress report. */
const SETTLED: Promise<void> = Promise.resolve();
const lineOf = (line: Line) => `${JSON.stringify(line)}\n`;

/** How an entry is kept: in memory only (never in the file, nor its ack), written, or written and fsync'd. */
export type Keeping = "memory" | "written" | "synced";

/**
 * Reports not yet acknowledged by the control plane, kept in an append-only JSON-lines file so they
 * survive a lost link and an agent restart. An entry is written before it is sent, and fsync'd too
 * when the caller asks (a run's final report). An entry the caller keeps in memory only (progress:
 * the next one supersedes it, and after a restart the run reports afresh) is resent after a reconnect
 * like the others, but never touches the file, nor does its ack. Acks are appended without fsync,
 * since a lost ack only means a resend, which the server tolerates.
 *
 * Lines are appended with a synchronous write, a few microseconds into the page cache, where an
 * asynchronous one costs a thread-pool round trip per line. Only fsyncs and compactions wait on the
 * disk, one at a time, in order.
 */
export class Outbox {
  private readonly entries = new Map<string, OutboxEntry>();
  /** Entries kept in memory only: neither they nor their acks are in the file. */
  private readonly inMemory = new Set<string>();
  private deadLines = 0;
  private disk: Promise<unknown> = Promise.resolve();
  /** Steps queued on `disk` and not yet done. */
  private diskBusy = 0;
  /** Lines appended while a compaction writes the new file; they follow into it once it is in place. */
  private held: string[] | undefined;
  private readonly emptyWaiters = new Set<() => void>();

  private constructor(
    private readonly path: string,
    private fd: number,
    private readonly log: Logger,
  ) {}

  static async open(dir: string, log: Logger): Promise<Outbox> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const path = join(dir, FILE_NAME);
    const outbox = new Outbox(path, openSync(path, "a", 0o600), log);
    await outbox.replay();
    await outbox.compact();
    return outbox;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Entries in the order they were added, which is the order they must be sent in. */
  pending(): OutboxEntry[] {
    return [...this.entries.values()];
  }

  /**
   * Resolves once the entry is kept as asked: in memory only, written to the file, or written and
   * fsync'd; always after the entries appended before it, so that reports go out in the order they
   * were made.
   */
  append(entry: OutboxEntry, keeping: Keeping = "synced"): Promise<void> {
    const id = entry.message.event_id;
    this.entries.set(id, entry);
    if (keeping === "memory") {
      this.inMemory.add(id);
      return this.afterDisk();
    }
    try {
      this.write(lineOf({ add: entry }));
    } catch (error) {
      return Promise.reject(error);
    }
    // Behind a compaction in flight too, so a synced line is in the new file.
    return keeping === "synced" ? this.onDisk(() => datasync(this.fd)) : this.afterDisk();
  }

  /** Forgets an acknowledged entry and returns it; undefined for an unknown or already acked id. */
  ack(eventId: string): OutboxEntry | undefined {
    const entry = this.entries.get(eventId);
    if (!entry) return undefined;
    this.entries.delete(eventId);
    if (!this.inMemory.delete(eventId)) this.writeAck(eventId);
    if (this.entries.size === 0) for (const wake of this.emptyWaiters) wake();
    return entry;
  }

  private writeAck(eventId: string) {
    this.deadLines += 2;
    try {
      this.write(lineOf({ ack: eventId }));
    } catch (error) {
      this.log.error("outbox write failed", { error });
    }
    if (this.deadLines >= COMPACT_AFTER_DEAD_LINES && this.deadLines > this.entries.size * 2) {
      this.deadLines = 0;
      void this.compact();
    }
  }

  /** Resolves true once every entry is acked, false if that takes longer than timeoutMs. */
  waitUntilEmpty(timeoutMs: number): Promise<boolean> {
    if (this.entries.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (empty: boolean) => {
        clearTimeout(timer);
        this.emptyWaiters.delete(wake);
        resolve(empty);
      };
      const wake = () => done(true);
      const timer = setTimeout(() => done(false), timeoutMs);
      this.emptyWaiters.add(wake);
    });
  }

  /** Rewrites the file with only the live entries. */
  compact(): Promise<void> {
    return this.onDisk(() => this.rewrite());
  }

  async close(): Promise<void> {
    await this.compact();
    closeSync(this.fd);
  }

  private write(line: string) {
    if (this.held) this.held.push(line);
    else writeSync(this.fd, line);
  }

  /** Resolves after every fsync and compaction queued so far (never rejects); at once when none are. */
  private afterDisk(): Promise<void> {
    return this.diskBusy === 0 ? SETTLED : this.onDisk(async () => {});
  }

  /** Runs `step` after every fsync and compaction queued before it. */
  private onDisk<T>(step: () => Promise<T>): Promise<T> {
    this.diskBusy++;
    const next = this.disk.then(step);
    this.disk = next
      .catch((error) => this.log.error("outbox write failed", { error }))
      .finally(() => this.diskBusy--);
    return next;
  }

  private async replay() {
    const text = await readFile(this.path, "utf8");
    for (const raw of text.split("\n")) {
      if (!raw.trim()) continue;
      const line = parseLine(raw);
      if (!line) {
        // A crash mid-append leaves a torn last line; everything before it is intact.
        this.log.warn("outbox: skipping an unreadable line", { line: raw.slice(0, 200) });
      } else if ("add" in line) {
        this.entries.set(line.add.message.event_id, line.add);
      } else {
        this.entries.delete(line.ack);
      }
    }
  }

  private async rewrite() {
    const live = [...this.entries.values()]
      .filter((entry) => !this.inMemory.has(entry.message.event_id))
      .map((entry) => lineOf({ add: entry }))
      .join("");
    this.held = [];
    try {
      const tmp = `${this.path}.tmp`;
      const handle = await open(tmp, "w", 0o600);
      try {
        await handle.writeFile(live);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(tmp, this.path);
      const previous = this.fd;
      this.fd = openSync(this.path, "a", 0o600);
      closeSync(previous);
    } finally {
      // Into the new file, or the old one if the rewrite failed: either way after what it holds.
      const held = this.held;
      this.held = undefined;
      for (const line of held) this.write(line);
    }
  }
}

function parseLine(raw: string): Line | undefined {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null) return undefined;
  if ("ack" in value && typeof value.ack === "string") return { ack: value.ack };
  if ("add" in value && typeof value.add === "object" && value.add !== null) {
    const add = value.add as { message?: unknown; instanceId?: unknown };
    const message = ReportMessage.safeParse(add.message);
    if (message.success && typeof add.instanceId === "string") {
      return { add: { message: message.data, instanceId: add.instanceId } };
    }
  }
  return undefined;
}
