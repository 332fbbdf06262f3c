import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import * as z from "zod/mini";
import type { ApiGraph } from "../../../src/protocol/graph";

const UsageFile = z.record(z.string(), z.number());
/** A model's name as a graph gives it: a path of one line, ending in an extension. */
const FILE_NAME = /^[^\n\r]{1,512}\.\w{1,16}$/;

/**
 * The file is rewritten when a graph names something new, and otherwise at most this often: a restart
 * loses at most this much of the times, and the least recently used order needs no finer grain. Every
 * job writing the whole file was a few file operations per run for nothing.
 */
export const REWRITE_AFTER_MS = 60_000;

/**
 * When each model name was last named by a job's graph (ms since the epoch), kept in the state
 * directory: the least recently used files go first when the disk budget is enforced. File access
 * times cannot stand in for this (most hosts mount with noatime or relatime).
 */
export class ModelUsage {
  private writing: Promise<void> = Promise.resolve();
  /** When the file was last written (0: not by this process). */
  private writtenAt = 0;

  private constructor(
    private readonly file: string,
    private readonly lastUsed: Map<string, number>,
  ) {}

  static async open(stateDir: string): Promise<ModelUsage> {
    const file = join(stateDir, "model-usage.json");
    await mkdir(stateDir, { recursive: true });
    const parsed = UsageFile.safeParse(
      await readFile(file, "utf8")
        .then(JSON.parse)
        .catch(() => ({})),
    );
    return new ModelUsage(file, new Map(Object.entries(parsed.success ? parsed.data : {})));
  }

  /**
   * Every string input of the graph shaped like a file name counts as a use of the model of that name,
   * if there is one (prompt text, different in every run, would grow the file without bound).
   * Resolves once the file holds the times (or the last write of them, when this one is not due).
   */
  recordGraph(graph: ApiGraph, at = Date.now()): Promise<void> {
    let rewrite = at - this.writtenAt >= REWRITE_AFTER_MS;
    for (const name of graphStrings(graph)) {
      if (!FILE_NAME.test(name)) continue;
      if (!this.lastUsed.has(name)) rewrite = true;
      this.lastUsed.set(name, at);
    }
    if (!rewrite) return this.writing;
    this.writtenAt = at;
    this.writing = this.writing.then(() => this.persist()).catch(() => undefined);
    return this.writing;
  }

  lastUsedAt(name: string): number | undefined {
    return this.lastUsed.get(name);
  }

  private async persist() {
    await writeFile(`${this.file}.tmp`, JSON.stringify(Object.fromEntries(this.lastUsed)));
    await rename(`${this.file}.tmp`, this.file);
  }
}

/** The string values a graph's nodes take as inputs (model names among them). */
export function graphStrings(graph: ApiGraph): Set<string> {
  const names = new Set<string>();
  for (const node of Object.values(graph)) {
    for (const value of Object.values(node.inputs ?? {})) if (typeof value === "string") names.add(value);
  }
  return names;
}
