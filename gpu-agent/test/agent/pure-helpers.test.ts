import { afterEach, describe, expect, it, vi } from "vitest";
import { AckMessage, type Progress } from "../../../src/protocol/v1";
import { backoffDelay, RECONNECT_BACKOFF } from "../../src/backoff";
import { isPublicAddress } from "../../src/inputs/public-address";
import { ackOf } from "../../src/link";
import { ProgressThrottle } from "../../src/progress-throttle";
import { parseNvidiaSmiCsv } from "../../src/system-info";

describe("parseNvidiaSmiCsv", () => {
  it("reads every GPU and leaves unreported fields out", () => {
    const csv = [
      "0, NVIDIA H100 80GB HBM3, GPU-5d1e7c0a-1111-2222-3333-444455556666, 81559, 1, 0, 31, 550.54.15",
      "1, NVIDIA A10G, GPU-abc, 23028, [N/A], [Not Supported], 40, 550.54.15",
      "",
    ].join("\n");
    expect(parseNvidiaSmiCsv(csv)).toEqual([
      {
        index: 0,
        name: "NVIDIA H100 80GB HBM3",
        uuid: "GPU-5d1e7c0a-1111-2222-3333-444455556666",
        memory_total_mb: 81559,
        memory_used_mb: 1,
        utilization_percent: 0,
        temperature_c: 31,
        driver_version: "550.54.15",
      },
      {
        index: 1,
        name: "NVIDIA A10G",
        uuid: "GPU-abc",
        memory_total_mb: 23028,
        memory_used_mb: undefined,
        utilization_percent: undefined,
        temperature_c: 40,
        driver_version: "550.54.15",
      },
    ]);
  });

  it("keeps a comma inside the name, skips junk, and handles CRLF", () => {
    const csv = "0, Odd, GPU, Name, GPU-1, 100, 2, 3, 4, 1.0\r\nNo devices were found\r\nx, y\r\n";
    const [gpu, ...rest] = parseNvidiaSmiCsv(csv);
    expect(gpu?.name).toBe("Odd, GPU, Name");
    expect(gpu?.uuid).toBe("GPU-1");
    expect(rest).toEqual([]);
    expect(parseNvidiaSmiCsv("")).toEqual([]);
  });
});

describe("ackOf", () => {
  it("takes exactly the acks AckMessage takes, and gives the same message", () => {
    const frames: unknown[] = [
      { type: "ack", event_id: "evt-1", status: "ok" },
      { type: "ack", event_id: "evt-2", status: "stale", extra: 1 },
      { type: "ack", event_id: "x".repeat(128), status: "ok" },
      { type: "ack", event_id: "x".repeat(129), status: "ok" },
      { type: "ack", event_id: "", status: "ok" },
      { type: "ack", event_id: 7, status: "ok" },
      { type: "ack", event_id: "evt-3", status: "done" },
      { type: "ack", event_id: "evt-4" },
      { type: "cancel", event_id: "evt-5", status: "ok" },
      ["ack"],
      null,
      "ack",
    ];
    for (const frame of frames) {
      const parsed = AckMessage.safeParse(frame);
      expect(ackOf(frame)).toEqual(parsed.success ? parsed.data : undefined);
    }
    expect(ackOf(frames[1])).toEqual({ type: "ack", event_id: "evt-2", status: "stale" });
  });
});

describe("backoffDelay", () => {
  it("grows exponentially up to the cap, with full jitter", () => {
    const policy = { baseMs: 500, capMs: 30_000 };
    expect(backoffDelay(0, policy, () => 0.999)).toBe(499);
    expect(backoffDelay(3, policy, () => 0.5)).toBe(2000);
    expect(backoffDelay(50, policy, () => 0.999)).toBe(29_970);
    expect(backoffDelay(50, policy, () => 0)).toBe(0);
  });

  it("reconnects to the control plane within 5 s after the first few tries, whatever the outage", () => {
    const delays = Array.from({ length: 40 }, (_, attempt) =>
      backoffDelay(attempt, RECONNECT_BACKOFF, () => 0.999),
    );
    expect(Math.max(...delays)).toBeLessThanOrEqual(5_000);
    expect(delays.slice(0, 3).every((delay) => delay < 1_000)).toBe(true);
  });
});

describe("isPublicAddress", () => {
  it("refuses private, loopback, link-local and mapped forms", () => {
    for (const address of [
      "127.0.0.1",
      "10.1.2.3",
      "172.16.0.1",
      "192.168.1.1",
      "169.254.169.254",
      "100.64.0.1",
      "0.0.0.0",
      "::1",
      "::",
      "fe80::1",
      "fd00::1",
      "::ffff:127.0.0.1",
      "::ffff:7f00:1",
      "[::1]",
      "not-an-ip",
    ]) {
      expect(isPublicAddress(address), address).toBe(false);
    }
  });

  it("accepts public addresses", () => {
    for (const address of ["1.1.1.1", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"]) {
      expect(isPublicAddress(address), address).toBe(true);
    }
  });
});

describe("ProgressThrottle", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  const progress = (percentage: number): Progress => ({
    percentage,
    nodes_done: 0,
    nodes_total: 1,
    current_node: null,
    step: null,
    total_steps: null,
    eta_seconds: null,
  });

  it("sends the first at once, then at most one per interval with the latest value", () => {
    vi.useFakeTimers();
    const sent: number[] = [];
    const throttle = new ProgressThrottle(250, (p) => sent.push(p.percentage));
    throttle.push(progress(1));
    throttle.push(progress(2));
    throttle.push(progress(3));
    expect(sent).toEqual([1]);
    vi.advanceTimersByTime(250);
    expect(sent).toEqual([1, 3]);
    vi.advanceTimersByTime(1000);
    expect(sent).toEqual([1, 3]);
    throttle.push(progress(4));
    expect(sent).toEqual([1, 3, 4]);
  });

  it("flush sends the held-back last value; dispose drops it", () => {
    vi.useFakeTimers();
    const sent: number[] = [];
    const throttle = new ProgressThrottle(250, (p) => sent.push(p.percentage));
    throttle.push(progress(1));
    throttle.push(progress(100));
    throttle.flush();
    expect(sent).toEqual([1, 100]);
    throttle.push(progress(7));
    throttle.dispose();
    vi.advanceTimersByTime(1000);
    expect(sent).toEqual([1, 100]);
  });
});
