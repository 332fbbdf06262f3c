import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { identifyImage } from "../../sim/image/identify";
import { type ComfySimulator, startComfySimulator } from "../../sim/simulator";
import { connectPair, settle, submitAs } from "./helpers/sim-client";
import { loadTrace, recordedMessages } from "./helpers/traces";
import { WsRecorder } from "./helpers/ws-recorder";

let sim: ComfySimulator;
beforeEach(async () => {
  sim = await startComfySimulator({ stepMs: 2 });
});
afterEach(() => sim.close());

async function run(number: string, featureFlags: boolean) {
  const trace = loadTrace(number);
  const { client, observer } = await connectPair(sim, featureFlags);
  const promptId = await submitAs(sim, trace.prompt_request, client.clientId);
  await client.waitForEnd(promptId);
  await observer.waitForCount(trace.ws_message_types_in_order_observer.length);
  await settle();
  return { trace, client, observer, promptId };
}

describe("trace 11: progress with legacy (type 1) previews", () => {
  it("sends progress, then a JPEG preview frame, per step", async () => {
    const { trace, client, observer } = await run("11", false);
    expect(client.types()).toEqual(trace.ws_message_types_in_order);
    expect(observer.types()).toEqual(trace.ws_message_types_in_order_observer);
    expect(client.messages("progress").map((m) => [m.value, m.max, m.node])).toEqual(
      recordedMessages(trace, "progress").map((m) => [m.value, m.max, m.node]),
    );
    for (const frame of client.binaries()) {
      expect(frame.subarray(0, 8).toString("hex")).toBe("0000000100000001");
      expect(identifyImage(frame.subarray(8))).toEqual({ format: "JPEG", width: 64, height: 64 });
    }
  });
});

describe("trace 12: progress after the feature_flags handshake (type 4 previews)", () => {
  it("answers the flags and sends previews with metadata before each progress message", async () => {
    const { trace, client, promptId } = await run("12", true);
    expect(client.types()).toEqual(trace.ws_message_types_in_order);
    expect(client.messages("feature_flags")).toEqual(recordedMessages(trace, "feature_flags"));
    const recorded = trace.ws_messages.find((m) => m.kind === "binary");
    const recordedFrame = Buffer.from(recorded?.frame_base64 ?? "", "base64");
    const recordedLength = recordedFrame.readUInt32BE(4);
    const recordedJson = recordedFrame
      .toString("utf8", 8, 8 + recordedLength)
      .replace(trace.prompt_id, promptId);
    for (const frame of client.binaries()) {
      expect(frame.readUInt32BE(0)).toBe(4);
      const length = frame.readUInt32BE(4);
      // Byte for byte, Python's json.dumps spacing included.
      expect(frame.toString("utf8", 8, 8 + length)).toBe(recordedJson);
      expect(identifyImage(frame.subarray(8 + length))).toMatchObject({
        format: "JPEG",
        width: 64,
        height: 64,
      });
    }
  });
});

describe("trace 13: a prompt without client_id", () => {
  it("sends only status and progress_state, to every socket", async () => {
    const trace = loadTrace("13");
    const { client, observer } = await connectPair(sim);
    await submitAs(sim, trace.prompt_request, undefined);
    await client.waitForCount(trace.ws_message_types_in_order.length);
    await observer.waitForCount(trace.ws_message_types_in_order_observer.length);
    await settle();
    expect(client.types()).toEqual(trace.ws_message_types_in_order);
    expect(observer.types()).toEqual(trace.ws_message_types_in_order_observer);
  });
});

describe("trace 14: the submitter's socket reconnects mid-run with the same clientId", () => {
  it("greets it with status and the running node, then sends the rest of the run", async () => {
    const trace = loadTrace("14");
    const blur = sim.holdNode("ImageBlur");
    const { client: first, observer } = await connectPair(sim);
    const promptId = await submitAs(sim, trace.prompt_request, first.clientId);
    await blur.reached();
    await first.close();
    expect(first.types()).toEqual(trace.ws_message_types_in_order_first_connection);
    await settle(50);
    const second = await WsRecorder.connect(sim.url, { clientId: first.clientId });
    await second.waitForCount(3);
    blur.release();
    await second.waitForEnd(promptId);
    await observer.waitForCount(trace.ws_message_types_in_order_observer.length);
    await settle();
    expect(second.types()).toEqual(trace.ws_message_types_in_order);
    expect(second.frames[1]).toEqual({ kind: "text", type: "executing", data: { node: "10" } });
    expect(observer.types()).toEqual(trace.ws_message_types_in_order_observer);
  });
});
