import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { ApiGraph } from "../../../src/protocol/graph";
import { ModelUsage, REWRITE_AFTER_MS } from "../../src/models/model-usage";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function stateDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "agent-state-"));
  dirs.push(dir);
  return dir;
}

const graphNaming = (...names: string[]): ApiGraph =>
  Object.fromEntries(
    names.map((name, i) => [
      String(i + 1),
      { class_type: "CheckpointLoaderSimple", inputs: { ckpt_name: name } },
    ]),
  );

const onDisk = (dir: string): Record<string, number> =>
  JSON.parse(readFileSync(join(dir, "model-usage.json"), "utf8"));

describe("model usage times", () => {
  it("writes a new name at once, and a known name's newer time only once the rewrite interval has passed", async () => {
    const dir = stateDir();
    const usage = await ModelUsage.open(dir);
    const t0 = 1_000_000;

    await usage.recordGraph(graphNaming("a.safetensors"), t0);
    expect(onDisk(dir)).toEqual({ "a.safetensors": t0 });

    // The same name again: kept in memory (cleanup reads that), not written.
    await usage.recordGraph(graphNaming("a.safetensors"), t0 + 1_000);
    expect(usage.lastUsedAt("a.safetensors")).toBe(t0 + 1_000);
    expect(onDisk(dir)).toEqual({ "a.safetensors": t0 });

    // A name the file does not hold yet is written at once, with every time held.
    await usage.recordGraph(graphNaming("b.safetensors"), t0 + 2_000);
    expect(onDisk(dir)).toEqual({ "a.safetensors": t0 + 1_000, "b.safetensors": t0 + 2_000 });

    await usage.recordGraph(graphNaming("a.safetensors"), t0 + 2_000 + REWRITE_AFTER_MS);
    expect(onDisk(dir)).toEqual({
      "a.safetensors": t0 + 2_000 + REWRITE_AFTER_MS,
      "b.safetensors": t0 + 2_000,
    });
  });

  it("reads the times back after a restart, and ignores a file that is not a map of times", async () => {
    const dir = stateDir();
    const before = await ModelUsage.open(dir);
    await before.recordGraph(graphNaming("a.safetensors", "b.safetensors"), 5_000);
    const after = await ModelUsage.open(dir);
    expect(after.lastUsedAt("a.safetensors")).toBe(5_000);
    expect(after.lastUsedAt("c.safetensors")).toBeUndefined();

    const other = stateDir();
    await (await ModelUsage.open(other)).recordGraph(graphNaming("x.pt"), 1);
    writeFileSync(join(other, "model-usage.json"), JSON.stringify({ "x.pt": "yesterday" }));
    expect((await ModelUsage.open(other)).lastUsedAt("x.pt")).toBeUndefined();
  });

  it("keeps only inputs shaped like file names: prompt text, new in every run, is not stored", async () => {
    const dir = stateDir();
    const usage = await ModelUsage.open(dir);
    const graph: ApiGraph = {
      "1": {
        class_type: "CheckpointLoaderSimple",
        inputs: { ckpt_name: "sdxl/Juggernaut XL v9.safetensors" },
      },
      "2": {
        class_type: "CLIPTextEncode",
        inputs: { text: "a red fox in the snow, golden hour", clip: ["1", 1] },
      },
      "3": { class_type: "CLIPTextEncode", inputs: { text: "line one.\nline two.png", clip: ["1", 1] } },
      "4": { class_type: "KSampler", inputs: { sampler_name: "euler", model: ["1", 0] } },
    };
    await usage.recordGraph(graph, 7_000);
    expect(onDisk(dir)).toEqual({ "sdxl/Juggernaut XL v9.safetensors": 7_000 });
    expect(usage.lastUsedAt("euler")).toBeUndefined();
  });
});
