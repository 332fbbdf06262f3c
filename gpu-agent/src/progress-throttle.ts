import type { Progress } from "../../src/protocol/v1";

/**
 * Passes on at most one update per interval (progress, or any value where the newest wins, like a
 * preview): the first at once, then the latest one when the interval is up. `flush()` sends a held-back
 * update now, so the last progress is never lost.
 */
export class ProgressThrottle<T = Progress> {
  private lastSentAt = Number.NEGATIVE_INFINITY;
  private held: T | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly intervalMs: number,
    private readonly send: (value: T) => void,
    private readonly now: () => number = Date.now,
  ) {}

  push(progress: T): void {
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

  private emit(progress: T) {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.lastSentAt = this.now();
    this.send(progress);
  }
}
