import type { SendBudget } from "./v1";

/**
 * A link's send budget as two token buckets, messages and bytes, refilled with time. The control plane
 * charges what arrives against the whole budget; the agent paces what it sends against a share of it,
 * so both ends count the same way.
 */
export class SendBuckets {
  readonly capacity: { messages: number; bytes: number };
  private readonly rate: { messages: number; bytes: number };
  private messages: number;
  private bytes: number;
  private at: number;

  constructor(
    budget: SendBudget,
    share = 1,
    private readonly now: () => number = Date.now,
  ) {
    this.capacity = { messages: Math.max(1, budget.messages * share), bytes: budget.bytes * share };
    this.rate = { messages: budget.messages_per_second * share, bytes: budget.bytes_per_second * share };
    this.messages = this.capacity.messages;
    this.bytes = this.capacity.bytes;
    this.at = now();
  }

  /** Takes one message of `size` bytes when a message and `need` bytes (`size` by default) are there. */
  take(size: number, need = size): boolean {
    this.refill();
    if (this.messages < 1 || this.bytes < need) return false;
    this.charge(size);
    return true;
  }

  /** Charges one message of `size` bytes without checking (one sent before the budget was known). */
  charge(size: number): void {
    this.messages -= 1;
    this.bytes -= size;
  }

  /** Both buckets at least half full: a sender that lets them recover is behaving again. */
  halfFull(): boolean {
    this.refill();
    return this.messages >= this.capacity.messages / 2 && this.bytes >= this.capacity.bytes / 2;
  }

  /** Seconds until one message and `need` bytes are there (0 when they are now). */
  secondsUntil(need: number): number {
    this.refill();
    return Math.max((1 - this.messages) / this.rate.messages, (need - this.bytes) / this.rate.bytes, 0);
  }

  private refill() {
    const now = this.now();
    const seconds = Math.max(0, now - this.at) / 1000;
    this.at = now;
    this.messages = Math.min(this.capacity.messages, this.messages + seconds * this.rate.messages);
    this.bytes = Math.min(this.capacity.bytes, this.bytes + seconds * this.rate.bytes);
  }
}
