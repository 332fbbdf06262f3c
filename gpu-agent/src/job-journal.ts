import { closeSync, fdatasync, fsync, openSync, renameSync, writeFileSync } from "node:fs";
import { mkdir, readdir, readFile, unlink } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import * as z from "zod/mini";
import { ApiGraph } from "../../src/protocol/graph";
import { JobMessage } from "../../src/protocol/v1";
import type { Logger } from "./log";

/** A file the agent put in (or a run produced in) one of ComfyUI's folders. */
export const ComfyFile = z.object({
  type: z.enum(["input", "output", "temp"]),
  subfolder: z.string(),
  filename: z.string(),
});
export type ComfyFile = z.infer<typeof ComfyFile>;

/**
 * What the agent must know about a run to pick it up again after its own restart: the job (run, lease,
 * attempt, instance), the prompt id it queued (written before `POST /prompt` is sent), the graph as
 * queued, and the files it put in ComfyUI's input folder (to remove them when the run ends).
 */
export const JobRecord = z.object({
  job: JobMessage,
  prompt_id: z.optional(z.string()),
  graph: z.optional(ApiGraph),
  inputs: z._default(z.array(ComfyFile), []),
});
export type JobRecord = z.infer<typeof JobRecord>;

const DIR_NAME = "jobs";

const datasyncFd = promisify(fdatasync);
const fsyncFd = promisify(fsync);

/**
 * The runs this agent holds, one small JSON file each under `<state dir>/jobs/`, each in place before the
 * step it records is taken, and removed once the run's final report is safe in the outbox.
 */
export class JobJournal {
  private constructor(
    private readonly dir: string,
    private readonly log: Logger,
  ) {}

  static async open(stateDir: string, log: Logger): Promise<JobJournal> {
    const dir = join(stateDir, DIR_NAME);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    return new JobJournal(dir, log);
  }

  /** Every readable record; a torn or foreign file is skipped with a warning. */
  async list(): Promise<JobRecord[]> {
    const records: JobRecord[] = [];
    for (const name of (await readdir(this.dir)).filter((n) => n.endsWith(".json"))) {
      const parsed = JobRecord.safeParse(await readJson(join(this.dir, name)));
      if (parsed.success) records.push(parsed.data);
      else this.log.warn("job journal: skipping an unreadable record", { file: name });
    }
    return records;
  }

  /**
   * Puts the record in place: written and renamed synchronously, so from the moment this returns any
   * later process of this host reads it, however this one ends (SIGKILL, OOM, a crash). That is what
   * keeps a restarted agent from queueing a prompt twice (docs/faults.md), so the caller may send
   * `POST /prompt` at once. The fsyncs that carry the record through a crash of the host itself follow
   * in the background: a host that goes down takes the ComfyUI beside it down too, its prompt with it,
   * and waiting on the disk held every prompt up by milliseconds (bench/README.md, row 4). Throws if the
   * file cannot be written.
   */
  save(record: JobRecord): void {
    const path = this.pathOf(record.job.run_id);
    const tmp = `${path}.tmp`;
    const fd = openSync(tmp, "w", 0o600);
    try {
      writeFileSync(fd, JSON.stringify(record));
      renameSync(tmp, path);
    } catch (error) {
      closeSync(fd);
      throw error;
    }
    void this.flush(fd);
  }

  /**
   * Forgets a run. Off the main thread: an unlink waits for the filesystem's journal, which the final
   * report's fsync, just before it, keeps busy.
   */
  async remove(runId: string): Promise<void> {
    await unlink(this.pathOf(runId)).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== "ENOENT") throw error;
    });
  }

  /** fsyncs a record written by `save` (its data, then its directory entry), then closes it. */
  private async flush(fd: number) {
    try {
      await datasyncFd(fd);
      await syncDir(this.dir);
    } catch (error) {
      this.log.warn("job journal: could not fsync a record", { error: String(error) });
    } finally {
      closeSync(fd);
    }
  }

  private pathOf(runId: string): string {
    return join(this.dir, `${encodeURIComponent(runId)}.json`);
  }
}

async function readJson(path: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(path, "utf8"));
  } catch {
    return undefined;
  }
}

/** Makes a rename durable: the directory entry is flushed too. */
async function syncDir(dir: string) {
  const fd = openSync(dir, "r");
  try {
    await fsyncFd(fd);
  } finally {
    closeSync(fd);
  }
}
