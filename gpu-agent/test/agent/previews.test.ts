import { afterEach, describe, expect, it, vi } from "vitest";
import type { PreviewMessage } from "../../../src/protocol/v1";
import type { PreviewImage } from "../../src/comfy/preview-frames";
import { PreviewRelay } from "../../src/previews";
import { type Harness, imageGraph, jobMessage, startHarness } from "./helpers/harness";

const lease = (run_id: string) => ({ run_id, lease_token: `lease-${run_id}` });
const image = (marker: number, mimeType = "image/jpeg"): PreviewImage => ({
  mimeType,
  image: new Uint8Array([0xff, 0xd8, marker]),
  nodeId: "2",
});

function fakeLink() {
  const sent: PreviewMessage[] = [];
  return {
    sent,
    bufferedAmount: 0,
    sendLatest(_key: string, message: PreviewMessage) {
      sent.push(message);
      return true;
    },
  };
}

const markers = (sent: PreviewMessage[]) => sent.map((m) => Buffer.from(m.data, "base64")[2]);

describe("PreviewRelay", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("sends at most one preview per run per interval, and the newest one wins", () => {
    vi.useFakeTimers();
    const link = fakeLink();
    const relay = new PreviewRelay(link, { intervalMs: 500, now: () => Date.now() });
    relay.push(lease("a"), image(1));
    relay.push(lease("a"), image(2));
    relay.push(lease("a"), image(3));
    relay.push(lease("b"), image(9));
    expect(markers(link.sent)).toEqual([1, 9]);
    vi.advanceTimersByTime(500);
    expect(markers(link.sent)).toEqual([1, 9, 3]);
    expect(link.sent[2]).toMatchObject({
      type: "preview",
      run_id: "a",
      lease_token: "lease-a",
      content_type: "image/jpeg",
      node_id: "2",
    });
    relay.push(lease("a"), image(4));
    relay.forget("a");
    vi.advanceTimersByTime(1000);
    expect(markers(link.sent)).toEqual([1, 9, 3]);
  });

  it("drops previews it cannot send at once, of unknown types, or too large", () => {
    const link = fakeLink();
    const relay = new PreviewRelay(link, { intervalMs: 0, maxBufferedBytes: 100 });
    link.bufferedAmount = 101;
    relay.push(lease("a"), image(1));
    link.bufferedAmount = 0;
    relay.push(lease("a"), image(2, "image/bmp"));
    relay.push(lease("a"), { mimeType: "image/png", image: new Uint8Array(600 * 1024) });
    relay.push(lease("a"), image(3, "image/png"));
    expect(markers(link.sent)).toEqual([3]);
  });
});

describe("previews from a real run", () => {
  let h: Harness;
  afterEach(async () => {
    await h?.close();
  });

  it("relays the sampler's previews, throttled, before the run succeeds", async () => {
    h = await startHarness();
    h.sim.setStepMs(100);
    const job = jobMessage(imageGraph());
    const started = Date.now();
    h.mock.send(job);
    await h.mock.untilReport(job.run_id, "succeeded", 15_000);
    const elapsedS = (Date.now() - started) / 1000;

    const previews = h.mock.all("preview");
    expect(previews.length).toBeGreaterThanOrEqual(1);
    // 8 sampler steps, each with a preview: at most 2 a second get through.
    expect(previews.length).toBeLessThanOrEqual(Math.ceil(elapsedS * 2) + 1);
    for (const preview of previews) {
      expect(preview).toMatchObject({
        run_id: job.run_id,
        lease_token: job.lease_token,
        content_type: "image/jpeg",
      });
      expect([...Buffer.from(preview.data, "base64").subarray(0, 2)]).toEqual([0xff, 0xd8]);
    }
    const order = h.mock.received.map((m) => (m.type === "report" ? m.report.kind : m.type));
    expect(order.lastIndexOf("preview")).toBeLessThan(order.indexOf("succeeded"));
  });
});
