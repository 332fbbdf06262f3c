import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { decodePng, encodePng } from "../../sim/image/png";
import { seededGradient } from "../../sim/image/raster";
import { type ComfySimulator, startComfySimulator } from "../../sim/simulator";
import { normalizeHistory } from "./helpers/normalize";
import { pngTextKeys } from "./helpers/png-text";
import { connectPair, getJson, settle, submitAs } from "./helpers/sim-client";
import { loadTrace } from "./helpers/traces";
import { uploadImage } from "./helpers/uploads";

let sim: ComfySimulator;
beforeEach(async () => {
  sim = await startComfySimulator({ stepMs: 2 });
});
afterEach(() => sim.close());

/** Replays a traced prompt; returns what both sockets saw, once the run is over. */
async function replay(request: Record<string, unknown>, observerCount: number) {
  const { client, observer } = await connectPair(sim);
  const promptId = await submitAs(sim, request, client.clientId);
  await client.waitForEnd(promptId);
  await observer.waitForCount(observerCount);
  await settle();
  await Promise.all([client.close(), observer.close()]);
  return { client, observer, promptId };
}

async function view(params: Record<string, string>) {
  const response = await fetch(`${sim.url}/view?${new URLSearchParams(params)}`);
  return { response, bytes: Buffer.from(await response.arrayBuffer()) };
}

describe("trace 01: upload, LoadImage, ImageInvert, SaveImage into a subfolder", () => {
  const trace = loadTrace("01");

  it("sends the recorded messages and writes the recorded history", async () => {
    const input = seededGradient(64, 48, 5);
    await uploadImage(sim, "trace_input.png", encodePng(input), { overwrite: "true" });
    const { client, observer, promptId } = await replay(
      trace.prompt_request,
      trace.ws_message_types_in_order_observer.length,
    );
    expect(client.types()).toEqual(trace.ws_message_types_in_order);
    expect(observer.types()).toEqual(trace.ws_message_types_in_order_observer);
    expect(client.messages("executed")).toEqual([
      {
        node: "3",
        display_node: "3",
        output: { images: [{ filename: "invert_00001_.png", subfolder: "trace", type: "output" }] },
        prompt_id: promptId,
      },
    ]);
    const ids = { [promptId]: "<prompt>", [client.clientId]: "<client>", [trace.prompt_id]: "<prompt>" };
    const recordedIds = { ...ids, [trace.prompt_request.client_id as string]: "<client>" };
    const history = await getJson(sim, `/history/${promptId}`);
    expect(normalizeHistory(history[promptId], ids)).toEqual(
      normalizeHistory(trace.history?.[trace.prompt_id], recordedIds),
    );
  });

  it("serves the output as a PNG whose pixels are the input's inverse", async () => {
    const input = seededGradient(64, 48, 5);
    await uploadImage(sim, "trace_input.png", encodePng(input), { overwrite: "true" });
    const { promptId } = await replay(trace.prompt_request, 5);
    expect(promptId).toBeTruthy();
    const { response, bytes } = await view({
      filename: "invert_00001_.png",
      subfolder: "trace",
      type: "output",
    });
    expect(response.headers.get("content-type")).toBe("image/png");
    expect(response.headers.get("content-disposition")).toBe('filename="invert_00001_.png"');
    expect(Number(response.headers.get("content-length"))).toBe(bytes.length);
    const decoded = decodePng(bytes);
    expect([decoded?.image.width, decoded?.image.height]).toEqual([64, 48]);
    expect(decoded?.image.rgb).toEqual(input.rgb.map((value) => 255 - value));
    expect(pngTextKeys(bytes)).toEqual(["prompt"]);
  });
});

describe("traces 02 and 03: blur, scale, save and preview; then the same prompt from the cache", () => {
  const first = loadTrace("02");
  const again = loadTrace("03");

  it("runs 02 like the recording, then answers 03 from the cache", async () => {
    const run = await replay(first.prompt_request, first.ws_message_types_in_order_observer.length);
    expect(run.client.types()).toEqual(first.ws_message_types_in_order);
    expect(run.observer.types()).toEqual(first.ws_message_types_in_order_observer);
    expect(run.client.messages("executing").map((m) => m.node)).toEqual(["1", "2", "3", "5", "4", null]);

    const cached = await replay(again.prompt_request, again.ws_message_types_in_order_observer.length);
    expect(cached.client.types()).toEqual(again.ws_message_types_in_order);
    expect(cached.client.messages("execution_cached")[0]?.nodes).toEqual(["1", "2", "3", "4", "5"]);
    const outputsOf = (messages: Record<string, unknown>[]) => messages.map((m) => [m.node, m.output]);
    expect(outputsOf(cached.client.messages("executed"))).toEqual(outputsOf(run.client.messages("executed")));

    const ids = { [cached.promptId]: "<prompt>", [cached.client.clientId]: "<client>" };
    const recordedIds = {
      [again.prompt_id]: "<prompt>",
      [again.prompt_request.client_id as string]: "<client>",
    };
    const history = await getJson(sim, `/history/${cached.promptId}`);
    expect(normalizeHistory(history[cached.promptId], ids)).toEqual(
      normalizeHistory(again.history?.[again.prompt_id], recordedIds),
    );
  });

  it("saves to output and previews to temp, with the workflow in the PNG text", async () => {
    const { client } = await replay(first.prompt_request, 5);
    const images = client
      .messages("executed")
      .flatMap((m) => (m.output as { images: Record<string, string>[] }).images);
    expect(images.map((image) => image.type)).toEqual(["temp", "output"]);
    for (const image of images) {
      const { response, bytes } = await view(image as Record<string, string>);
      expect(response.status).toBe(200);
      const decoded = decodePng(bytes);
      expect([decoded?.image.width, decoded?.image.height]).toEqual([96, 80]);
      expect(pngTextKeys(bytes)).toEqual(["prompt", "workflow"]);
    }
  });
});
