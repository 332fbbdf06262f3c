import { randomUUID } from "node:crypto";
import WebSocket from "ws";
import type { RunReport, ServerMessage } from "../../src/protocol/v1";

type Job = Extract<ServerMessage, { type: "job" }>;
type Welcome = Extract<ServerMessage, { type: "welcome" }>;

/**
 * A minimal agent that speaks protocol v1 (docs/agent-protocol.md) from inside the bench process, so
 * the moment a job arrives is read on the same clock as the moment it was queued. It runs no
 * ComfyUI: the bench decides what it reports.
 */
export class ProtocolAgent {
  /** Called with each job and the `performance.now()` at which its frame arrived. */
  onJob: (job: Job, at: number) => void = () => {};
  private readonly acks = new Map<string, (status: "ok" | "stale") => void>();
  private readonly leases = new Map<string, string>();
  private heartbeat: NodeJS.Timeout | null = null;

  private constructor(private readonly ws: WebSocket) {
    ws.on("message", (data) => {
      const at = performance.now();
      const message = JSON.parse(data.toString()) as ServerMessage;
      if (message.type === "job") {
        this.leases.set(message.run_id, message.lease_token);
        this.onJob(message, at);
      } else if (message.type === "ack") {
        this.acks.get(message.event_id)?.(message.status);
        this.acks.delete(message.event_id);
      }
    });
  }

  static async connect(baseUrl: string, token: string, slots = 1): Promise<ProtocolAgent> {
    const ws = new WebSocket(`${baseUrl.replace(/^http/, "ws")}/api/agent/v1/connect`, {
      headers: { Authorization: `Bearer ${token}` },
      perMessageDeflate: false,
    });
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
      ws.once("unexpected-response", (_req, res) => reject(new Error(`agent connect → ${res.statusCode}`)));
    });
    const agent = new ProtocolAgent(ws);
    const welcome = new Promise<Welcome>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no welcome within 10 s")), 10_000);
      const onMessage = (data: WebSocket.RawData) => {
        const message = JSON.parse(data.toString()) as ServerMessage;
        if (message.type !== "welcome") return;
        clearTimeout(timer);
        ws.off("message", onMessage);
        resolve(message);
      };
      ws.on("message", onMessage);
    });
    const instances = Array.from({ length: slots }, (_, i) => ({
      id: `comfy-${i}`,
      comfy_url: `http://127.0.0.1:${8188 + i}`,
      available: true,
    }));
    agent.send({
      type: "hello",
      protocol: 1,
      agent: { version: "bench" },
      gpus: [],
      instances,
      in_flight: [],
    });
    const { heartbeat_interval_ms } = await welcome;
    agent.heartbeat = setInterval(() => {
      const leases = [...agent.leases].map(([run_id, lease_token]) => ({ run_id, lease_token }));
      agent.send({ type: "heartbeat", leases });
    }, heartbeat_interval_ms);
    agent.heartbeat.unref();
    return agent;
  }

  /** Sends one report for a job and resolves with the server's ack. */
  report(job: Pick<Job, "run_id" | "lease_token">, report: RunReport): Promise<"ok" | "stale"> {
    const event_id = randomUUID();
    const acked = new Promise<"ok" | "stale">((resolve, reject) => {
      const timer = setTimeout(() => {
        this.acks.delete(event_id);
        reject(new Error(`no ack for ${report.kind} of ${job.run_id} within 15 s`));
      }, 15_000);
      this.acks.set(event_id, (status) => {
        clearTimeout(timer);
        resolve(status);
      });
    });
    this.send({
      type: "report",
      event_id,
      run_id: job.run_id,
      lease_token: job.lease_token,
      at: Date.now(),
      report,
    });
    if (report.kind === "succeeded" || report.kind === "failed" || report.kind === "cancelled") {
      this.leases.delete(job.run_id);
    }
    return acked;
  }

  /** What a zero-time ComfyUI run looks like on the wire: accepted, started, done. */
  async complete(job: Job): Promise<void> {
    await this.report(job, { kind: "accepted", prompt_id: randomUUID() });
    await this.report(job, { kind: "started" });
    const status = await this.report(job, { kind: "succeeded", outputs: [] });
    if (status !== "ok") throw new Error(`run ${job.run_id}: succeeded was acked ${status}`);
  }

  send(message: unknown) {
    this.ws.send(JSON.stringify(message));
  }

  close() {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.ws.close(1000);
  }
}
