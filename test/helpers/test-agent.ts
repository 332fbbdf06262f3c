import { exports } from "cloudflare:workers";
import type { Progress, RunReport, ServerMessage } from "../../src/protocol/v1";
import { BASE } from "./http";

type Message<T extends ServerMessage["type"]> = Extract<ServerMessage, { type: T }>;

/** An agent that speaks protocol v1 over a real WebSocket to the Worker, driven by the test. */
export class TestAgent {
  readonly received: ServerMessage[] = [];
  private readonly waiters = new Set<() => void>();
  private eventCounter = 0;
  closedWith: number | null = null;

  private constructor(readonly ws: WebSocket) {
    ws.addEventListener("message", (event) => {
      this.received.push(JSON.parse(event.data as string) as ServerMessage);
      for (const wake of this.waiters) wake();
    });
    ws.addEventListener("close", (event) => {
      this.closedWith = event.code;
      for (const wake of this.waiters) wake();
    });
  }

  static async open(token: string): Promise<{ status: number; agent?: TestAgent; body?: unknown }> {
    const res = await exports.default.fetch(`${BASE}/api/agent/v1/connect`, {
      headers: { Upgrade: "websocket", Authorization: `Bearer ${token}` },
    });
    if (!res.webSocket) return { status: res.status, body: await res.json() };
    res.webSocket.accept();
    return { status: res.status, agent: new TestAgent(res.webSocket) };
  }

  /** Connects and says hello with `slots` ComfyUI instances; resolves after the welcome. */
  static async connect(
    token: string,
    opts: { slots?: number; inFlight?: { run_id: string; lease_token: string; instance_id: string }[] } = {},
  ) {
    const { agent, status, body } = await TestAgent.open(token);
    if (!agent) throw new Error(`connect failed: ${status} ${JSON.stringify(body)}`);
    await agent.hello(opts);
    return agent;
  }

  async hello(
    opts: { slots?: number; inFlight?: { run_id: string; lease_token: string; instance_id: string }[] } = {},
  ) {
    const instances = Array.from({ length: opts.slots ?? 1 }, (_, i) => ({
      id: `comfy-${i}`,
      comfy_url: `http://127.0.0.1:${8188 + i}`,
      available: true,
    }));
    const welcomes = this.count("welcome");
    this.send({
      type: "hello",
      protocol: 1,
      agent: { version: "test" },
      gpus: [],
      instances,
      in_flight: opts.inFlight ?? [],
    });
    return this.next("welcome", welcomes);
  }

  send(message: unknown) {
    this.ws.send(JSON.stringify(message));
  }

  count(type: ServerMessage["type"]) {
    return this.received.filter((m) => m.type === type).length;
  }

  all<T extends ServerMessage["type"]>(type: T): Message<T>[] {
    return this.received.filter((m): m is Message<T> => m.type === type);
  }

  /** The (skip+1)-th message of a type, waiting for it if needed. */
  async next<T extends ServerMessage["type"]>(type: T, skip = 0, timeoutMs = 5000): Promise<Message<T>> {
    return this.until(() => this.all(type)[skip], `${type} #${skip + 1}`, timeoutMs);
  }

  async job(runId?: string, timeoutMs = 5000): Promise<Message<"job">> {
    return this.until(
      () => this.all("job").find((j) => runId === undefined || j.run_id === runId),
      `job ${runId ?? ""}`,
      timeoutMs,
    );
  }

  async until<T>(probe: () => T | undefined, what: string, timeoutMs = 5000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = probe();
      if (found !== undefined) return found;
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(
          `timed out waiting for ${what}; got ${JSON.stringify(this.received.map((m) => m.type))}`,
        );
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

  /** Sends a report and waits for its ack. */
  async report(job: { run_id: string; lease_token: string }, report: RunReport, eventId?: string) {
    const event_id = eventId ?? `evt-${++this.eventCounter}-${crypto.randomUUID()}`;
    this.send({
      type: "report",
      event_id,
      run_id: job.run_id,
      lease_token: job.lease_token,
      at: Date.now(),
      report,
    });
    return this.until(() => this.all("ack").find((a) => a.event_id === event_id), `ack ${event_id}`);
  }

  async heartbeat(leases: { run_id: string; lease_token: string }[], extra: Record<string, unknown> = {}) {
    this.send({ type: "heartbeat", leases, ...extra });
  }

  close() {
    this.ws.close(1000, "test done");
  }
}

export const progress = (percentage: number): { kind: "progress"; progress: Progress } => ({
  kind: "progress",
  progress: {
    percentage,
    nodes_done: 1,
    nodes_total: 3,
    current_node: "2",
    current_node_type: "ImageInvert",
    step: null,
    total_steps: null,
    eta_seconds: 1,
  },
});
