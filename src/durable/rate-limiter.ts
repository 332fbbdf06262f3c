import { DurableObject } from "cloudflare:workers";
import type { Bindings } from "../env";

export type RateWindow = { seconds: number; limit: number };
export type RateVerdict = {
  allowed: boolean;
  /** The window that binds: the exceeded one, or the one with the fewest requests left. */
  limit: number;
  remaining: number;
  windowSeconds: number;
  /** Epoch seconds when that window starts over. */
  resetAt: number;
};

type Count = { start: number; count: number };

/**
 * One per principal (or per login name / client address): request counts in fixed windows that start
 * at the first request after the previous one ended, kept in memory. One instance sees every request of its key wherever it enters, so counts
 * hold across isolates; if the object is evicted (idle) its counts start over, which errs towards
 * letting requests through.
 */
export class RateLimiter extends DurableObject<Bindings> {
  private readonly windows = new Map<number, Count>();
  private failures: Count | null = null;

  /** Counts one request against every window, unless one is already full. */
  async hit(windows: RateWindow[]): Promise<RateVerdict> {
    const now = Date.now();
    const states = windows.map((w) => ({ w, count: this.current(w.seconds, now) }));
    const full = states.filter(({ w, count }) => count.count >= w.limit);
    if (full.length === 0) for (const { count } of states) count.count += 1;
    const binding = full.length
      ? full.reduce((a, b) => (resetOf(b) > resetOf(a) ? b : a))
      : states.reduce((a, b) => (b.w.limit - b.count.count < a.w.limit - a.count.count ? b : a));
    return {
      allowed: full.length === 0,
      limit: binding.w.limit,
      remaining: Math.max(0, binding.w.limit - binding.count.count),
      windowSeconds: binding.w.seconds,
      resetAt: resetOf(binding),
    };
  }

  /** Seconds this key stays locked after `max` failures within a window that began at the first one. */
  async lockedFor(max: number, windowSeconds: number): Promise<number> {
    const now = Date.now();
    const f = this.liveFailures(windowSeconds, now);
    if (!f || f.count < max) return 0;
    return Math.ceil((f.start + windowSeconds * 1000 - now) / 1000);
  }

  async recordFailure(windowSeconds: number): Promise<void> {
    const now = Date.now();
    const f = this.liveFailures(windowSeconds, now) ?? { start: now, count: 0 };
    f.count += 1;
    this.failures = f;
  }

  private current(seconds: number, now: number): Count {
    let count = this.windows.get(seconds);
    if (!count || now >= count.start + seconds * 1000) {
      count = { start: now, count: 0 };
      this.windows.set(seconds, count);
    }
    return count;
  }

  private liveFailures(windowSeconds: number, now: number) {
    if (this.failures && now >= this.failures.start + windowSeconds * 1000) this.failures = null;
    return this.failures;
  }
}

const resetOf = (s: { w: RateWindow; count: Count }) =>
  Math.ceil((s.count.start + s.w.seconds * 1000) / 1000);
