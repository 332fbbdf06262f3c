import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type ComfySimulator, startComfySimulator } from "../../sim/simulator";
import { connectPair, postJson, settle } from "./helpers/sim-client";
import { loadTrace } from "./helpers/traces";

let sim: ComfySimulator;
beforeEach(async () => {
  sim = await startComfySimulator({ stepMs: 2 });
});
afterEach(() => sim.close());

describe.each([
  ["04", "an unknown class_type"],
  ["05", "bad and missing inputs"],
  ["06", "no output node"],
])("trace %s: a prompt with %s", (number) => {
  const trace = loadTrace(number);

  it("is refused with the recorded 400 body and no WebSocket messages", async () => {
    const { client, observer } = await connectPair(sim);
    const reply = await postJson(sim, "/prompt", { ...trace.prompt_request, client_id: client.clientId });
    await settle();
    expect(reply.status).toBe(trace.prompt_response.status);
    expect(reply.json).toEqual(trace.prompt_response.body);
    expect(client.types()).toEqual(trace.ws_message_types_in_order);
    expect(observer.types()).toEqual(trace.ws_message_types_in_order_observer);
    expect(sim.queue()).toEqual({ running: [], pending: [] });
    expect(sim.counters.promptsRejected).toBe(1);
  });
});

describe("prompt numbers", () => {
  it("count rejected prompts too", async () => {
    const rejected = await postJson(sim, "/prompt", loadTrace("06").prompt_request);
    const accepted = await postJson(sim, "/prompt", loadTrace("13").prompt_request);
    expect(rejected.status).toBe(400);
    expect(accepted.json).toMatchObject({ number: 1, node_errors: {} });
  });

  it("uses the client's prompt_id", async () => {
    const reply = await postJson(sim, "/prompt", { ...loadTrace("13").prompt_request, prompt_id: "mine-1" });
    expect(reply.json.prompt_id).toBe("mine-1");
  });

  it("answers a body without `prompt` with no_prompt", async () => {
    const reply = await postJson(sim, "/prompt", { client_id: "x" });
    expect(reply).toEqual({
      status: 400,
      json: {
        error: {
          type: "no_prompt",
          message: "No prompt provided",
          details: "No prompt provided",
          extra_info: {},
        },
        node_errors: {},
      },
    });
  });
});
