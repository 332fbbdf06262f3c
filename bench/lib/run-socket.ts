import WebSocket from "ws";
import { withTimeout } from "./dispatch";

const TERMINAL = new Set(["success", "failed", "cancelled", "timeout"]);

export type ReceivedEvent = {
  seq: number;
  type: "status" | "progress" | "log";
  data: Record<string, unknown>;
  /** `performance.now()` when the frame arrived. */
  receivedAt: number;
  /** Sent from the room's log because it happened before this socket opened (`after=`). */
  replayed: boolean;
};

/**
 * A client on a run's live WebSocket (`GET /api/run/{id}/ws`): it resolves `ready` at the snapshot
 * frame and `ended` with the run's final status (from its last status event) when the socket closes.
 */
export class RunSocket {
  readonly events: ReceivedEvent[] = [];
  onEvent: (event: ReceivedEvent) => void = () => {};
  snapshotStatus: string | null = null;
  /** The last event number when the socket opened; events up to it are replays. */
  snapshotSeq = 0;
  /** The terminal status event was a replay: the run ended before this socket opened. */
  terminalReplayed = false;
  /** `performance.now()` of the first status event with a terminal status. */
  terminalAt: number | null = null;
  readonly ready: Promise<void>;
  readonly ended: Promise<{ status: string | null; code: number }>;

  private constructor(private readonly ws: WebSocket) {
    let markReady: () => void = () => {};
    let fail: (err: Error) => void = () => {};
    this.ready = new Promise<void>((resolve, reject) => {
      markReady = resolve;
      fail = reject;
    });
    this.ended = new Promise((resolve) => {
      ws.on("close", (code) => {
        fail(new Error(`run socket closed (${code}) before its snapshot`));
        resolve({ status: this.finalStatus(), code });
      });
    });
    ws.on("error", (err) => fail(err));
    ws.on("message", (raw) => {
      const receivedAt = performance.now();
      const frame = JSON.parse(raw.toString()) as {
        type: string;
        seq: number;
        data: Record<string, unknown> | null;
      };
      if (frame.type === "snapshot") {
        this.snapshotStatus = (frame.data?.status as string | undefined) ?? null;
        this.snapshotSeq = frame.seq;
        markReady();
        return;
      }
      const replayed = frame.seq <= this.snapshotSeq;
      const event = {
        seq: frame.seq,
        type: frame.type,
        data: frame.data ?? {},
        receivedAt,
        replayed,
      } as ReceivedEvent;
      this.events.push(event);
      if (event.type === "status" && this.terminalAt === null && TERMINAL.has(String(event.data.status))) {
        this.terminalAt = receivedAt;
        this.terminalReplayed = replayed;
      }
      this.onEvent(event);
    });
  }

  static async open(baseUrl: string, apiKey: string, runId: string, after?: number): Promise<RunSocket> {
    const query = after === undefined ? "" : `?after=${after}`;
    const ws = new WebSocket(`${baseUrl.replace(/^http/, "ws")}/api/run/${runId}/ws${query}`, {
      headers: { Authorization: `Bearer ${apiKey}` },
      perMessageDeflate: false,
    });
    const socket = new RunSocket(ws);
    ws.once("unexpected-response", (_req, res) => {
      ws.emit("error", new Error(`run socket for ${runId} → ${res.statusCode}`));
    });
    await socket.ready;
    return socket;
  }

  finalStatus(): string | null {
    for (let i = this.events.length - 1; i >= 0; i--) {
      const event = this.events[i]!;
      if (event.type === "status") return String(event.data.status);
    }
    return this.snapshotStatus;
  }

  /** The error of the last status event, if any. */
  finalError(): unknown {
    for (let i = this.events.length - 1; i >= 0; i--) {
      const event = this.events[i]!;
      if (event.type === "status") return event.data.error ?? null;
    }
    return null;
  }

  /** Resolves once a final status has arrived, or rejects after `timeoutMs` naming `what`. */
  waitTerminal(timeoutMs: number, what: string): Promise<void> {
    return withTimeout(
      new Promise<void>((resolve) => {
        if (this.terminalAt !== null) return resolve();
        this.onEvent = () => {
          if (this.terminalAt !== null) resolve();
        };
      }),
      timeoutMs,
      what,
    );
  }

  /** Resolves when the socket closes, or rejects after `timeoutMs`. */
  waitEnd(timeoutMs: number) {
    return withTimeout(this.ended, timeoutMs, "the run's end");
  }

  close() {
    this.ws.close(1000);
  }
}
