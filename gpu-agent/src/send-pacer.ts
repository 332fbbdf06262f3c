import { SendBuckets } from "../../src/protocol/send-buckets";
import type { SendBudget } from "../../src/protocol/v1";

/**
 * The share of its budget the agent spends: frames that reach the server bunched up (delayed unevenly
 * on the way) then still land within the server's bucket, which refills on their arrival.
 */
const SHARE = 0.8;

interface Frame {
  text: string;
  /** The run a frame belongs to: held frames of a run go out before its next control frame. */
  group: string | undefined;
}

interface HeldFrame extends Frame {
  /** Called when a newer frame under the same key replaces this one unsent. */
  superseded?: () => void;
}

/**
 * Sends frames no faster than the control plane's budget for the connection allows (the same token
 * buckets, messages and bytes, at `SHARE` of their size), so no frame is refused. Control frames wait in
 * order and go first; "latest" frames (progress, previews) are held per key while tokens are short, a
 * newer one replacing the held one. Before a control frame of a run, that run's held frames are moved
 * ahead of it, so each run's frames keep their order.
 */
export class SendPacer {
  private readonly buckets: SendBuckets;
  private readonly control: Frame[] = [];
  private readonly latest = new Map<string, HeldFrame>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    budget: SendBudget,
    private readonly write: (text: string) => void,
    now: () => number = Date.now,
  ) {
    this.buckets = new SendBuckets(budget, SHARE, now);
  }

  /** Counts a frame sent around the pacer (the hello, before the budget was known). */
  charge(text: string): void {
    this.buckets.charge(text.length);
  }

  /** Frames waiting for tokens. */
  get waiting(): number {
    return this.control.length + this.latest.size;
  }

  send(text: string, group?: string): void {
    if (this.sentAtOnce(text)) return;
    if (group !== undefined) this.promote(group);
    this.control.push({ text, group });
    this.drain();
  }

  /** Sends now if tokens allow; otherwise holds it under `key`, replacing a frame held there. */
  sendLatest(key: string, text: string, group?: string, superseded?: () => void): void {
    if (this.sentAtOnce(text)) return;
    const held = this.latest.get(key);
    // Set on an existing key keeps the key's place: the newest state goes out where the first one waited.
    this.latest.set(key, { text, group, superseded });
    held?.superseded?.();
    this.drain();
  }

  /** Drops everything waiting (the socket is gone; what must arrive is sent again after the next welcome). */
  dispose(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.control.length = 0;
    this.latest.clear();
  }

  /** Nothing waits and the tokens are there: the frame goes now, as `drain` would send it. */
  private sentAtOnce(text: string): boolean {
    if (this.waiting > 0 || !this.take(text)) return false;
    this.write(text);
    return true;
  }

  private promote(group: string) {
    for (const [key, frame] of this.latest) {
      if (frame.group !== group) continue;
      this.latest.delete(key);
      this.control.push(frame);
    }
  }

  private drain() {
    while (this.control.length > 0) {
      if (!this.take((this.control[0] as Frame).text)) return this.wake();
      this.write((this.control.shift() as Frame).text);
    }
    for (const [key, frame] of this.latest) {
      if (!this.take(frame.text)) return this.wake();
      this.latest.delete(key);
      this.write(frame.text);
    }
  }

  private take(text: string): boolean {
    return this.buckets.take(text.length, this.need(text));
  }

  /** A frame larger than the whole byte bucket goes once the bucket is full, or it would never go. */
  private need(text: string): number {
    return Math.min(text.length, this.buckets.capacity.bytes);
  }

  /** Drains again once the next frame's tokens have come in. */
  private wake() {
    if (this.timer) return;
    const next = this.control[0] ?? this.latest.values().next().value;
    if (!next) return;
    const seconds = Math.max(this.buckets.secondsUntil(this.need(next.text)), 0.001);
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.drain();
      },
      Math.ceil(seconds * 1000),
    );
    this.timer.unref?.();
  }
}
