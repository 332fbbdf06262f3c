import WebSocket, { type RawData } from "ws";
import type * as z from "zod/mini";
import {
  type AckMessage,
  AGENT_SEND_BUDGET,
  type AgentMessage,
  CloseCode,
  type HeartbeatMessage,
  type HelloMessage,
  ServerMessage,
  type WelcomeMessage,
} from "../../src/protocol/v1";
import { type BackoffPolicy, backoffDelay, RECONNECT_BACKOFF } from "./backoff";
import type { Logger } from "./log";
import { SendPacer } from "./send-pacer";

/**
 * idle → connecting → open (hello sent) → ready (welcome received) → backoff → connecting …
 * Any state → closed, for good: on `stop()`, or when the server says reconnecting cannot help.
 */
export type LinkState = "idle" | "connecting" | "open" | "ready" | "backoff" | "closed";

export type Welcome = z.infer<typeof WelcomeMessage>;
type Heartbeat = Omit<z.input<typeof HeartbeatMessage>, "type">;
type Outgoing = AgentMessage | z.input<typeof HeartbeatMessage>;
type Ack = z.infer<typeof AckMessage>;

/** Why the link gave up for good; the agent exits with this. */
export type LinkEnd =
  | { kind: "stopped" }
  | { kind: "revoked"; message: string }
  | { kind: "replaced"; message: string }
  | { kind: "refused"; message: string };

export interface LinkHandlers {
  hello(): Promise<z.input<typeof HelloMessage>>;
  heartbeat(): Heartbeat;
  /** After each welcome: the place to stop dropped jobs and flush the outbox. */
  onReady(welcome: Welcome): void;
  onMessage(message: Exclude<ServerMessage, Welcome>): void;
  onEnd(end: LinkEnd): void;
}

export interface LinkOptions {
  /** The control plane's base URL (http(s) or ws(s)). */
  server: string;
  token: string;
  log: Logger;
  /** Overrides the welcome's heartbeat interval. */
  heartbeatMs?: number;
  backoff?: BackoffPolicy;
  /** Limit for the upgrade, and again for the welcome after hello. */
  handshakeTimeoutMs?: number;
  random?: () => number;
}

/** Missed heartbeat intervals without any frame or pong from the server before the link counts as dead. */
const DEAD_AFTER_INTERVALS = 3;

/** The agent's one WebSocket to the control plane, with reconnects, heartbeats and liveness checks. */
export class Link {
  private currentState: LinkState = "idle";
  private socket: WebSocket | undefined;
  private attempt = 0;
  private timer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private heartbeatMs = 0;
  private lastHeardAt = 0;
  /** Paces this socket's frames under its budget; made at each welcome, which says the budget. */
  private pacer: SendPacer | undefined;
  private readonly url: string;
  /** The hello sent on this socket: the server counts it against the budget. */
  private helloText = "";

  constructor(
    private readonly options: LinkOptions,
    private readonly handlers: LinkHandlers,
  ) {
    this.url = `${options.server.replace(/^http/, "ws")}/api/agent/v1/connect`;
  }

  get state(): LinkState {
    return this.currentState;
  }

  start(): void {
    if (this.currentState === "idle") this.connect();
  }

  /**
   * Sends when the link is ready, in order, as soon as the budget allows; false when it is not ready
   * (reports wait in the outbox). A frame still waiting for budget when the link drops is not sent.
   */
  send(message: Outgoing): boolean {
    const pacer = this.readyPacer();
    pacer?.send(JSON.stringify(message), runOf(message));
    return pacer !== undefined;
  }

  /**
   * Sends a frame that a newer one under the same `key` may replace while it waits for budget (progress,
   * previews): `superseded` is called for a frame so replaced, unsent.
   */
  sendLatest(key: string, message: AgentMessage, superseded?: () => void): boolean {
    const pacer = this.readyPacer();
    pacer?.sendLatest(key, JSON.stringify(message), runOf(message), superseded);
    return pacer !== undefined;
  }

  private readyPacer(): SendPacer | undefined {
    if (this.currentState !== "ready" || this.socket?.readyState !== WebSocket.OPEN) return undefined;
    return this.pacer;
  }

  /** Bytes queued on the socket and not yet sent: best-effort traffic (previews) waits for this to drain. */
  get bufferedAmount(): number {
    return this.socket?.bufferedAmount ?? 0;
  }

  sendHeartbeat(): boolean {
    return this.send({ type: "heartbeat", ...this.handlers.heartbeat() });
  }

  /** Closes with `code` and stays closed; resolves once the socket is closed (bounded). */
  async stop(code = 1000, reason = "agent stopping"): Promise<void> {
    if (this.currentState === "closed") return;
    const socket = this.socket;
    this.end({ kind: "stopped" });
    if (!socket || socket.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        socket.terminate();
        resolve();
      }, 2000);
      socket.once("close", () => {
        clearTimeout(timer);
        resolve();
      });
      socket.close(code, reason);
    });
  }

  private setState(state: LinkState) {
    if (state === this.currentState) return;
    this.options.log.debug(`link: ${this.currentState} → ${state}`);
    this.currentState = state;
  }

  private connect() {
    this.setState("connecting");
    const handshakeTimeout = this.options.handshakeTimeoutMs ?? 15_000;
    const socket = new WebSocket(this.url, {
      headers: { Authorization: `Bearer ${this.options.token}` },
      handshakeTimeout,
      // Nearly every frame is a small report or ack: offered compression, the control plane deflates
      // each one and the agent inflates it, CPU (and zlib buffers) spent to save a few bytes.
      perMessageDeflate: false,
    });
    this.socket = socket;
    const isCurrent = () => this.socket === socket && this.currentState !== "closed";

    socket.on("open", () => {
      if (isCurrent()) void this.sayHello(socket, handshakeTimeout);
    });
    socket.on("message", (data, isBinary) => {
      if (!isCurrent()) return;
      this.lastHeardAt = Date.now();
      if (!isBinary) this.receive(data);
    });
    socket.on("pong", () => {
      this.lastHeardAt = Date.now();
    });
    socket.on("unexpected-response", (_req, res) => {
      if (!isCurrent()) return;
      const status = res.statusCode ?? 0;
      res.resume();
      socket.terminate();
      if (status === 401 || status === 403) {
        this.end({
          kind: "refused",
          message: `the control plane refused the machine token (HTTP ${status})`,
        });
      } else {
        this.retry(`the control plane answered the upgrade with HTTP ${status}`);
      }
    });
    socket.on("error", (error) => {
      if (isCurrent()) this.options.log.debug("link: socket error", { error });
    });
    socket.on("close", (code, reason) => {
      if (isCurrent()) this.closed(code, reason.toString());
    });
  }

  private async sayHello(socket: WebSocket, timeoutMs: number) {
    this.setState("open");
    let hello: z.input<typeof HelloMessage>;
    try {
      hello = await this.handlers.hello();
    } catch (error) {
      this.options.log.error("link: could not build hello", { error });
      socket.terminate();
      return;
    }
    if (this.socket !== socket || this.currentState !== "open") return;
    const text = JSON.stringify(hello);
    socket.send(text);
    this.helloText = text;
    this.timer = setTimeout(() => {
      if (this.socket === socket && this.currentState === "open") {
        this.options.log.warn("link: no welcome after hello; reconnecting");
        socket.terminate();
      }
    }, timeoutMs);
  }

  private receive(data: RawData) {
    let json: unknown;
    try {
      json = JSON.parse(data.toString());
    } catch {
      this.options.log.warn("link: ignoring a frame that is not JSON");
      return;
    }
    const ack = ackOf(json);
    if (ack) return this.handlers.onMessage(ack);
    const parsed = ServerMessage.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      this.options.log.warn("link: ignoring an invalid message", {
        type: (json as { type?: unknown })?.type,
        issue: issue ? `${issue.path.join(".")}: ${issue.message}` : undefined,
      });
      return;
    }
    const message = parsed.data;
    if (message.type === "welcome") this.welcomed(message);
    else this.handlers.onMessage(message);
  }

  private welcomed(welcome: Welcome) {
    clearTimeout(this.timer);
    this.attempt = 0;
    const socket = this.socket;
    this.pacer?.dispose();
    this.pacer = new SendPacer(welcome.budget ?? AGENT_SEND_BUDGET, (text) => {
      if (socket?.readyState === WebSocket.OPEN) socket.send(text);
    });
    this.pacer.charge(this.helloText);
    this.setState("ready");
    this.heartbeatMs = this.options.heartbeatMs ?? welcome.heartbeat_interval_ms;
    this.options.log.info("link: connected", {
      machine_id: welcome.machine_id,
      heartbeat_ms: this.heartbeatMs,
    });
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = setInterval(() => this.beat(), this.heartbeatMs);
    this.handlers.onReady(welcome);
  }

  private beat() {
    const socket = this.socket;
    if (!socket || this.currentState !== "ready") return;
    if (Date.now() - this.lastHeardAt > this.heartbeatMs * DEAD_AFTER_INTERVALS) {
      this.options.log.warn("link: the control plane stopped answering; reconnecting");
      socket.terminate();
      return;
    }
    this.sendHeartbeat();
    socket.ping();
  }

  private closed(code: number, reason: string) {
    if (code === CloseCode.revoked) {
      this.end({
        kind: "revoked",
        message: `this machine was revoked by the control plane (${reason || code})`,
      });
    } else if (code === CloseCode.replaced) {
      this.end({
        kind: "replaced",
        message: "another agent connected with this machine token and took over; not reconnecting",
      });
    } else {
      this.retry(`link closed (${code}${reason ? ` ${reason}` : ""})`);
    }
  }

  private retry(why: string) {
    this.clearTimers();
    this.socket = undefined;
    const delay = backoffDelay(
      this.attempt++,
      this.options.backoff ?? RECONNECT_BACKOFF,
      this.options.random,
    );
    this.options.log.warn(`${why}; reconnecting in ${delay} ms`);
    this.setState("backoff");
    this.timer = setTimeout(() => this.connect(), delay);
  }

  private end(end: LinkEnd) {
    this.clearTimers();
    const socket = this.socket;
    this.socket = undefined;
    this.setState("closed");
    if (end.kind !== "stopped") socket?.terminate();
    this.handlers.onEnd(end);
  }

  private clearTimers() {
    this.pacer?.dispose();
    this.pacer = undefined;
    clearTimeout(this.timer);
    clearInterval(this.heartbeatTimer);
    this.timer = undefined;
    this.heartbeatTimer = undefined;
  }
}

/** The run a frame is about, if any: its waiting progress goes before its next control frame. */
function runOf(message: Outgoing): string | undefined {
  return "run_id" in message ? message.run_id : undefined;
}

/**
 * An ack, checked by hand as `AckMessage` checks it: one comes for every report, and the schema's walk
 * of the server's union costs more than the rest of handling it. Anything else, a malformed ack included,
 * is left to the schema (which then says what is wrong with it).
 */
export function ackOf(json: unknown): Ack | undefined {
  if (typeof json !== "object" || json === null) return undefined;
  const { type, event_id, status } = json as Record<string, unknown>;
  if (type !== "ack" || (status !== "ok" && status !== "stale")) return undefined;
  if (typeof event_id !== "string" || event_id.length < 1 || event_id.length > 128) return undefined;
  return { type, event_id, status };
}
