import type { Progress, RunReport, ServerMessage } from "../../src/protocol/v1";

type Message<T extends ServerMessage["type"]> = Extract<ServerMessage, { type: T }>;
export type JobMessage = Message<"job">;
type InFlight = { run_id: string; lease_token: string; instance_id: string };

/** What a TestAgent speaks over: a WebSocket, inside workerd or in Node. */
export type AgentSocket = Pick<WebSocket, "send" | "close" | "addEventListener">;
export type Dialed = { status: number; socket?: AgentSocket; body?: unknown };
/** How a TestAgent reaches `/api/agent/v1/connect` with a machine token. */
export type Dial = (token: string) => Promise<Dialed>;

export async function sha256Hex(text: string) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** How long a wait for a message may take before the test fails: ample on a loaded machine. */
const WAIT_MS = 15_000;

let defaultDial: Dial | undefined;

/** How `TestAgent.open(token)` dials when given no dialer; the Worker tests' setup sets it. */
export function setDefaultDial(dial: Dial) {
  defaultDial = dial;
}

/** Dials a control plane over the network with Node's WebSocket (which, unlike a browser's, takes headers). */
export function dialServer(baseUrl: string): Dial {
  return (token) =>
    new Promise((resolve) => {
      const init = { headers: { Authorization: `Bearer ${token}` } };
      const ws = new WebSocket(`${baseUrl.replace(/^http/, "ws")}/api/agent/v1/connect`, init as never);
      ws.addEventListener("open", () => resolve({ status: 101, socket: ws }), { once: true });
      ws.addEventListener("error", () => resolve({ status: 0, body: "connection refused or failed" }), {
        once: true,
      });
    });
}

export type ConnectOptions = {
  slots?: number;
  inFlight?: InFlight[];
  dial?: Dial;
  /** Renew leases at the interval the welcome asks for, as a real agent does. */
  heartbeat?: boolean;
  /** How long to wait for the welcome. */
  timeoutMs?: number;
  /**
   * Node definitions (`GET /object_info`) every instance reports, as the GPU agent does: their hash in
   * hello, the set itself when the server asks for it.
   */
  definitions?: Record<string, unknown>;
};

/**
 * An agent that speaks protocol v1 over a real WebSocket, driven by its caller: the Worker tests
 * (through the Worker's own fetch) and the bench (over the network, with no ComfyUI behind it).
 */
export class TestAgent {
  readonly received: ServerMessage[] = [];
  /** Called with each job and the `performance.now()` at which its frame arrived. */
  onJob: (job: JobMessage, at: number) => void = () => {};
  private readonly waiters = new Set<() => void>();
  private readonly leases = new Map<string, string>();
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  private eventCounter = 0;
  /** The definitions this agent reports, as sent, and their hash. */
  private reported: { json: string; hash: string } | undefined;
  closedWith: number | null = null;

  private constructor(readonly ws: AgentSocket) {
    ws.addEventListener("message", (event) => {
      const at = performance.now();
      const message = JSON.parse(event.data as string) as ServerMessage;
      this.received.push(message);
      if (message.type === "job") {
        this.leases.set(message.run_id, message.lease_token);
        this.onJob(message, at);
      }
      if (message.type === "object_info_request") this.sendDefinitions(message);
      for (const wake of this.waiters) wake();
    });
    ws.addEventListener("close", (event) => {
      this.closedWith = event.code;
      for (const wake of this.waiters) wake();
    });
  }

  static async open(
    token: string,
    dial = defaultDial,
  ): Promise<{ status: number; agent?: TestAgent; body?: unknown }> {
    if (!dial) throw new Error("TestAgent: no dialer (pass `dial`, or call setDefaultDial)");
    const { status, socket, body } = await dial(token);
    return socket ? { status, agent: new TestAgent(socket) } : { status, body };
  }

  /** Connects and says hello with `slots` ComfyUI instances; resolves after the welcome. */
  static async connect(token: string, opts: ConnectOptions = {}) {
    const { agent, status, body } = await TestAgent.open(token, opts.dial);
    if (!agent) throw new Error(`connect failed: ${status} ${JSON.stringify(body)}`);
    const welcome = await agent.hello(opts, opts.timeoutMs);
    if (opts.heartbeat) {
      agent.heartbeatTimer = setInterval(() => {
        const leases = [...agent.leases].map(([run_id, lease_token]) => ({ run_id, lease_token }));
        agent.send({ type: "heartbeat", leases });
      }, welcome.heartbeat_interval_ms);
    }
    return agent;
  }

  async hello(
    opts: { slots?: number; inFlight?: InFlight[]; definitions?: Record<string, unknown> } = {},
    timeoutMs = WAIT_MS,
  ) {
    if (opts.definitions) {
      const json = JSON.stringify(opts.definitions);
      this.reported = { json, hash: await sha256Hex(json) };
    }
    const objectInfoHash = this.reported ? { object_info_hash: this.reported.hash } : {};
    const instances = Array.from({ length: opts.slots ?? 1 }, (_, i) => ({
      id: `comfy-${i}`,
      comfy_url: `http://127.0.0.1:${8188 + i}`,
      available: true,
      ...objectInfoHash,
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
    return this.next("welcome", welcomes, timeoutMs);
  }

  send(message: unknown) {
    this.ws.send(JSON.stringify(message));
  }

  /** Answers the server's request for the definitions behind a hash this agent reported. */
  private sendDefinitions(request: Message<"object_info_request">) {
    if (request.hash !== this.reported?.hash) return;
    // Spliced as text: the hash is of these exact bytes.
    const { instance_id, hash } = request;
    this.ws.send(
      `{"type":"object_info","instance_id":${JSON.stringify(instance_id)},"hash":"${hash}","definitions":${this.reported.json}}`,
    );
  }

  count(type: ServerMessage["type"]) {
    return this.received.filter((m) => m.type === type).length;
  }

  all<T extends ServerMessage["type"]>(type: T): Message<T>[] {
    return this.received.filter((m): m is Message<T> => m.type === type);
  }

  /** The (skip+1)-th message of a type, waiting for it if needed. */
  async next<T extends ServerMessage["type"]>(type: T, skip = 0, timeoutMs = WAIT_MS): Promise<Message<T>> {
    return this.until(() => this.all(type)[skip], `${type} #${skip + 1}`, timeoutMs);
  }

  async job(runId?: string, timeoutMs = WAIT_MS): Promise<JobMessage> {
    return this.until(
      () => this.all("job").find((j) => runId === undefined || j.run_id === runId),
      `job ${runId ?? ""}`,
      timeoutMs,
    );
  }

  /** Makes pending waits look again, for conditions that depend on more than this agent's messages. */
  recheck() {
    for (const wake of this.waiters) wake();
  }

  async until<T>(probe: () => T | undefined, what: string, timeoutMs = WAIT_MS): Promise<T> {
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
  async report(
    job: { run_id: string; lease_token: string },
    report: RunReport,
    eventId?: string,
    timeoutMs = WAIT_MS,
  ) {
    const event_id = eventId ?? `evt-${++this.eventCounter}-${crypto.randomUUID()}`;
    this.send({
      type: "report",
      event_id,
      run_id: job.run_id,
      lease_token: job.lease_token,
      at: Date.now(),
      report,
    });
    if (report.kind === "succeeded" || report.kind === "failed" || report.kind === "cancelled")
      this.leases.delete(job.run_id);
    return this.until(
      () => this.all("ack").find((a) => a.event_id === event_id),
      `ack ${event_id}`,
      timeoutMs,
    );
  }

  /** What a zero-time ComfyUI run looks like on the wire: accepted, started, succeeded with no outputs. */
  async complete(job: JobMessage, timeoutMs = WAIT_MS) {
    await this.report(job, { kind: "accepted", prompt_id: crypto.randomUUID() }, undefined, timeoutMs);
    await this.report(job, { kind: "started" }, undefined, timeoutMs);
    const done = await this.report(job, { kind: "succeeded", outputs: [] }, undefined, timeoutMs);
    if (done.status !== "ok") throw new Error(`run ${job.run_id}: succeeded was acked ${done.status}`);
  }

  async heartbeat(leases: { run_id: string; lease_token: string }[], extra: Record<string, unknown> = {}) {
    this.send({ type: "heartbeat", leases, ...extra });
  }

  close() {
    clearInterval(this.heartbeatTimer);
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
