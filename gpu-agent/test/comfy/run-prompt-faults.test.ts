import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runPrompt } from "../../src/comfy/execution";
import { ComfySocket } from "../../src/comfy/socket";
import { type ComfyFixture, comfyFixture, FAST, saveGraph } from "./helpers/fixture";

let comfy: ComfyFixture;
beforeEach(async () => {
  comfy = await comfyFixture();
});
afterEach(() => comfy.close());

const run = (socket = comfy.socket) => runPrompt({ http: comfy.http, socket, graph: saveGraph(), ...FAST });

async function timed<T>(work: Promise<T>): Promise<{ value: T; ms: number }> {
  const started = Date.now();
  const value = await work;
  return { value, ms: Date.now() - started };
}

describe("runPrompt when ComfyUI fails", () => {
  it("ends with `unavailable` as soon as a crash shows (socket closed, connection refused)", async () => {
    const hold = comfy.sim.holdNode("ImageInvert");
    // A limit no test waits for: only the crash signals can end this run.
    const result = runPrompt({
      http: comfy.http,
      socket: comfy.socket,
      graph: saveGraph(),
      ...FAST,
      unreachableMs: 600_000,
    });
    await hold.reached();
    await comfy.sim.crash();
    expect(await result).toMatchObject({
      kind: "unavailable",
      message: expect.stringContaining("ComfyUI went down"),
    });
  });

  it("ends with `unavailable` soon after ComfyUI goes silent mid-run", async () => {
    const hold = comfy.sim.holdNode("ImageInvert");
    const result = run();
    await hold.reached();
    comfy.sim.goSilent();
    const { value, ms } = await timed(result);
    expect(value).toMatchObject({
      kind: "unavailable",
      message: expect.stringContaining("no answer within"),
    });
    expect(ms).toBeLessThan(3_000);
    comfy.sim.resume();
  });

  it("notices when a restarted ComfyUI has lost the prompt", async () => {
    const hold = comfy.sim.holdNode("ImageInvert");
    const result = run();
    await hold.reached();
    await comfy.sim.restart();
    expect(await result).toMatchObject({
      kind: "unavailable",
      message: expect.stringContaining("no longer knows"),
    });
  });

  it("carries on through a dropped WebSocket, back under the same client id", async () => {
    const hold = comfy.sim.holdNode("ImageInvert");
    const nodes: (string | null)[] = [];
    const result = runPrompt({
      http: comfy.http,
      socket: comfy.socket,
      graph: saveGraph(),
      ...FAST,
      onProgress: (p) => nodes.push(p.current_node),
    });
    await hold.reached();
    const changes: string[] = [];
    comfy.socket.subscribe((notice) => changes.push(notice.kind));
    comfy.sim.dropConnections();
    await expect
      .poll(() => changes.filter((kind) => kind === "closed" || kind === "open"))
      .toEqual(["closed", "open"]);
    hold.release();
    expect(await result).toMatchObject({ kind: "success", outputs: [{ filename: "out_00001_.png" }] });
    expect(comfy.sim.counters.wsConnections).toBe(2);
    // The node after the reconnect was still reported as it ran.
    expect(nodes).toContain("3");
  });

  it("follows a run by polling /history when no WebSocket is open", async () => {
    const closed = new ComfySocket({ baseUrl: comfy.sim.url });
    const result = await runPrompt({
      http: comfy.http,
      socket: closed,
      graph: saveGraph(),
      ...FAST,
      socketWaitMs: 20,
    });
    expect(result).toMatchObject({
      kind: "success",
      outputs: [{ filename: "out_00001_.png", subfolder: "test" }],
    });
  });

  it("cannot queue on a ComfyUI that is down", async () => {
    await comfy.sim.crash();
    expect(await run()).toMatchObject({ kind: "unavailable", promptId: null });
  });
});
