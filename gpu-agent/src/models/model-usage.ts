import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import * as z from "zod/mini";
import type { ApiGraph } from "../../../src/protocol/graph";

const UsageFile = z.record(z.string(), z.number());

/**
 * When each model name was last named by a job's graph (ms since the epoch), kept in the state
 * directory: the least recently used files go first when the disk budget is enforced. File access
 * times cannot stand in for this (most hosts mount with noatime or relatime).
 */
export class ModelUsage {
  private writing: Promise<void> = Promise.resolve();

  private constructor(
    private readonly file: string,
    private readonly lastUsed: Map<string, number>,
  ) {}

  static async open(stateDir: string): Promise<ModelUsage> {
    const file = join(stateDir, "model-usage.json");
    const parsed = UsageFile.safeParse(
      await readFile(file, "utf8")
        .then(JSON.parse)
        .catch(() => ({})),
    );
    return new ModelUsage(file, new Map(Object.entries(parsed.success ? parsed.data : {})));
  }

  /** Every string input of the graph counts as a use of the model of that name, if there is one. */
  recordGraph(graph: ApiGraph, at = Date.now()): Promise<void> {
    for (const name of graphStrings(graph)) this.lastUsed.set(name, at);
    this.writing = this.writing.then(() => this.persist()).catch(() => undefined);
    return this.writing;
  }

  lastUsedAt(name: string): number | undefined {
    return this.lastUsed.get(name);
  }

  private async persist() {
    await mkdir(join(this.file, ".."), { recursive: true });
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
