/**
 * The order of the waiting jobs, kept in memory so a job's place in line costs O(log n) rather than a
 * count over the queue table. Built once per wake from the table (state `queued`), then kept in step
 * by every JobQueue change that moves a job in or out of `queued`.
 */
export class WaitingLine {
  /** Priority → the seqs waiting at it, ascending. */
  private readonly seqsByPriority = new Map<number, number[]>();

  constructor(rows: Iterable<{ priority: number; seq: number }>) {
    for (const row of rows) this.add(row.priority, row.seq);
  }

  add(priority: number, seq: number) {
    const seqs = this.seqsByPriority.get(priority) ?? [];
    this.seqsByPriority.set(priority, seqs);
    // New jobs have the highest seq yet, so this is an append; requeued ones keep their old place.
    if (seqs.length === 0 || seqs[seqs.length - 1]! < seq) seqs.push(seq);
    else {
      const at = lowerBound(seqs, seq);
      if (seqs[at] !== seq) seqs.splice(at, 0, seq);
    }
  }

  remove(priority: number, seq: number) {
    const seqs = this.seqsByPriority.get(priority);
    if (!seqs) return;
    const at = lowerBound(seqs, seq);
    if (seqs[at] === seq) seqs.splice(at, 1);
    if (seqs.length === 0) this.seqsByPriority.delete(priority);
  }

  /** How many waiting jobs come first: higher priority, or the same and older. */
  ahead(priority: number, seq: number): number {
    let n = 0;
    for (const [p, seqs] of this.seqsByPriority) {
      if (p > priority) n += seqs.length;
      else if (p === priority) n += lowerBound(seqs, seq);
    }
    return n;
  }
}

/** The index of the first element ≥ value in an ascending array. */
function lowerBound(sorted: number[], value: number): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (sorted[mid]! < value) low = mid + 1;
    else high = mid;
  }
  return low;
}
