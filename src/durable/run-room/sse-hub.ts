import type { PreviewEvent, RunEvent, RunSnapshot } from "../../lib/run-events";

const encoder = new TextEncoder();
const KEEPALIVE_MS = 15_000;

/** `native`: our events as they are; `comfydeploy`: the `event_update` / `log_update` stream its SDK parses. */
export type SseFormat = "native" | "comfydeploy";

function frame(event: RunEvent | SnapshotEvent | PreviewEvent, format: SseFormat): Uint8Array {
  const id = "seq" in event && event.type !== "snapshot" ? `id: ${event.seq}\n` : "";
  if (format === "native")
    return encoder.encode(`${id}event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
  const body =
    event.type === "log"
      ? { name: "log_update", data: { logs: event.data.message, timestamp: event.at } }
      : { name: "event_update", data: { event: event.type, data: event.data } };
  return encoder.encode(`${id}event: ${body.name}\ndata: ${JSON.stringify(body.data)}\n\n`);
}

type SnapshotEvent = { type: "snapshot"; seq: number; data: RunSnapshot };
type Subscriber = { writer: WritableStreamDefaultWriter<Uint8Array>; format: SseFormat };

/** Open Server-Sent-Events streams of one run. They live in memory while their requests are open. */
export class SseHub {
  private readonly subscribers = new Set<Subscriber>();
  private keepalive: ReturnType<typeof setInterval> | null = null;

  open(opts: {
    format: SseFormat;
    snapshot: RunSnapshot | null;
    seq: number;
    backlog: RunEvent[];
    ended: boolean;
  }) {
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
    const subscriber = { writer: writable.getWriter(), format: opts.format };
    if (opts.snapshot)
      this.write(subscriber, frame({ type: "snapshot", seq: opts.seq, data: opts.snapshot }, opts.format));
    for (const event of opts.backlog) this.write(subscriber, frame(event, opts.format));
    if (opts.ended) {
      subscriber.writer.close().catch(() => {});
    } else {
      this.subscribers.add(subscriber);
      this.startKeepalive();
    }
    return readable;
  }

  /** A numbered event, or an unnumbered preview notice (sent without an `id:`, so resuming skips it). */
  send(event: RunEvent | PreviewEvent) {
    const frames = { native: frame(event, "native"), comfydeploy: frame(event, "comfydeploy") };
    for (const subscriber of this.subscribers) this.write(subscriber, frames[subscriber.format]);
  }

  closeAll() {
    for (const { writer } of this.subscribers) writer.close().catch(() => {});
    this.subscribers.clear();
    this.stopKeepalive();
  }

  private write(subscriber: Subscriber, bytes: Uint8Array) {
    subscriber.writer.write(bytes).catch(() => this.subscribers.delete(subscriber));
  }

  private startKeepalive() {
    this.keepalive ??= setInterval(() => {
      if (this.subscribers.size === 0) return this.stopKeepalive();
      const ping = encoder.encode(": keepalive\n\n");
      for (const subscriber of this.subscribers) this.write(subscriber, ping);
    }, KEEPALIVE_MS);
  }

  private stopKeepalive() {
    if (this.keepalive) clearInterval(this.keepalive);
    this.keepalive = null;
  }
}
