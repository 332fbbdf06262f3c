import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { ApiGraph, InputBinding } from "../../../src/protocol/graph";
import { encodePng } from "../../sim/image/png";
import { solid } from "../../sim/image/raster";
import { type Harness, imageGraph, jobMessage, loadImageGraph, startHarness } from "./helpers/harness";

let h: Harness;

afterEach(async () => {
  await h?.close();
});

const RED = encodePng(solid(20, 10, 0xff0000));

const photo = {
  input_urls: { photo: `data:image/png;base64,${RED.toString("base64")}` },
  bindings: [
    {
      input_id: "photo",
      type: "image",
      binding: "node_input",
      node_id: "1",
      input_name: "image",
      class_type: "LoadImage",
      required: true,
    } satisfies InputBinding,
  ],
};

/** Every file under a folder (none if it was never made), as paths relative to ComfyUI's directory. */
function filesUnder(comfyDir: string, folder: string): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else found.push(relative(comfyDir, path));
    }
  };
  if (existsSync(join(comfyDir, folder))) walk(join(comfyDir, folder));
  return found.sort();
}

/** The nodes ComfyUI took from its cache for a run's prompt, as its /history records them. */
async function cachedNodesOf(comfyUrl: string, runId: string): Promise<string[]> {
  const accepted = h.mock.reports(runId).find((r) => r.report.kind === "accepted")?.report;
  const promptId = accepted?.kind === "accepted" ? accepted.prompt_id : "";
  const history = (await (await fetch(`${comfyUrl}/history/${promptId}`)).json()) as Record<
    string,
    { status: { messages: [string, { nodes?: string[] }][] } }
  >;
  const cached = history[promptId]?.status.messages.find(([type]) => type === "execution_cached");
  return cached?.[1].nodes ?? [];
}

describe("files the agent leaves in ComfyUI's folders", () => {
  it("removes a run's inputs when it ends and its outputs once uploaded, and nothing it did not put there", async () => {
    h = await startHarness({
      comfyDirs: true,
      beforeStart: async (_stateDir, [sim]) => sim!.addInputFile("theirs.png", RED),
    });
    const comfyDir = h.config.comfyDir?.[0] as string;
    mkdirSync(join(comfyDir, "output"), { recursive: true });
    writeFileSync(join(comfyDir, "output", "theirs_00001_.png"), RED);
    expect(h.mock.all("hello")[0]?.instances[0]?.disk).toEqual({
      free_bytes: expect.any(Number),
      total_bytes: expect.any(Number),
    });

    const loaded = jobMessage(loadImageGraph(), photo);
    h.mock.send(loaded);
    await h.mock.untilReport(loaded.run_id, "succeeded", 10_000);
    await h.mock.until(() => h.agent.runningJobs.length === 0, "the first run to end");
    const saved = jobMessage(imageGraph());
    h.mock.send(saved);
    await h.mock.untilReport(saved.run_id, "succeeded", 10_000);
    await h.mock.until(() => h.agent.runningJobs.length === 0, "the second run to end");
    h.sim.failNode("ImageInvert", { times: 1 });
    const failing = jobMessage(loadImageGraph(), photo);
    h.mock.send(failing);
    await h.mock.untilReport(failing.run_id, "failed", 10_000);
    await h.mock.until(() => h.agent.runningJobs.length === 0, "the failed run to end");

    expect(h.sim.counters.uploads).toBe(2);
    expect(h.mock.uploads.length).toBeGreaterThanOrEqual(3);
    expect(filesUnder(comfyDir, "input")).toEqual(["input/example.png", "input/theirs.png"]);
    expect(filesUnder(comfyDir, "output")).toEqual(["output/theirs_00001_.png"]);
    expect(filesUnder(comfyDir, "temp")).toEqual([]);
  });

  it("delivers each run of a graph sent again unchanged, though ComfyUI's cache names removed files", async () => {
    h = await startHarness({ comfyDirs: true });
    const comfyDir = h.config.comfyDir?.[0] as string;
    const checkpoint: ApiGraph = {
      "1": { class_type: "CheckpointLoaderSimple", inputs: { ckpt_name: "v1-5-pruned-emaonly.safetensors" } },
      "2": { class_type: "EmptyLatentImage", inputs: { width: 64, height: 64, batch_size: 1 } },
      "3": { class_type: "VAEDecode", inputs: { samples: ["2", 0], vae: ["1", 2] } },
      "4": { class_type: "SaveImage", inputs: { images: ["3", 0], filename_prefix: "routed" } },
    };
    const cachedNodes: string[][] = [];
    for (const graph of [checkpoint, checkpoint, imageGraph(), imageGraph()]) {
      const job = jobMessage(graph);
      h.mock.send(job);
      const ended = await h.mock.until(
        () => h.mock.reports(job.run_id).find((r) => ["succeeded", "failed"].includes(r.report.kind)),
        `run ${job.run_id} to end`,
        10_000,
      );
      expect(ended.report.kind, JSON.stringify(ended.report)).toBe("succeeded");
      await h.mock.until(() => h.agent.runningJobs.length === 0, `run ${job.run_id} to settle`);
      expect(filesUnder(comfyDir, "output")).toEqual([]);
      expect(filesUnder(comfyDir, "temp")).toEqual([]);
      cachedNodes.push(await cachedNodesOf(h.sim.url, job.run_id));
    }
    // Every run uploaded its pictures; only the output nodes ran again, what feeds them came from the cache.
    expect(h.mock.uploads.map((upload) => upload.bytes.subarray(1, 4).toString())).toEqual(
      Array(1 + 1 + 2 + 2).fill("PNG"),
    );
    expect(cachedNodes).toEqual([[], ["1", "2", "3"], [], ["1", "2", "3", "6"]]);
  });

  it("removes the outputs of a run cancelled while they upload, which will never reach R2", async () => {
    h = await startHarness({ comfyDirs: true, mock: { grantUploads: false } });
    const comfyDir = h.config.comfyDir?.[0] as string;
    const job = jobMessage(imageGraph());
    h.mock.send(job);
    await h.mock.until(
      () => h.mock.all("upload_request").find((r) => r.run_id === job.run_id),
      "the upload request",
    );
    expect(filesUnder(comfyDir, "output")).not.toEqual([]);

    h.mock.send({ type: "cancel", run_id: job.run_id, lease_token: job.lease_token, reason: "cancelled" });
    await h.mock.untilReport(job.run_id, "cancelled");
    await h.mock.until(() => h.agent.runningJobs.length === 0, "the run to end");
    expect(h.mock.uploads).toEqual([]);
    expect(filesUnder(comfyDir, "output")).toEqual([]);
    expect(filesUnder(comfyDir, "temp")).toEqual([]);
  });
});
