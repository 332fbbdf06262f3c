import type { Bindings } from "../../env";
import type { RunEventBody } from "../../lib/run-events";

type Waiting = { events: RunEventBody[]; resolve: (seq: number) => void; reject: (error: unknown) => void };

/**
 * One Durable Object's publishes to run rooms, kept in order per run: one call in flight per run, and
 * whatever is published meanwhile goes in the next call, together. So a caller may stop waiting for a
 * run's announcement before publishing its next event. Owned by one object (never module-wide: a call
 * must not be made on behalf of another isolate's request, which may have ended).
 */
export class RunEventOrder {
  /** Runs with a call in flight → the publishes waiting for it to return. */
  private readonly behind = new Map<string, Waiting[]>();

  constructor(private readonly env: Bindings) {}

  /** Resolves with the number of the last event of the call that took these events. */
  publish(runId: string, events: RunEventBody[]): Promise<number> {
    return new Promise((resolve, reject) => {
      const waiting = this.behind.get(runId);
      if (waiting) waiting.push({ events, resolve, reject });
      else this.send(runId, [{ events, resolve, reject }]);
    });
  }

  private send(runId: string, batch: Waiting[]) {
    this.behind.set(runId, []);
    const events = batch.flatMap((w) => w.events);
    // In an async function, so that a call failing at once still lets the next batch go.
    (async () => this.env.RUN_ROOM.getByName(runId).publish(events))()
      .then(
        (seq) => {
          for (const w of batch) w.resolve(seq);
        },
        (error) => {
          for (const w of batch) w.reject(error);
        },
      )
      .finally(() => {
        const next = this.behind.get(runId) ?? [];
        if (next.length > 0) this.send(runId, next);
        else this.behind.delete(runId);
      });
  }
}
