import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { FAKE_GPU, type Harness, imageGraph, jobMessage, startHarness } from "./helpers/harness";

let h: Harness;

afterEach(async () => {
  await h?.close();
});

describe("hello and heartbeats", () => {
  it("says who it is, its GPUs, and each ComfyUI with its stats and node classes", async () => {
    h = await startHarness({ comfyCount: 2 });
    const [hello] = h.mock.all("hello");
    expect(hello?.protocol).toBe(1);
    expect(hello?.agent).toMatchObject({
      version: expect.any(String),
      hostname: expect.any(String),
      os: expect.any(String),
      arch: process.arch,
      cpus: expect.any(Number),
      memory_total_mb: expect.any(Number),
      node_version: process.version,
    });
    expect(hello?.gpus).toEqual([FAKE_GPU]);
    expect(hello?.in_flight).toEqual([]);
    expect(hello?.instances.map((i) => [i.id, i.comfy_url, i.available])).toEqual([
      ["comfy-0", h.sims[0]?.url, true],
      ["comfy-1", h.sims[1]?.url, true],
    ]);
    const first = hello?.instances[0];
    expect(first?.system_stats).toMatchObject({ system: expect.any(Object), devices: expect.any(Array) });
    expect(first?.node_classes).toEqual(expect.arrayContaining(["LoadImage", "SaveImage", "KSampler"]));
    expect(h.mock.invalid).toEqual([]);
  });

  it("heartbeats at the configured interval with leases and instance availability", async () => {
    h = await startHarness({ config: { heartbeatMs: 50 } });
    await h.mock.until(() => h.mock.all("heartbeat").length >= 2, "heartbeats");
    expect(h.mock.all("heartbeat")[0]).toEqual({
      type: "heartbeat",
      leases: [],
      instances: [
        {
          id: "comfy-0",
          available: true,
          object_info_hash: expect.stringMatching(/^[0-9a-f]{64}$/),
          models_hash: expect.stringMatching(/^[0-9a-f]{64}$/),
        },
      ],
      gpus: [FAKE_GPU],
      system: expect.objectContaining({
        cpu_percent: expect.any(Number),
        memory_total_mb: expect.any(Number),
        memory_used_mb: expect.any(Number),
        disk_total_gb: expect.any(Number),
        disk_used_gb: expect.any(Number),
      }),
    });
  });

  it("reports the CUDA devices ComfyUI lists when there is no nvidia-smi", async () => {
    h = await startHarness({ nvidiaGpus: [], comfyCount: 2, config: { heartbeatMs: 50 } });
    const simulated = {
      name: "Simulated GPU (comfy-edge ComfyUI simulator)",
      memory_total_mb: expect.any(Number),
    };
    expect(h.mock.all("hello")[0]?.gpus).toEqual([
      expect.objectContaining({ index: 0, ...simulated }),
      expect.objectContaining({ index: 1, ...simulated }),
    ]);
    await h.mock.until(() => h.mock.all("heartbeat").length >= 1, "a heartbeat");
    expect(h.mock.all("heartbeat")[0]?.gpus).toHaveLength(2);
  });

  it("names its node definitions by hash, and sends them only when asked for that hash", async () => {
    h = await startHarness();
    const hash = h.mock.all("hello")[0]?.instances[0]?.object_info_hash;
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(h.mock.all("object_info")).toEqual([]);
    h.mock.send({ type: "object_info_request", instance_id: "comfy-0", hash: "0".repeat(64) });
    h.mock.send({ type: "object_info_request", instance_id: "comfy-0", hash: hash as string });
    const [sent] = await h.mock.until(() => {
      const found = h.mock.all("object_info");
      return found.length > 0 && found;
    }, "object_info");
    expect(h.mock.all("object_info")).toHaveLength(1);
    expect(sent).toMatchObject({ instance_id: "comfy-0", hash });
    const json = JSON.stringify(sent?.definitions);
    expect(createHash("sha256").update(json).digest("hex")).toBe(hash);
    const recorded = JSON.parse(
      readFileSync(
        new URL("../../../fixtures/comfyui-traces/object_info_full.json", import.meta.url),
        "utf8",
      ),
    );
    expect(Object.keys(sent?.definitions ?? {})).toEqual(expect.arrayContaining(Object.keys(recorded)));
    expect(sent?.definitions.KSampler).toEqual(recorded.KSampler);
  });

  it("sends definitions that changed since the hello under their new hash, and reports that hash from then on", async () => {
    h = await startHarness({ config: { heartbeatMs: 50 } });
    const asked = h.mock.all("hello")[0]?.instances[0]?.object_info_hash as string;
    // LoadImage's choices list ComfyUI's input folder, so a new input file changes the definitions.
    const form = new FormData();
    form.append("image", new Blob([new Uint8Array([1, 2, 3])], { type: "image/png" }), "new-input.png");
    expect((await fetch(`${h.sim.url}/upload/image`, { method: "POST", body: form })).status).toBe(200);
    h.mock.send({ type: "object_info_request", instance_id: "comfy-0", hash: asked });
    const [sent] = await h.mock.until(() => {
      const found = h.mock.all("object_info");
      return found.length > 0 && found;
    }, "object_info");
    expect(sent?.hash).not.toBe(asked);
    expect(createHash("sha256").update(JSON.stringify(sent?.definitions)).digest("hex")).toBe(sent?.hash);
    expect(JSON.stringify(sent?.definitions)).toContain("new-input.png");
    const heartbeats = h.mock.all("heartbeat").length;
    const [beat] = await h.mock.until(() => {
      const later = h.mock.all("heartbeat").slice(heartbeats);
      return later.length > 0 && later;
    }, "a heartbeat");
    expect(beat?.instances?.[0]?.object_info_hash).toBe(sent?.hash);
  });

  it("reports an instance with no ComfyUI as unavailable, and takes no job on it", async () => {
    h = await startHarness({ config: { comfy: ["http://127.0.0.1:9"], heartbeatMs: 50 } });
    const instance = h.mock.all("hello")[0]?.instances[0];
    expect(instance).toMatchObject({
      id: "comfy-0",
      available: false,
      reason: expect.stringMatching(/127.0.0.1:9/),
    });
    const job = jobMessage(imageGraph());
    h.mock.send(job);
    const released = await h.mock.untilReport(job.run_id, "released");
    expect(released.report).toEqual({
      kind: "released",
      reason: expect.stringMatching(/comfy-0 unavailable/),
    });
  });
});
