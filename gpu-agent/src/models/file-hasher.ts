import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";

/** Counts running jobs, so that background work can wait until none is running. */
export class JobGate {
  private running = 0;
  private waiters: (() => void)[] = [];

  begin(): void {
    this.running++;
  }

  end(): void {
    this.running = Math.max(0, this.running - 1);
    if (this.running === 0) for (const wake of this.waiters.splice(0)) wake();
  }

  whenIdle(): Promise<void> {
    return this.running === 0 ? Promise.resolve() : new Promise((resolve) => this.waiters.push(resolve));
  }
}

/**
 * SHA-256s of files, one file at a time for the whole host, streamed in chunks; before each chunk it
 * waits until no job runs, so hashing never competes with a run for the disk. A file asked for again
 * while its hash is pending (two ComfyUIs sharing a models folder) shares that hash.
 */
export class FileHasher {
  /** Files hashed since start (hashing is the expensive part the cache spares). */
  hashed = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly pending = new Map<string, Promise<string>>();

  constructor(private readonly gate: JobGate) {}

  hash(path: string): Promise<string> {
    const known = this.pending.get(path);
    if (known) return known;
    const result = this.queue.then(() => this.digest(path));
    this.queue = result.catch(() => undefined);
    this.pending.set(path, result);
    const forget = () => this.pending.delete(path);
    result.then(forget, forget);
    return result;
  }

  private async digest(path: string): Promise<string> {
    const digest = createHash("sha256");
    for await (const chunk of createReadStream(path, { highWaterMark: 4 * 1024 * 1024 })) {
      await this.gate.whenIdle();
      digest.update(chunk as Buffer);
    }
    this.hashed++;
    return digest.digest("hex");
  }
}
