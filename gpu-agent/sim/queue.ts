import { untilCrash } from "./faults";

export type PromptGraph = Record<string, { class_type: string; inputs: Record<string, unknown> }>;

export interface QueueItem {
  number: number;
  promptId: string;
  prompt: PromptGraph;
  extraData: Record<string, unknown>;
  /** The output nodes that passed validation, in the order they will be run. */
  outputs: string[];
}

/** A queue entry as GET /queue and the history show it: `[number, prompt_id, prompt, extra_data, outputs]`. */
export function queueTuple(item: QueueItem): unknown[] {
  return [item.number, item.promptId, item.prompt, item.extraData, item.outputs];
}

export interface HistoryEntry {
  prompt: unknown[];
  outputs: Record<string, Record<string, unknown[]>>;
  status: { status_str: "success" | "error"; completed: boolean; messages: [string, unknown][] };
  meta: Record<string, { node_id: string; display_node: string; parent_node: null; real_node_id: string }>;
}

const MAX_HISTORY = 10_000;

/**
 * ComfyUI's PromptQueue: pending prompts ordered by `number`, the one running, and the history. Every
 * change calls `onChange`, which broadcasts the `status` message, as `queue_updated()` does.
 */
export class PromptQueue {
  private pending: QueueItem[] = [];
  private current: QueueItem | undefined;
  private readonly waiters: (() => void)[] = [];
  readonly history = new Map<string, HistoryEntry>();

  constructor(private readonly onChange: () => void) {}

  get remaining(): number {
    return this.pending.length + (this.current ? 1 : 0);
  }

  get running(): QueueItem | undefined {
    return this.current;
  }

  get waiting(): readonly QueueItem[] {
    return this.pending;
  }

  put(item: QueueItem): void {
    this.pending.push(item);
    this.pending.sort((a, b) => a.number - b.number);
    this.onChange();
    this.waiters.shift()?.();
  }

  /** Waits for the next prompt and marks it running (the worker's `q.get()`). */
  async take(signal: AbortSignal): Promise<QueueItem> {
    while (this.pending.length === 0) {
      await untilCrash(new Promise<void>((resolve) => this.waiters.push(resolve)), signal);
    }
    const item = this.pending.shift() as QueueItem;
    this.current = item;
    this.onChange();
    return item;
  }

  /** Records the finished prompt's history, then frees the queue (`task_done`). */
  finish(item: QueueItem, entry: HistoryEntry): void {
    this.history.set(item.promptId, entry);
    if (this.history.size > MAX_HISTORY) this.history.delete(this.history.keys().next().value as string);
    this.current = undefined;
    this.onChange();
  }

  /** Removes a pending prompt; a running one is not touched. */
  delete(promptId: string): boolean {
    const index = this.pending.findIndex((item) => item.promptId === promptId);
    if (index < 0) return false;
    this.pending.splice(index, 1);
    this.onChange();
    return true;
  }

  clear(): void {
    this.pending = [];
    this.onChange();
  }

  /** GET /history's selection: the last `maxItems` (or all), after skipping `offset`. */
  historySlice(maxItems: number | undefined, offset: number | undefined): Record<string, HistoryEntry> {
    const entries = [...this.history.entries()];
    const start =
      offset !== undefined && offset >= 0 ? offset : maxItems !== undefined ? entries.length - maxItems : 0;
    const picked = entries.slice(
      Math.max(0, start),
      maxItems !== undefined ? Math.max(0, start) + maxItems : undefined,
    );
    return Object.fromEntries(picked);
  }
}
