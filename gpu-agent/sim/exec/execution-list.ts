import type { PromptGraph } from "../queue";
import { isLink } from "./cache-keys";

interface Pending {
  blockCount: number;
  blocking: Set<string>;
}

/**
 * ComfyUI's ExecutionList: the nodes still to run with what blocks them, and its "UX-friendly" choice of
 * the next ready node (output nodes first, then nodes feeding an output), which sets the order of the
 * `executing` messages.
 */
export class ExecutionList {
  private readonly pending = new Map<string, Pending>();

  constructor(
    private readonly prompt: PromptGraph,
    private readonly isCached: (id: string) => boolean,
    private readonly isOutput: (id: string) => boolean,
  ) {}

  get empty(): boolean {
    return this.pending.size === 0;
  }

  add(nodeId: string): void {
    const stack = [nodeId];
    const links: [string, string][] = [];
    while (stack.length > 0) {
      const id = stack.pop() as string;
      if (this.pending.has(id)) continue;
      this.pending.set(id, { blockCount: 0, blocking: new Set() });
      for (const value of Object.values(this.prompt[id]?.inputs ?? {})) {
        if (!isLink(value)) continue;
        if (!this.isCached(value[0])) stack.push(value[0]);
        links.push([value[0], id]);
      }
    }
    for (const [from, to] of links) {
      if (this.isCached(from)) continue;
      this.add(from);
      const source = this.pending.get(from) as Pending;
      if (!source.blocking.has(to)) {
        source.blocking.add(to);
        (this.pending.get(to) as Pending).blockCount++;
      }
    }
  }

  /** The node to run next; undefined when what is left waits on itself (a cycle). */
  next(): string | undefined {
    const ready = [...this.pending].filter(([, node]) => node.blockCount === 0).map(([id]) => id);
    const feedsOutput = (id: string, depth: number): boolean =>
      [...(this.pending.get(id)?.blocking ?? [])].some((to) =>
        depth === 1 ? this.isOutput(to) : feedsOutput(to, 1),
      );
    return (
      ready.find((id) => this.isOutput(id)) ??
      ready.find((id) => feedsOutput(id, 1)) ??
      ready.find((id) => feedsOutput(id, 2)) ??
      ready[0]
    );
  }

  complete(id: string): void {
    const node = this.pending.get(id);
    this.pending.delete(id);
    for (const to of node?.blocking ?? []) {
      const blocked = this.pending.get(to);
      if (blocked) blocked.blockCount--;
    }
  }

  /** A node left when `next()` finds nothing ready: part of a dependency cycle. */
  firstPending(): string | undefined {
    return this.pending.keys().next().value;
  }
}
