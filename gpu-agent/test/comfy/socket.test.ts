import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { SocketNotice } from "../../src/comfy/socket";
import { type ComfyFixture, comfyFixture, samplerGraph } from "./helpers/fixture";

let comfy: ComfyFixture;
beforeEach(async () => {
  comfy = await comfyFixture();
});
afterEach(() => comfy.close());

function collect(comfyFixture: ComfyFixture) {
  const notices: SocketNotice[] = [];
  comfyFixture.socket.subscribe((notice) => notices.push(notice));
  return notices;
}

describe("ComfySocket", () => {
  it("gets its prompt's events and type-4 previews naming the prompt", async () => {
    const notices = collect(comfy);
    const { prompt_id: promptId } = await comfy.http.submitPrompt(samplerGraph(3), {
      clientId: comfy.socket.clientId,
    });
    await expect
      .poll(() =>
        notices.some((n) => n.kind === "event" && n.event.type === "executing" && n.event.data.node === null),
      )
      .toBe(true);
    const previews = notices.flatMap((n) => (n.kind === "preview" ? [n.preview] : []));
    expect(previews.map((p) => [p.promptId, p.nodeId, p.mimeType])).toEqual(
      Array.from({ length: 3 }, () => [promptId, "3", "image/jpeg"]),
    );
    const types = notices.flatMap((n) => (n.kind === "event" ? [n.event.type] : []));
    expect(types).toEqual(
      expect.arrayContaining(["execution_start", "progress", "executed", "execution_success"]),
    );
  });

  it("reconnects by itself after ComfyUI restarts", async () => {
    const notices = collect(comfy);
    await comfy.sim.crash();
    await expect.poll(() => notices.some((n) => n.kind === "closed")).toBe(true);
    expect(comfy.socket.isOpen).toBe(false);
    await comfy.sim.restart();
    expect(await comfy.socket.waitOpen(2_000)).toBe(true);
    await expect
      .poll(() => notices.some((n) => n.kind === "event" && n.event.type === "status" && n.event.data.sid))
      .toBe(true);
  });

  it("drops a connection that goes silent", async () => {
    const notices = collect(comfy);
    comfy.sim.goSilent();
    const started = Date.now();
    await expect
      .poll(() => notices.find((n) => n.kind === "closed"), { timeout: 2_000 })
      .toEqual({
        kind: "closed",
        reason: "ComfyUI's WebSocket went silent",
      });
    expect(Date.now() - started).toBeLessThan(1_000);
    comfy.sim.resume();
    expect(await comfy.socket.waitOpen(2_000)).toBe(true);
  });
});
