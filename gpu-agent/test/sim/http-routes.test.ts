import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { encodePng } from "../../sim/image/png";
import { seededGradient } from "../../sim/image/raster";
import { type ComfySimulator, startComfySimulator } from "../../sim/simulator";
import { getJson, postJson, submitAs } from "./helpers/sim-client";
import { loadTrace } from "./helpers/traces";
import { uploadImage } from "./helpers/uploads";
import { WsRecorder } from "./helpers/ws-recorder";

interface RecordedHttp {
  path: string;
  query?: Record<string, string>;
  status: number;
  response_json?: unknown;
  request_multipart?: Record<string, unknown> & { image: { filename: string } };
}

let sim: ComfySimulator;
beforeEach(async () => {
  sim = await startComfySimulator({ stepMs: 0 });
});
afterEach(() => sim.close());

const firstPng = encodePng(seededGradient(64, 48, 1));
const secondPng = encodePng(seededGradient(64, 48, 2));

describe("idle GETs (server_idle_gets.json)", () => {
  const idle = loadTrace<{ http: RecordedHttp[]; system_stats: Record<string, Record<string, unknown>> }>(
    "server_idle_gets",
  );

  it("answer like the recorded server", async () => {
    for (const recorded of idle.http.filter((h) => h.path !== "/system_stats")) {
      const query = recorded.query ? `?${new URLSearchParams(recorded.query)}` : "";
      expect(await getJson(sim, `${recorded.path}${query}`), recorded.path).toEqual(recorded.response_json);
    }
  });

  it("report system stats with the recorded fields", async () => {
    const stats = (await getJson(sim, "/system_stats")) as { system: object; devices: object[] };
    expect(Object.keys(stats.system).sort()).toEqual(Object.keys(idle.system_stats.system ?? {}).sort());
    const device = (idle.system_stats.devices as unknown as object[])[0] ?? {};
    expect(Object.keys(stats.devices[0] ?? {}).sort()).toEqual(Object.keys(device).sort());
  });
});

describe("POST /upload/image (upload_image.json)", () => {
  const uploads = loadTrace<{ http: RecordedHttp[] }>("upload_image").http;

  it("names files like ComfyUI: same bytes reuse the name, other bytes get ' (1)'", async () => {
    const bytesFor = (index: number) =>
      index === 2 || index === 3 ? secondPng : index === 5 ? Buffer.from("nope") : firstPng;
    for (const [index, recorded] of uploads.entries()) {
      const { image, ...fields } = recorded.request_multipart ?? { image: { filename: "" } };
      const reply = await uploadImage(sim, image.filename, bytesFor(index), fields as Record<string, string>);
      expect(reply, `upload ${index}`).toEqual({ status: recorded.status, json: recorded.response_json });
    }
  });
});

describe("GET /view and misc (view_and_misc_gets.json)", () => {
  const misc = loadTrace<{ http: RecordedHttp[] }>("view_and_misc_gets").http;

  it("serves inputs and refuses what is missing or outside the folders", async () => {
    await uploadImage(sim, "trace_input.png", firstPng, { overwrite: "true" });
    await uploadImage(sim, "trace_sub.png", secondPng, { overwrite: "true", subfolder: "agent_inputs" });
    for (const recorded of misc) {
      const query = recorded.query ? `?${new URLSearchParams(recorded.query)}` : "";
      const response = await fetch(`${sim.url}${recorded.path}${query}`);
      expect(response.status, recorded.path).toBe(recorded.status);
      if (recorded.response_json !== undefined) expect(await response.json()).toEqual(recorded.response_json);
    }
    const sub = await fetch(`${sim.url}/view?filename=trace_sub.png&subfolder=agent_inputs&type=input`);
    expect(Buffer.from(await sub.arrayBuffer())).toEqual(secondPng);
    expect((await fetch(`${sim.url}/view?filename=x.png&subfolder=../..&type=input`)).status).toBe(403);
  });
});

describe("GET /object_info", () => {
  const recorded = loadTrace<Record<string, unknown>>("object_info_used_nodes");

  it("describes the traced node classes as the recorded server did", async () => {
    for (const name of ["corrupt.png", "trace_input.png"]) await uploadImage(sim, name, firstPng);
    await uploadImage(sim, "trace_input.png", secondPng);
    for (const [name, info] of Object.entries(recorded).filter(([key]) => !key.startsWith("_"))) {
      expect(await getJson(sim, `/object_info/${name}`), name).toEqual({ [name]: info });
    }
    expect(await getJson(sim, "/object_info/NoSuchNode")).toEqual({});
    expect(Object.keys(await getJson(sim, "/object_info"))).toContain("KSampler");
  });
});

describe("queue and history", () => {
  const prompt = loadTrace("13").prompt_request;

  it("returns the last max_items history entries, oldest first", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push(await submitAs(sim, { ...prompt, prompt_id: `p${i}` }, undefined));
    await expect.poll(() => sim.queue().running.length + sim.queue().pending.length).toBe(0);
    expect(Object.keys(await getJson(sim, "/history?max_items=3"))).toEqual(ids.slice(1));
    expect(Object.keys(await getJson(sim, "/history"))).toEqual(ids);
  });

  it("clears the pending queue and broadcasts the new status", async () => {
    const hold = sim.holdNode("EmptyImage");
    const watcher = await WsRecorder.connect(sim.url);
    const running = await submitAs(sim, prompt, undefined);
    await hold.reached();
    await submitAs(sim, { ...prompt, prompt_id: "b" }, undefined);
    await submitAs(sim, { ...prompt, prompt_id: "c" }, undefined);
    expect((await getJson(sim, "/queue")).queue_pending).toHaveLength(2);
    const seen = watcher.frames.length;
    await postJson(sim, "/queue", { clear: true });
    expect(sim.queue()).toEqual({ running: [running], pending: [] });
    const cleared = await watcher.waitFor((f) => watcher.frames.indexOf(f) >= seen);
    expect(cleared).toEqual({
      kind: "text",
      type: "status",
      data: { status: { exec_info: { queue_remaining: 1 } } },
    });
    hold.release();
    await watcher.close();
  });
});
