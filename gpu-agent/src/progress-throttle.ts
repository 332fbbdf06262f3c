import type { Progress } from "../../src/protocol/v1";

/**
 * Passes on at most one progress update per interval: the first at once, then the latest one when the
 * interval is up. `flush()` sends a held-back update now, so the last progress is never lost.
 */
export class ProgressThrottle {
  private lastSentAt = Number.NEGATIVE_INFINITY;
  private held: Progress | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly intervalMs: number,
    private readonly send: (progress: Progress) => void,
    private readonly now: () => number = Date.now,
  ) {}

  push(progress: Progress): void {
    const wait = this.lastSentAt + this.intervalMs - this.now();
    if (wait <= 0) {
      this.held = undefined;
      this.emit(progress);
      return;
    }
    this.held = progress;
    this.timer ??= setTimeout(() => this.flush(), wait);
  }

  flush(): void {
    const held = this.held;
    this.held = undefined;
    if (held) this.emit(held);
  }

  /** Drops a held-back update (the run ended some other way). */
  dispose(): void {
    this.held = undefined;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private emit(progress: Progress) {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.lastSentAt = this.now();
    this.send(progress);
  }
}
