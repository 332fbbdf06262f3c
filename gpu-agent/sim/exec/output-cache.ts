import type { NodeResult } from "../nodes/types";

/**
 * ComfyUI's default ("classic") output cache: results by cache key, keeping only what the current
 * prompt can use, so a resubmitted prompt reuses the previous run and anything older is dropped.
 */
export class OutputCache {
  private readonly results = new Map<string, NodeResult>();

  get(key: string | undefined): NodeResult | undefined {
    return key === undefined ? undefined : this.results.get(key);
  }

  set(key: string, result: NodeResult): void {
    this.results.set(key, result);
  }

  retainOnly(keys: Iterable<string>): void {
    const keep = new Set(keys);
    for (const key of this.results.keys()) if (!keep.has(key)) this.results.delete(key);
  }
}
