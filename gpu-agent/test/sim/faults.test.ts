import { afterEach, beforeEach, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { type ComfySimulator, startComfySimulator } from "../../sim/simulator";
import { getJson, settle, submitAs } from "./helpers/sim-client";
import { loadTrace } from "./helpers/traces";
import { uploadImage } from "./helpers/uploads";
import { WsRecorder } from "./helpers/ws-recorder";

let sim: ComfySimulator;
beforeEach(async () => {
  sim = await startComfySimulator({ stepMs: 2 });
});
afterEach(() => sim.close());

const prompt = loadTrace("13").prompt_request;

describe("crash and restart", () => {
  it("closes every socket and stops listening; a restart comes back empty on the same port", async () => {
    await uploadImage(sim, "kept.png", Buffer.from("bytes on disk"));
    const hold = sim.holdNode("ImageInvert");
    const socket = await WsRecorder.connect(sim.url);
    const promptId = await submitAs(sim, prompt, socket.clientId);
    await hold.reached();
    await sim.crash();
    await socket.closed();
    await expect(fetch(`${sim.url}/queue`)).rejects.toThrow();

    await sim.restart();
    expect(await getJson(sim, "/queue")).toEqual({ queue_running: [], queue_pending: [] });
    expect(await getJson(sim, `/history/${promptId}`)).toEqual({});
    const kept = await fetch(`${sim.url}/view?filename=kept.png&type=input`);
    expect(await kept.text()).toBe("bytes on disk");
    expect(sim.counters.prompts).toBe(1);
    const reply = await fetch(`${sim.url}/prompt`, { method: "POST", body: JSON.stringify(prompt) });
    expect(await reply.json()).toMatchObject({ number: 0 });
  });
});

describe("going silent", () => {
  it("holds requests, upgrades and messages until resumed", async () => {
    const watcher = await WsRecorder.connect(sim.url);
    await watcher.waitForCount(2);
    sim.goSilent();
    await expect(fetch(`${sim.url}/queue`, { signal: AbortSignal.timeout(150) })).rejects.toThrow();
    const held = fetch(`${sim.url}/prompt`, { method: "POST", body: JSON.stringify(prompt) });

    const late = new WebSocket(`${sim.url.replace("http", "ws")}/ws`);
    const opened = new Promise((resolve) => late.once("open", resolve));
    await settle(100);
    expect(late.readyState).toBe(WebSocket.CONNECTING);
    expect(watcher.types()).toEqual(["client:connected", "status"]);

    sim.resume();
    expect((await held).status).toBe(200);
    await watcher.waitFor((f) => f.kind === "text" && f.type === "status" && f.data.sid === undefined);
    await opened;
    late.terminate();
    await watcher.close();
  });

  it("stops answering pings", async () => {
    const socket = new WebSocket(`${sim.url.replace("http", "ws")}/ws`);
    await new Promise((resolve) => socket.once("open", resolve));
    const pong = () => new Promise((resolve) => socket.once("pong", () => resolve("pong")));
    socket.ping();
    expect(await pong()).toBe("pong");
    sim.goSilent();
    socket.ping();
    expect(await Promise.race([pong(), settle(100).then(() => "silence")])).toBe("silence");
    sim.resume();
    socket.terminate();
  });
});
