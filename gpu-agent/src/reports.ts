import { randomUUID } from "node:crypto";
import type * as z from "zod/mini";
import {
  type AckMessage,
  type InFlightJob,
  type ReportMessage,
  type RunReport,
  TERMINAL_REPORTS,
} from "../../src/protocol/v1";
import type { Logger } from "./log";
import type { Keeping, Outbox, OutboxEntry } from "./outbox";

/** How the outbox keeps a report: progress in memory, a run's final report fsync'd, the rest written. */
const keepingOf = (report: RunReport): Keeping =>
  report.kind === "progress" ? "memory" : TERMINAL_REPORTS.has(report.kind) ? "synced" : "written";

export type Lease = Pick<z.infer<typeof InFlightJob>, "run_id" | "lease_token" | "instance_id">;

/** The link as reports see it (`Link`): in order, or replaceable by a newer frame while it waits. */
export interface ReportLink {
  send(message: ReportMessage): boolean;
  sendLatest(key: string, message: ReportMessage, superseded?: () => void): boolean;
}

/**
 * Run reports on their way to the control plane: each gets an event id, goes to the outbox (on disk
 * unless it is progress), then out if the link is up; the outbox keeps it until its ack and resends it
 * after a reconnect. While the link's budget is short, a progress report waiting to go is replaced by
 * the next one of the same node, and forgotten: the newest state of every node still goes.
 */
export class Reports {
  constructor(
    private readonly outbox: Outbox,
    private readonly link: ReportLink,
    private readonly log: Logger,
  ) {}

  /**
   * Puts the report in the outbox and hands it to the link at once; resolves once it is on disk. Only
   * a run's final report is fsync'd: until it is, the run's journal record stays, so a host crash
   * before then leaves a run the restarted agent follows again. Every other report is superseded or
   * repeated by what comes after it (a re-attached run reports `accepted` and `started` again), and a
   * later fsync flushes it anyway, so it is sent without waiting on the disk. Progress stays in memory
   * only: the next one supersedes it, and a restarted agent's runs report theirs afresh.
   */
  report(lease: Lease, report: RunReport): Promise<void> {
    const message: ReportMessage = {
      type: "report",
      event_id: randomUUID(),
      run_id: lease.run_id,
      lease_token: lease.lease_token,
      at: Date.now(),
      report,
    };
    // The line is written before `append` returns, so sending now keeps the file's order on the link.
    const keeping = keepingOf(report);
    const written = this.outbox.append({ message, instanceId: lease.instance_id }, keeping);
    this.send(message);
    // Kept in memory, nothing can fail: no handler (a promise) per progress report.
    if (keeping === "memory") return written;
    return written.catch((error) => {
      this.log.error("could not persist a report; it was sent anyway", { error });
    });
  }

  private send(message: ReportMessage): void {
    const { report } = message;
    if (report.kind !== "progress") {
      this.link.send(message);
      return;
    }
    const key = `progress:${message.run_id}:${report.progress.current_node ?? ""}`;
    this.link.sendLatest(key, message, () => this.outbox.ack(message.event_id));
  }

  /** After each welcome: everything unacked, in order. */
  resendAll(): void {
    for (const { message } of this.outbox.pending()) this.send(message);
  }

  /** Unacked final reports only: what a run's end waits on. */
  resendFinal(): void {
    for (const { message } of this.outbox.pending()) {
      if (TERMINAL_REPORTS.has(message.report.kind)) this.send(message);
    }
  }

  /** Forgets the acked report and returns it (undefined if unknown). */
  ack(message: z.infer<typeof AckMessage>): OutboxEntry | undefined {
    return this.outbox.ack(message.event_id);
  }

  /** Runs whose final report is still unacked: finished while the link was down, or before a restart. */
  unfinishedLeases(): Lease[] {
    const leases = new Map<string, Lease>();
    for (const { message, instanceId } of this.outbox.pending()) {
      if (TERMINAL_REPORTS.has(message.report.kind)) {
        leases.set(message.run_id, {
          run_id: message.run_id,
          lease_token: message.lease_token,
          instance_id: instanceId,
        });
      }
    }
    return [...leases.values()];
  }

  unacked(): ReportMessage[] {
    return this.outbox.pending().map((entry) => entry.message);
  }

  waitUntilAcked(timeoutMs: number): Promise<boolean> {
    return this.outbox.waitUntilEmpty(timeoutMs);
  }
}
