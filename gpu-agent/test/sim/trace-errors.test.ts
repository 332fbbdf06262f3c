import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type ComfySimulator, startComfySimulator } from "../../sim/simulator";
import { connectPair, getJson, settle, submitAs } from "./helpers/sim-client";
import { loadTrace, recordedMessages } from "./helpers/traces";
import { uploadImage } from "./helpers/uploads";

let sim: ComfySimulator;
beforeEach(async () => {
  sim = await startComfySimulator({ stepMs: 2 });
});
afterEach(() => sim.close());

describe.each([
  ["07", "SaveImage writing outside the output folder"],
  ["08", "LoadImage of a corrupt file"],
])("trace %s: %s", (number) => {
  const trace = loadTrace(number);

  it("ends with the recorded execution_error and an error history", async () => {
    await uploadImage(sim, "corrupt.png", Buffer.from("this is not a png file"), { overwrite: "true" });
    const { client, observer } = await connectPair(sim);
    const promptId = await submitAs(sim, trace.prompt_request, client.clientId);
    await client.waitForEnd(promptId);
    await observer.waitForCount(trace.ws_message_types_in_order_observer.length);
    await settle();
    expect(client.types()).toEqual(trace.ws_message_types_in_order);
    expect(observer.types()).toEqual(trace.ws_message_types_in_order_observer);

    const [recorded] = recordedMessages(trace, "execution_error");
    const [error] = client.messages("execution_error");
    for (const field of [
      "node_id",
      "node_type",
      "executed",
      "exception_message",
      "exception_type",
      "current_outputs",
    ]) {
      expect(error?.[field], field).toEqual(recorded?.[field]);
    }
    expect(Object.keys(error?.current_inputs as object)).toEqual(
      Object.keys(recorded?.current_inputs as object),
    );
    expect(error?.traceback).toEqual(expect.arrayContaining([expect.stringContaining("execution.py")]));

    const history = (await getJson(sim, `/history/${promptId}`))[promptId] as Record<string, unknown>;
    const recordedHistory = trace.history?.[trace.prompt_id] as Record<string, { messages: unknown[][] }>;
    expect(history.outputs).toEqual({});
    expect(history.meta).toEqual({});
    expect(history.status).toMatchObject({ status_str: "error", completed: false });
    const kinds = (history.status as { messages: unknown[][] }).messages.map((m) => m[0]);
    expect(kinds).toEqual(recordedHistory.status?.messages.map((m) => m[0]));
  });
});

describe("injected failures", () => {
  it("fail the chosen node class with an execution_error", async () => {
    sim.failNode("ImageInvert", {
      message: "CUDA out of memory",
      exceptionType: "torch.OutOfMemoryError",
      times: 1,
    });
    const { client } = await connectPair(sim);
    const request = loadTrace("07").prompt_request;
    const prompt = { ...request.prompt, "3": { class_type: "PreviewImage", inputs: { images: ["2", 0] } } };
    const promptId = await submitAs(sim, { prompt }, client.clientId);
    await client.waitForEnd(promptId);
    expect(client.messages("execution_error")[0]).toMatchObject({
      node_id: "2",
      node_type: "ImageInvert",
      exception_message: "CUDA out of memory\n",
      exception_type: "torch.OutOfMemoryError",
    });
    const retry = await submitAs(sim, { prompt }, client.clientId);
    await client.waitForEnd(retry);
    expect(client.messages("execution_success").map((m) => m.prompt_id)).toEqual([retry]);
  });
});

describe("an input the node class does not declare", () => {
  it("is not passed to the node nor shown in its error, but keeps the node out of the cache", async () => {
    const trace = loadTrace("07");
    const [recorded] = recordedMessages(trace, "execution_error");
    const { client } = await connectPair(sim);
    const { prompt } = trace.prompt_request;
    const save = prompt["3"] as { class_type: string; inputs: Record<string, unknown> };
    const marked = (mark: string) => ({
      ...prompt,
      "3": { ...save, inputs: { ...save.inputs, comfy_edge_prompt: mark } },
    });
    for (const mark of ["first", "second"]) {
      const promptId = await submitAs(sim, { prompt: marked(mark) }, client.clientId);
      await client.waitForEnd(promptId);
    }
    const errors = client.messages("execution_error");
    expect(errors.map((error) => error.node_id)).toEqual(["3", "3"]);
    for (const error of errors) {
      expect(Object.keys(error.current_inputs as object)).toEqual(
        Object.keys(recorded?.current_inputs as object),
      );
    }
    expect(client.messages("execution_cached").map((m) => m.nodes)).toEqual([[], ["1", "2"]]);
  });
});
