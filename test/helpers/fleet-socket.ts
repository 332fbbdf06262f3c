import { exports } from "cloudflare:workers";
import { BASE } from "./http";

export type FleetMessage = {
  type: string;
  timestamp: number;
  data: Record<string, unknown>;
  requestId: string | null;
};

/** A seed 003 `/ws` client: records every message and waits on them. */
export class FleetSocket {
  readonly received: FleetMessage[] = [];
  private readonly waiters = new Set<() => void>();

  private constructor(readonly ws: WebSocket) {
    ws.addEventListener("message", (event) => {
      this.received.push(JSON.parse(event.data as string) as FleetMessage);
      for (const wake of this.waiters) wake();
    });
  }

  static async open(token: string, path = "/ws"): Promise<FleetSocket> {
    const res = await exports.default.fetch(`${BASE}${path}`, {
      headers: { Upgrade: "websocket", Authorization: `Bearer ${token}` },
    });
    if (!res.webSocket) throw new Error(`upgrade failed: ${res.status} ${await res.text()}`);
    res.webSocket.accept();
    return new FleetSocket(res.webSocket);
  }

  /** The first message (after `from`) that matches, waiting for it. */
  async until(match: (m: FleetMessage) => boolean, what: string, from = 0, timeoutMs = 5000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.received.slice(from).find(match);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.received)}`);
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.waiters.delete(wake);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(wake, left);
        this.waiters.add(wake);
      });
    }
  }

  of(type: string) {
    return this.received.filter((m) => m.type === type);
  }

  close() {
    this.ws.close(1000, "test done");
  }
}
