import { afterEach, describe, expect, it } from "vitest";
import type { ApiGraph, InputBinding } from "../../../src/protocol/graph";
import { decodePng, encodePng } from "../../sim/image/png";
import { solid } from "../../sim/image/raster";
import { type Harness, jobMessage, loadImageGraph, startHarness } from "./helpers/harness";

let h: Harness;

afterEach(async () => {
  await h?.close();
});

/** A 20×10 pure red PNG: inverted, it must come out 20×10 cyan. */
const RED = encodePng(solid(20, 10, 0xff0000));

const imageBinding = (over: Partial<InputBinding> = {}): InputBinding => ({
  input_id: "photo",
  type: "image",
  binding: "node_input",
  node_id: "1",
  input_name: "image",
  class_type: "LoadImage",
  required: true,
  ...over,
});

/** The run's saved picture, as ComfyUI serves it. */
async function savedImage(runId: string) {
  const done = await h.mock.untilReport(runId, "succeeded", 10_000);
  if (done.report.kind !== "succeeded") throw new Error("not succeeded");
  const key = done.report.outputs[0]?.key;
  const upload = h.mock.uploads.find((u) => u.key === key);
  const decoded = upload && decodePng(upload.bytes);
  if (!decoded) throw new Error("no uploaded PNG");
  return decoded.image;
}

describe("job inputs", () => {
  it("uploads an image given as a data URI and binds it into LoadImage", async () => {
    h = await startHarness();
    const job = jobMessage(loadImageGraph(), {
      input_urls: { photo: `data:image/png;base64,${RED.toString("base64")}` },
      bindings: [imageBinding()],
    });
    h.mock.send(job);
    const image = await savedImage(job.run_id);
    expect([image.width, image.height, [...image.rgb.subarray(0, 3)]]).toEqual([20, 10, [0, 255, 255]]);
    expect(h.sim.counters.uploads).toBe(1);
    const inputView = await fetch(`${h.sim.url}/view?filename=ce_${job.run_id}_photo.png&type=input`);
    expect(Buffer.from(await inputView.arrayBuffer()).equals(RED)).toBe(true);
  });

  it("fetches an image from its signed URL on the control plane's own origin", async () => {
    h = await startHarness();
    h.mock.files.set("red.png", { bytes: RED, contentType: "image/png" });
    const job = jobMessage(loadImageGraph(), {
      input_urls: { photo: `${h.mock.url}/files/red.png?sig=abc` },
      bindings: [imageBinding()],
    });
    h.mock.send(job);
    const image = await savedImage(job.run_id);
    expect([image.width, image.height]).toEqual([20, 10]);
  });

  it("lowers ComfyDeploy external nodes so the graph runs on stock ComfyUI", async () => {
    h = await startHarness();
    const graph: ApiGraph = {
      ...loadImageGraph(),
      "1": { class_type: "ComfyUIDeployExternalImage", inputs: { input_id: "photo", default_value: "" } },
      "9": {
        class_type: "ComfyUIDeployExternalText",
        inputs: { input_id: "prefix", default_value: "ignored" },
      },
    };
    graph["3"] = { class_type: "SaveImage", inputs: { images: ["2", 0], filename_prefix: ["9", 0] } };
    const job = jobMessage(graph, {
      inputs: { prefix: "lowered/custom" },
      input_urls: { photo: `data:image/png;base64,${RED.toString("base64")}` },
      bindings: [
        imageBinding({ binding: "external_node", class_type: "ComfyUIDeployExternalImage" }),
        {
          input_id: "prefix",
          type: "string",
          binding: "external_node",
          node_id: "9",
          input_name: "default_value",
          class_type: "ComfyUIDeployExternalText",
          required: false,
        },
      ],
    });
    h.mock.send(job);
    const done = await h.mock.untilReport(job.run_id, "succeeded", 10_000);
    if (done.report.kind !== "succeeded") throw new Error("not succeeded");
    expect(done.report.outputs[0]).toMatchObject({ subfolder: "lowered", filename: "custom_00001_.png" });
  });

  it("fails with input_error for a private URL, and queues nothing", async () => {
    h = await startHarness();
    const job = jobMessage(loadImageGraph(), {
      input_urls: { photo: "http://127.0.0.1:1/secret.png" },
      bindings: [imageBinding()],
    });
    h.mock.send(job);
    const failed = await h.mock.untilReport(job.run_id, "failed");
    expect(failed.report).toEqual({
      kind: "failed",
      error: { code: "input_error", message: expect.stringMatching(/private or local address/) },
    });
    expect(h.sim.counters.prompts).toBe(0);
  });

  it("fails with input_error for an input file over the size limit", async () => {
    h = await startHarness({ config: { maxInputMb: 1 } });
    const big = Buffer.alloc(2 * 1024 * 1024).toString("base64");
    const job = jobMessage(loadImageGraph(), {
      input_urls: { photo: `data:image/png;base64,${big}` },
      bindings: [imageBinding()],
    });
    h.mock.send(job);
    const failed = await h.mock.untilReport(job.run_id, "failed");
    expect(failed.report).toMatchObject({
      error: { code: "input_error", message: expect.stringMatching(/1 MiB/) },
    });
  });
});
