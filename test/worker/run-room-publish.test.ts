import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { RunEventOrder } from "../../src/durable/run-room/ordered-publish";

const log = (message: string) => ({ type: "log" as const, data: { level: "info" as const, message } });

describe("a Durable Object's run events, in order", () => {
  it("sends them in the order published, and what is published meanwhile in one call", async () => {
    const order = new RunEventOrder(env);
    const runId = `run-${crypto.randomUUID()}`;
    // The first call leaves at once; the next two wait for it and leave together.
    const seqs = await Promise.all([
      order.publish(runId, [log("a")]),
      order.publish(runId, [log("b")]),
      order.publish(runId, [log("c"), log("d")]),
    ]);
    expect(seqs).toEqual([1, 4, 4]);
    expect(await order.publish(runId, [log("e")])).toBe(5);
  });

  it("keeps each run's order apart from another run's", async () => {
    const order = new RunEventOrder(env);
    const [one, two] = [`run-${crypto.randomUUID()}`, `run-${crypto.randomUUID()}`];
    const seqs = await Promise.all([
      order.publish(one, [log("1a")]),
      order.publish(two, [log("2a")]),
      order.publish(one, [log("1b")]),
    ]);
    expect(seqs).toEqual([1, 1, 2]);
  });

  it("lets the next batch go when one fails", async () => {
    const order = new RunEventOrder(env);
    const runId = `run-${crypto.randomUUID()}`;
    const first = order.publish(runId, [log("first")]);
    // An event the room cannot store (JSON has no BigInt) fails the call it is in.
    const bad = order.publish(runId, [{ type: "log", data: { level: "info", message: 1n } } as never]);
    await expect(first).resolves.toBe(1);
    await expect(bad).rejects.toThrow();
    expect(await order.publish(runId, [log("after")])).toBe(2);
  });
});
