import { describe, expect, it } from "vitest";
import { parseEvent } from "../../src/comfy/events";
import { parsePreviewFrame } from "../../src/comfy/preview-frames";
import { loadTrace } from "../sim/helpers/traces";

const recordedFrame = (trace: string) =>
  Buffer.from(loadTrace(trace).ws_messages.find((m) => m.kind === "binary")?.frame_base64 ?? "", "base64");

describe("parseEvent", () => {
  it("reads every recorded message of the traces as a known event", () => {
    for (const number of ["01", "02", "03", "07", "08", "09", "10", "11", "12", "13", "14", "15"]) {
      for (const message of loadTrace(number).ws_messages) {
        if (message.kind !== "text") continue;
        const event = parseEvent(JSON.stringify(message.json));
        expect(event?.type, `${number}: ${message.json?.type}`).toBe(message.json?.type);
      }
    }
  });

  it("reads a sampler step's progress (the fields the agent uses, nothing else) and node states", () => {
    const step = { value: 3, max: 20, prompt_id: "p1", node: "5", extra: { big: true } };
    expect(parseEvent(JSON.stringify({ type: "progress", data: step }))).toEqual({
      type: "progress",
      data: { value: 3, max: 20, prompt_id: "p1", node: "5" },
    });
    expect(parseEvent('{"type":"progress","data":{"value":1,"max":2,"node":null}}')).toEqual({
      type: "progress",
      data: { value: 1, max: 2, node: null },
    });
    const state = { prompt_id: "p1", nodes: { "5": { state: "running", value: 3, max: 20, node_id: "5" } } };
    expect(parseEvent(JSON.stringify({ type: "progress_state", data: state }))).toMatchObject({
      type: "progress_state",
      data: { prompt_id: "p1", nodes: { "5": { state: "running" } } },
    });
    expect(parseEvent('{"type":"progress_state","data":{"prompt_id":"p1","nodes":{"5":{}}}}')).toMatchObject({
      type: "other",
    });
  });

  it("passes on unknown and malformed events as `other`", () => {
    expect(parseEvent('{"type":"crystools.monitor","data":{"cpu":3}}')).toEqual({
      type: "other",
      name: "crystools.monitor",
      data: { cpu: 3 },
    });
    expect(parseEvent('{"type":"executing","data":{"node":5}}')).toMatchObject({
      type: "other",
      name: "executing",
    });
    expect(parseEvent('{"type":"progress","data":{"value":"3","max":20}}')).toMatchObject({
      type: "other",
      name: "progress",
    });
    expect(parseEvent("not json")).toBeUndefined();
    expect(parseEvent('{"no":"type"}')).toBeUndefined();
  });
});

describe("parsePreviewFrame", () => {
  it("reads a type-1 frame from trace 11", () => {
    const preview = parsePreviewFrame(recordedFrame("11"));
    expect(preview?.mimeType).toBe("image/jpeg");
    expect(
      Buffer.from(preview?.image ?? [])
        .subarray(0, 4)
        .toString("hex"),
    ).toBe("ffd8ffe0");
    expect(preview?.promptId).toBeUndefined();
  });

  it("reads a type-4 frame from trace 12, with its prompt and node", () => {
    const trace = loadTrace("12");
    const preview = parsePreviewFrame(recordedFrame("12"));
    expect(preview).toMatchObject({ mimeType: "image/jpeg", promptId: trace.prompt_id, nodeId: "2" });
    expect(preview?.image.length).toBe(695);
  });

  it("ignores frames it does not know or that are cut short", () => {
    expect(parsePreviewFrame(Buffer.from([0, 0, 0, 3, 0, 0, 0, 1, 65]))).toBeUndefined();
    expect(parsePreviewFrame(Buffer.from([0, 0, 0, 4, 0, 0, 1, 0, 123]))).toBeUndefined();
    expect(parsePreviewFrame(Buffer.from([0, 0, 0]))).toBeUndefined();
  });

  it("reads a type-4 frame's metadata fields only when they are strings", () => {
    const frame = (metadata: unknown) => {
      const json = Buffer.from(JSON.stringify(metadata));
      const head = Buffer.alloc(8);
      head.writeUInt32BE(4, 0);
      head.writeUInt32BE(json.length, 4);
      return Buffer.concat([head, json, Buffer.from([0xff, 0xd8])]);
    };
    expect(parsePreviewFrame(frame({ prompt_id: "p", node_id: "7", display_node_id: null }))).toEqual({
      mimeType: "image/jpeg",
      image: Buffer.from([0xff, 0xd8]),
      promptId: "p",
      nodeId: "7",
    });
    expect(
      parsePreviewFrame(frame({ node_id: "7", display_node_id: "3", image_type: "image/png" })),
    ).toMatchObject({ mimeType: "image/png", promptId: undefined, nodeId: "3" });
    expect(parsePreviewFrame(frame({ prompt_id: 5 }))).toBeUndefined();
    expect(parsePreviewFrame(frame({ image_type: ["image/png"] }))).toBeUndefined();
    expect(parsePreviewFrame(frame("metadata"))).toBeUndefined();
  });
});
