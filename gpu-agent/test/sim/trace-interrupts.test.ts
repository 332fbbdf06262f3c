import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type ComfySimulator, startComfySimulator } from "../../sim/simulator";
import { connectPair, getJson, postJson, settle, submitAs } from "./helpers/sim-client";
import { loadTrace, recordedMessages } from "./helpers/traces";

let sim: ComfySimulator;
beforeEach(async () => {
  sim = await startComfySimulator({ stepMs: 2 });
});
afterEach(() => sim.close());

describe("trace 09: a global interrupt during a slow ImageBlur chain", () => {
  const trace = loadTrace("09");

  it("lets the running node finish and stops at the next one", async () => {
    const blur = sim.holdNode("ImageBlur");
    const { client, observer } = await connectPair(sim);
    const promptId = await submitAs(sim, trace.prompt_request, client.clientId);
    await blur.reached();
    expect((await postJson(sim, "/interrupt")).status).toBe(200);
    blur.release();
    await client.waitForEnd(promptId);
    await observer.waitForCount(trace.ws_message_types_in_order_observer.length);
    await settle();
    expect(client.types()).toEqual(trace.ws_message_types_in_order);
    expect(observer.types()).toEqual(trace.ws_message_types_in_order_observer);
    const [recorded] = recordedMessages(trace, "execution_interrupted");
    expect(client.messages("execution_interrupted")[0]).toMatchObject({
      prompt_id: promptId,
      node_id: recorded?.node_id,
      node_type: recorded?.node_type,
    });
    const history = (await getJson(sim, `/history/${promptId}`))[promptId];
    expect(history).toMatchObject({
      outputs: {},
      meta: {},
      status: { status_str: "error", completed: false },
    });
  });
});

describe("trace 10: interrupt by prompt_id and delete a pending prompt", () => {
  const trace = loadTrace("10");
  const [, second, third] = trace.http.filter((h) => h.method === "POST" && h.path === "/prompt");

  it("ignores an interrupt for a pending prompt, deletes it, stops the running one, then runs the third", async () => {
    const blur = sim.holdNode("ImageBlur");
    const { client, observer } = await connectPair(sim);
    const a = await submitAs(sim, trace.prompt_request, client.clientId);
    await blur.reached();
    const b = await submitAs(sim, second?.request_json ?? {}, client.clientId);
    const c = await submitAs(sim, third?.request_json ?? {}, client.clientId);
    expect(sim.queue()).toEqual({ running: [a], pending: [b, c] });

    await postJson(sim, "/interrupt", { prompt_id: b });
    await postJson(sim, "/queue", { delete: [b] });
    expect(sim.queue()).toEqual({ running: [a], pending: [c] });
    await postJson(sim, "/interrupt", { prompt_id: a });
    blur.release();

    await client.waitForEnd(c);
    await observer.waitForCount(trace.ws_message_types_in_order_observer.length);
    await settle();
    expect(client.types()).toEqual(trace.ws_message_types_in_order);
    expect(observer.types()).toEqual(trace.ws_message_types_in_order_observer);
    expect(await getJson(sim, `/history/${b}`)).toEqual({});
    expect((await getJson(sim, `/history/${c}`))[c]).toMatchObject({ status: { status_str: "success" } });
    expect(sim.counters).toMatchObject({ interrupts: 2, queueDeletes: 1 });
  });
});

describe("trace 15: an interrupt while a node reports progress", () => {
  const trace = loadTrace("15");

  it("stops the node at its next step", async () => {
    const steps = sim.holdNode("CRTestProgressPreview");
    steps.step(2);
    const { client, observer } = await connectPair(sim);
    const promptId = await submitAs(sim, trace.prompt_request, client.clientId);
    await steps.reached();
    await client.waitFor((f) => f.kind === "binary" && client.binaries().length === 2);
    await postJson(sim, "/interrupt", { prompt_id: promptId });
    steps.release();
    await client.waitForEnd(promptId);
    await observer.waitForCount(trace.ws_message_types_in_order_observer.length);
    await settle();
    expect(client.types()).toEqual(trace.ws_message_types_in_order);
    expect(client.messages("execution_interrupted")[0]).toMatchObject({
      node_id: "2",
      node_type: "CRTestProgressPreview",
      executed: ["1"],
    });
  });
});
