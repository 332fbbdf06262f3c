import { createHash, randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "./helpers/harness";
import { type ModelSource, startModelSource } from "./helpers/model-source";

describe("model files on an agent's host", () => {
  let h: Harness;
  let source: ModelSource;
  afterEach(async () => {
    await h.close();
    await source.close();
  });

  it("downloads a file the control plane asks for, lists it hashed without reading it again, and deletes it", async () => {
    const body = randomBytes(64 * 1024);
    const sha256 = createHash("sha256").update(body).digest("hex");
    source = await startModelSource(body);
    h = await startHarness({
      comfyDirs: true,
      config: { heartbeatMs: 50, allowPrivateInputs: true },
      timings: { gpuRefreshMs: 100 },
    });
    const path = join(h.config.comfyDir?.[0] as string, "models", "loras", "fresh.safetensors");
    // The default files are hashed first, so what is hashed after that is the new file's doing.
    await h.mock.until(() => h.agent.modelHasher.hashed === 4 || undefined, "the default files hashed");

    h.mock.send({
      type: "model_download",
      download_id: "dl-1",
      folder: "loras",
      name: "fresh.safetensors",
      url: source.url,
      sha256,
    });
    const [result] = await h.mock.until(
      () => h.mock.all("model_download_result").length > 0 && h.mock.all("model_download_result"),
      "the result",
    );
    expect(result).toEqual({
      type: "model_download_result",
      download_id: "dl-1",
      status: "completed",
      sha256,
      size_bytes: body.length,
    });
    expect(readFileSync(path).equals(body)).toBe(true);
    expect(h.mock.all("model_download_progress").at(-1)).toMatchObject({ bytes_done: body.length });

    // Ask for each inventory the agent announces until one lists the new file.
    let asked: string | undefined;
    await h.mock.until(() => {
      const hash = h.mock.all("heartbeat").at(-1)?.instances?.[0]?.models_hash;
      if (hash && hash !== asked) {
        asked = hash;
        h.mock.send({ type: "models_request", instance_id: "comfy-0", hash });
      }
      return h.mock.all("models").some((m) => m.models.some((f) => f.name === "fresh.safetensors"));
    }, "an inventory with the new file");
    const inventory = h.mock.all("models").find((m) => m.models.some((f) => f.name === "fresh.safetensors"));
    expect(inventory?.models.find((f) => f.name === "fresh.safetensors")).toMatchObject({
      folder: "loras",
      sha256,
    });
    expect(h.agent.modelHasher.hashed).toBe(4);

    h.mock.send({ type: "model_delete", request_id: "rm-1", folder: "loras", name: "fresh.safetensors" });
    const [removed] = await h.mock.until(
      () => h.mock.all("models_removed").length > 0 && h.mock.all("models_removed"),
      "the removal",
    );
    expect(removed).toEqual({
      type: "models_removed",
      request_id: "rm-1",
      removed: [{ folder: "loras", name: "fresh.safetensors", size_bytes: body.length }],
      kept: [],
    });
    expect(existsSync(path)).toBe(false);
  });
});
