import type { Progress } from "../../../src/protocol/v1";
import type { PromptGraph } from "./http";

/**
 * Overall progress of one prompt from its events: nodes done (cached ones included) plus the sampler
 * steps of the node running now. The ETA adds the running node's remaining steps at its own step pace
 * to the nodes not yet started at the mean time of the plain nodes that ran (cached nodes, done at
 * once, are left out). Counting a many-step node as one node among fast ones would make the estimate
 * grow while sampling at a steady speed; timing steps by steps does not.
 */
export class ProgressTracker {
  private readonly done = new Set<string>();
  private current: string | null = null;
  private step: { value: number; max: number } | null = null;
  private startedAt: number | null = null;
  private nodeStartedAt = 0;
  /** How many finished nodes without steps there are, and the seconds they took together. */
  private plainNodes = { count: 0, seconds: 0 };
  /** The graph's node count: a snapshot comes with every step, and the graph does not change. */
  private readonly total: number;
  /**
   * Something a snapshot shows has changed since the last one (the ETA aside, which moves with the
   * clock): most `progress_state` events of a step change nothing, and need no snapshot.
   */
  private dirty = true;

  constructor(
    private readonly graph: PromptGraph,
    private readonly now: () => number = Date.now,
  ) {
    this.total = Math.max(1, Object.keys(graph).length);
  }

  get changed(): boolean {
    return this.dirty;
  }

  start(): void {
    if (this.startedAt !== null) return;
    this.startedAt = this.now();
    this.dirty = true;
  }

  cached(nodes: string[]): void {
    for (const node of nodes) this.done.add(node);
    this.dirty = true;
  }

  /** `executing {node}`: the previous node is done and this one starts. */
  executing(node: string): void {
    this.start();
    if (this.current === node) return;
    if (this.current !== null) this.finishCurrent(this.current);
    this.step = null;
    this.current = node;
    this.nodeStartedAt = this.now();
    this.dirty = true;
  }

  private finishCurrent(node: string) {
    if (this.step === null) {
      this.plainNodes.count++;
      this.plainNodes.seconds += (this.now() - this.nodeStartedAt) / 1000;
    }
    this.done.add(node);
  }

  /** `progress {value, max, node}`: a step of the running node (a sampler's step). */
  progress(node: string | null | undefined, value: number, max: number): void {
    if (node && node !== this.current) this.executing(node);
    if (max <= 0) return;
    this.step = { value, max };
    this.dirty = true;
  }

  /** `progress_state`: ComfyUI's own per-node states; finished nodes count as done. */
  nodeStates(nodes: Record<string, { state: string }>): void {
    const before = this.done.size;
    for (const id in nodes) if (nodes[id]?.state === "finished") this.done.add(id);
    if (this.done.size !== before) this.dirty = true;
  }

  snapshot(): Progress {
    this.dirty = false;
    const { total } = this;
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
      eta_seconds: this.eta(total - doneCount - (running ? 1 : 0), running),
    };
  }

  /** Everything done: what a successful run reports last. */
  complete(): Progress {
    for (const node of Object.keys(this.graph)) this.done.add(node);
    this.current = null;
    return { ...this.snapshot(), eta_seconds: 0 };
  }

  /** Seconds left at the pace so far. */
  private eta(notStarted: number, running: boolean): number | null {
    if (this.startedAt === null) return null;
    const { count, seconds } = this.plainNodes;
    const perNode = count > 0 ? seconds / count : null;
    const inNode = (this.now() - this.nodeStartedAt) / 1000;
    const step = running && this.step && this.step.value > 0 ? this.step : null;
    // Without a node that ran or a step taken there is no pace to go by.
    if (perNode === null && !step) return null;
    let current = 0;
    if (step) current = (inNode / step.value) * (step.max - step.value);
    else if (running && perNode !== null) current = Math.max(0, perNode - inNode);
    return Math.max(0, Math.round((current + notStarted * (perNode ?? 0)) * 10) / 10);
  }
}
