import type { Progress } from "../../../src/protocol/v1";
import type { PromptGraph } from "./http";

/**
 * Overall progress of one prompt from its events: nodes done (cached ones included) plus the sampler
 * steps of the node running now, and an ETA from the pace so far (cached nodes, done at once, are
 * left out of the pace).
 */
export class ProgressTracker {
  private readonly done = new Set<string>();
  private cachedCount = 0;
  private current: string | null = null;
  private step: { value: number; max: number } | null = null;
  private startedAt: number | null = null;

  constructor(
    private readonly graph: PromptGraph,
    private readonly now: () => number = Date.now,
  ) {}

  start(): void {
    this.startedAt ??= this.now();
  }

  cached(nodes: string[]): void {
    for (const node of nodes) this.done.add(node);
    this.cachedCount = nodes.length;
  }

  /** `executing {node}`: the previous node is done and this one starts. */
  executing(node: string): void {
    this.start();
    if (this.current !== null && this.current !== node) this.done.add(this.current);
    if (this.current !== node) this.step = null;
    this.current = node;
  }

  /** `progress {value, max, node}`: a step of the running node (a sampler's step). */
  progress(node: string | null | undefined, value: number, max: number): void {
    if (node && node !== this.current) this.executing(node);
    if (max > 0) this.step = { value, max };
  }

  /** `progress_state`: ComfyUI's own per-node states; finished nodes count as done. */
  nodeStates(nodes: Record<string, { state: string }>): void {
    for (const [id, node] of Object.entries(nodes)) if (node.state === "finished") this.done.add(id);
  }

  snapshot(): Progress {
    const total = Math.max(1, Object.keys(this.graph).length);
    const running = this.current !== null && !this.done.has(this.current);
    const partial = running && this.step ? Math.min(1, this.step.value / this.step.max) : 0;
    const doneCount = Math.min(this.done.size, total);
    const fraction = Math.min(1, (doneCount + partial) / total);
    return {
      percentage: Math.round(fraction * 1000) / 10,
      nodes_done: doneCount,
      nodes_total: total,
      current_node: running ? this.current : null,
      current_node_type: running && this.current ? (this.graph[this.current]?.class_type ?? null) : null,
      step: running && this.step ? this.step.value : null,
      total_steps: running && this.step ? this.step.max : null,
      eta_seconds: this.eta(doneCount + partial, total),
    };
  }

  /** Everything done: what a successful run reports last. */
  complete(): Progress {
    for (const node of Object.keys(this.graph)) this.done.add(node);
    this.current = null;
    return { ...this.snapshot(), eta_seconds: 0 };
  }

  private eta(done: number, total: number): number | null {
    if (this.startedAt === null) return null;
    const ran = done - this.cachedCount;
    const toRun = total - this.cachedCount;
    if (ran <= 0 || toRun <= 0) return null;
    const elapsed = (this.now() - this.startedAt) / 1000;
    return Math.max(0, Math.round(((elapsed * (toRun - ran)) / ran) * 10) / 10);
  }
}
