import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { type WebSocket, WebSocketServer } from "ws";
import { AgentBudget } from "../../../../src/durable/dispatcher/agent-budget";
import { AgentMessage, type SendBudget, type ServerMessage } from "../../../../src/protocol/v1";

type Message<T extends AgentMessage["type"]> = Extract<AgentMessage, { type: T }>;

export interface RecordedUpload {
  key: string;
  headers: IncomingMessage["headers"];
  bytes: Buffer;
}

export interface MockOptions {
  token?: string;
  heartbeatMs?: number;
  /** How to answer a report; null leaves it unacked. Default: ok. */
  ack?: (report: Message<"report">) => "ok" | "stale" | null;
  /** Answer upload_request with grants (default) or leave it unanswered. */
  grantUploads?: boolean;
  /** Make the first N PUTs fail with 500. */
  failPuts?: number;
  /** Read PUTs but never answer them, as storage stalling mid-upload. */
  holdPuts?: boolean;
  /**
   * Refuse the first message this picks out unapplied, with the error frame a Dispatcher sends when a
   * connection is over its budget (it does not say which message it refused).
   */
  refuse?: (message: AgentMessage) => boolean;
  /**
   * The connection's budget, sent in the welcome and enforced on every frame (the hello included) with
   * the Dispatcher's own buckets: a frame past it is refused and recorded in `overBudget`.
   */
  budget?: SendBudget;
}

/**
 * A control plane for agent tests: a WebSocket server speaking protocol v1 that checks every agent frame
 * against the zod schemas, plus an HTTP endpoint that stands in for R2 presigned PUTs.
 */
export class MockControlPlane {
  readonly received: AgentMessage[] = [];
  readonly invalid: unknown[] = [];
  readonly uploads: RecordedUpload[] = [];
  /** PUTs that reached the storage endpoint, answered or not. */
  putsStarted = 0;
  readonly authHeaders: (string | undefined)[] = [];
  connections = 0;
  socket: WebSocket | undefined;
  welcomeDrop: string[] = [];
  /** While set, upgrades are answered 503, as a control plane that is down. */
  refuseConnections = false;
  /** Files served at GET `/files/<name>`, standing in for signed input URLs. */
  readonly files = new Map<string, { bytes: Buffer; contentType: string }>();
  private readonly waiters = new Set<() => void>();
  private failPutsLeft: number;

  private constructor(
    private readonly http: Server,
    private readonly wss: WebSocketServer,
    readonly url: string,
    readonly options: MockOptions,
  ) {
    this.failPutsLeft = options.failPuts ?? 0;
  }

  static async start(options: MockOptions = {}): Promise<MockControlPlane> {
    const http = createServer();
    const wss = new WebSocketServer({ noServer: true });
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    const mock = new MockControlPlane(http, wss, url, options);
    http.on("request", (req, res) => mock.onHttp(req, res));
    http.on("upgrade", (req, socket, head) => {
      mock.authHeaders.push(req.headers.authorization);
      if (mock.refuseConnections) {
        socket.end("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n");
        return;
      }
      if (
        req.url !== "/api/agent/v1/connect" ||
        req.headers.authorization !== `Bearer ${options.token ?? "tok"}`
      ) {
        socket.end("HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n");
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => mock.onSocket(ws));
    });
    return mock;
  }

  all<T extends AgentMessage["type"]>(type: T): Message<T>[] {
    return this.received.filter((m): m is Message<T> => m.type === type);
  }

  reports(runId?: string) {
    return this.all("report").filter((r) => runId === undefined || r.run_id === runId);
  }

  /** Report kinds of a run in arrival order, duplicates (same event_id) removed. */
  reportKinds(runId: string): string[] {
    const seen = new Set<string>();
    return this.reports(runId)
      .filter((r) => !seen.has(r.event_id) && seen.add(r.event_id))
      .map((r) => r.report.kind);
  }

  send(message: ServerMessage) {
    this.socket?.send(JSON.stringify(message));
  }

  sendRaw(data: string) {
    this.socket?.send(data);
  }

  async until<T>(probe: () => T | undefined | false, what: string, timeoutMs = 5000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = probe();
      if (found !== undefined && found !== false) return found;
      if (Date.now() > deadline) {
        const seen = this.received.map((m) => (m.type === "report" ? `report:${m.report.kind}` : m.type));
        throw new Error(`timed out waiting for ${what}; received ${JSON.stringify(seen)}`);
      }
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.waiters.delete(wake);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(wake, 20);
        this.waiters.add(wake);
      });
    }
  }

  untilReport(runId: string, kind: string, timeoutMs = 5000) {
    return this.until(
      () => this.reports(runId).find((r) => r.report.kind === kind),
      `${kind} of ${runId}`,
      timeoutMs,
    );
  }

  async close() {
    for (const client of this.wss.clients) client.terminate();
    this.wss.close();
    this.http.closeAllConnections();
    await new Promise((resolve) => this.http.close(resolve));
  }

  /** Frames the connection's `budget` refused. */
  readonly overBudget: unknown[] = [];

  private onSocket(ws: WebSocket) {
    this.connections += 1;
    this.socket = ws;
    const { budget } = this.options;
    const limits = budget && {
      messages: budget.messages,
      messagesPerSecond: budget.messages_per_second,
      bytes: budget.bytes,
      bytesPerSecond: budget.bytes_per_second,
      refusalsBeforeClose: Number.POSITIVE_INFINITY,
    };
    // Made at the first frame, as the Dispatcher makes it.
    let buckets: AgentBudget | undefined;
    ws.on("message", (data) => {
      const text = data.toString();
      if (limits) buckets ??= new AgentBudget(limits);
      if (buckets && buckets.take(text.length) !== "ok") {
        this.overBudget.push(text);
        ws.send(JSON.stringify({ type: "error", code: "rate_limited", message: "over budget: not applied" }));
        return;
      }
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        this.invalid.push(text);
        return;
      }
      const parsed = AgentMessage.safeParse(json);
      if (!parsed.success) {
        this.invalid.push({ json, issues: parsed.error.issues });
        return;
      }
      this.received.push(parsed.data);
      this.answer(ws, parsed.data);
      for (const wake of this.waiters) wake();
    });
  }

  readonly refused: AgentMessage[] = [];

  private answer(ws: WebSocket, message: AgentMessage) {
    const reply = (m: ServerMessage) => ws.send(JSON.stringify(m));
    if (this.options.refuse?.(message) && !this.refused.some((m) => sameMessage(m, message))) {
      this.refused.push(message);
      reply({ type: "error", code: "rate_limited", message: "over budget: not applied" });
      return;
    }
    if (message.type === "hello") {
      reply({
        type: "welcome",
        machine_id: "machine-1",
        heartbeat_interval_ms: this.options.heartbeatMs ?? 60_000,
        lease_ttl_ms: 30_000,
        ...(this.options.budget ? { budget: this.options.budget } : {}),
        keep: message.in_flight.map((j) => j.run_id).filter((id) => !this.welcomeDrop.includes(id)),
        drop: this.welcomeDrop,
      });
    } else if (message.type === "report") {
      const status = (this.options.ack ?? (() => "ok"))(message);
      if (status) reply({ type: "ack", event_id: message.event_id, status });
    } else if (message.type === "upload_request" && this.options.grantUploads !== false) {
      reply({
        type: "upload_urls",
        request_id: message.request_id,
        files: message.files.map((file) => {
          const key = `outputs/${message.run_id}/${file.name}`;
          return {
            name: file.name,
            key,
            url: `${this.url}/r2/${encodeURIComponent(key)}?X-Amz-Signature=sig`,
            method: "PUT" as const,
            headers: { "content-type": file.content_type, "x-amz-meta-run": message.run_id },
          };
        }),
      });
    }
  }

  private onHttp(req: IncomingMessage, res: ServerResponse) {
    const path = req.url?.split("?")[0] ?? "";
    const file = req.method === "GET" ? this.files.get(path.slice("/files/".length)) : undefined;
    if (file) {
      res.writeHead(200, { "content-type": file.contentType }).end(file.bytes);
      return;
    }
    if (req.method !== "PUT" || !path.startsWith("/r2/")) {
      res.writeHead(404).end();
      return;
    }
    this.putsStarted += 1;
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      if (this.options.holdPuts) return;
      if (this.failPutsLeft > 0) {
        this.failPutsLeft -= 1;
        res.writeHead(500).end("try again");
        return;
      }
      this.uploads.push({
        key: decodeURIComponent(path.slice("/r2/".length)),
        headers: req.headers,
        bytes: Buffer.concat(chunks),
      });
      res.writeHead(200).end();
    });
  }
}

/** The same report or upload request, sent again. */
function sameMessage(a: AgentMessage, b: AgentMessage): boolean {
  if (a.type === "report" && b.type === "report") return a.event_id === b.event_id;
  if (a.type === "upload_request" && b.type === "upload_request") return a.request_id === b.request_id;
  return false;
}
