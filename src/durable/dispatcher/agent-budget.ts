import { SendBuckets } from "../../protocol/send-buckets";
import { AGENT_SEND_BUDGET } from "../../protocol/v1";

/**
 * What one agent connection may send: token buckets for messages and bytes, refilled over time. A
 * message past either budget is refused without being applied (the agent keeps an unacked report and
 * resends it later); a connection that keeps sending while refused is closed. This bounds the D1 and
 * Durable Object work any one agent can cause, whatever it sends.
 */
export type BudgetLimits = {
  messages: number;
  messagesPerSecond: number;
  bytes: number;
  bytesPerSecond: number;
  /** Refusals, without the budget recovering to half in between, after which the connection is closed. */
  refusalsBeforeClose: number;
};

/**
 * Far above what an agent sends (heartbeats, a few progress events and log lines a second per run);
 * the byte burst holds the largest single message an agent sends (its node definitions, several MB
 * with many custom nodes) and the byte rate a stream of previews.
 */
export const AGENT_BUDGET: BudgetLimits = {
  messages: AGENT_SEND_BUDGET.messages,
  messagesPerSecond: AGENT_SEND_BUDGET.messages_per_second,
  bytes: AGENT_SEND_BUDGET.bytes,
  bytesPerSecond: AGENT_SEND_BUDGET.bytes_per_second,
  refusalsBeforeClose: 200,
};

export type BudgetVerdict = "ok" | "refused" | "close";

export class AgentBudget {
  private readonly buckets: SendBuckets;
  private refusals = 0;

  constructor(
    private readonly limits: BudgetLimits = AGENT_BUDGET,
    now: () => number = Date.now,
  ) {
    const budget = {
      messages: limits.messages,
      messages_per_second: limits.messagesPerSecond,
      bytes: limits.bytes,
      bytes_per_second: limits.bytesPerSecond,
    };
    this.buckets = new SendBuckets(budget, 1, now);
  }

  /** Charges one message of `size` bytes. */
  take(size: number): BudgetVerdict {
    if (this.buckets.halfFull()) this.refusals = 0;
    if (this.buckets.take(size)) return "ok";
    this.refusals += 1;
    return this.refusals >= this.limits.refusalsBeforeClose ? "close" : "refused";
  }
}

/** One budget per live socket; a socket woken from hibernation starts with a full one. */
export class AgentBudgets {
  private readonly bySocket = new WeakMap<WebSocket, AgentBudget>();

  constructor(
    private readonly limits: BudgetLimits = AGENT_BUDGET,
    private readonly now: () => number = Date.now,
  ) {}

  take(ws: WebSocket, frame: string | ArrayBuffer): BudgetVerdict {
    return this.of(ws).take(typeof frame === "string" ? frame.length : frame.byteLength);
  }

  private of(ws: WebSocket) {
    let budget = this.bySocket.get(ws);
    if (!budget) {
      budget = new AgentBudget(this.limits, this.now);
      this.bySocket.set(ws, budget);
    }
    return budget;
  }
}
