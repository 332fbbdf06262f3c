import { appendFileSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { silentLogger } from "../../src/log";
import { Outbox, type OutboxEntry } from "../../src/outbox";

const entry = (n: number): OutboxEntry => ({
  instanceId: "comfy-0",
  message: {
    type: "report",
    event_id: `evt-${n}`,
    run_id: "run-1",
    lease_token: "lease-1",
    at: 1_700_000_000_000 + n,
    report: { kind: "log", level: "INFO", message: `line ${n}` },
  },
});

const ids = (outbox: Outbox) => outbox.pending().map((e) => e.message.event_id);

describe("Outbox", () => {
  it("keeps unacked entries in order across a reopen", async () => {
    const dir = mkdtempSync(join(tmpdir(), "outbox-"));
    const first = await Outbox.open(dir, silentLogger);
    for (const n of [1, 2, 3, 4]) await first.append(entry(n));
    expect(first.ack("evt-2")?.message.run_id).toBe("run-1");
    expect(first.ack("evt-2")).toBeUndefined();
    expect(ids(first)).toEqual(["evt-1", "evt-3", "evt-4"]);
    await first.close();

    const second = await Outbox.open(dir, silentLogger);
    expect(ids(second)).toEqual(["evt-1", "evt-3", "evt-4"]);
    expect(second.pending()[0]).toEqual(entry(1));
    await second.close();
  });

  it("keeps an in-memory entry out of the file, and its ack too, yet resends it until acked", async () => {
    const dir = mkdtempSync(join(tmpdir(), "outbox-"));
    const outbox = await Outbox.open(dir, silentLogger);
    await outbox.append(entry(1));
    await outbox.append(entry(2), "memory");
    await outbox.append(entry(3), "memory");
    expect(ids(outbox)).toEqual(["evt-1", "evt-2", "evt-3"]);
    expect(outbox.ack("evt-2")?.message.event_id).toBe("evt-2");
    expect(outbox.ack("evt-2")).toBeUndefined();
    const file = () => readFileSync(join(dir, "outbox.jsonl"), "utf8").trim().split("\n");
    expect(file().map((line) => JSON.parse(line))).toEqual([{ add: entry(1) }]);
    await outbox.compact();
    expect(file().map((line) => JSON.parse(line))).toEqual([{ add: entry(1) }]);
    expect(ids(outbox)).toEqual(["evt-1", "evt-3"]);
    await outbox.close();
    const reopened = await Outbox.open(dir, silentLogger);
    expect(ids(reopened)).toEqual(["evt-1"]);
    await reopened.close();
  });

  it("survives a torn last line and an ack that never reached the disk", async () => {
    const dir = mkdtempSync(join(tmpdir(), "outbox-"));
    const outbox = await Outbox.open(dir, silentLogger);
    await outbox.append(entry(1));
    await outbox.append(entry(2));
    appendFileSync(join(dir, "outbox.jsonl"), '{"add":{"message":{"type":"rep');
    // No close(): a crash. The handle is dropped with the process.
    const reopened = await Outbox.open(dir, silentLogger);
    expect(ids(reopened)).toEqual(["evt-1", "evt-2"]);
    await reopened.close();
  });

  it("compacts the file once acked lines pile up", async () => {
    const dir = mkdtempSync(join(tmpdir(), "outbox-"));
    const outbox = await Outbox.open(dir, silentLogger);
    const appended = Array.from({ length: 1050 }, (_, n) => outbox.append(entry(n)));
    await Promise.all(appended);
    for (let n = 0; n < 1049; n++) outbox.ack(`evt-${n}`);
    await outbox.append(entry(9999));
    const lines = readFileSync(join(dir, "outbox.jsonl"), "utf8").trim().split("\n");
    expect(lines.length).toBeLessThan(10);
    expect(ids(outbox)).toEqual(["evt-1049", "evt-9999"]);
    await outbox.close();
  });

  it("resolves appends in order: an in-memory entry waits for the fsync of the entry before it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "outbox-"));
    const outbox = await Outbox.open(dir, silentLogger);
    const resolved: string[] = [];
    const durable = outbox.append(entry(1)).then(() => resolved.push("evt-1"));
    const progress = outbox.append(entry(2), "memory").then(() => resolved.push("evt-2"));
    await Promise.all([durable, progress]);
    expect(resolved).toEqual(["evt-1", "evt-2"]);
    await outbox.close();
  });

  it("keeps what is appended and acked while a compaction rewrites the file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "outbox-"));
    const outbox = await Outbox.open(dir, silentLogger);
    for (const n of [1, 2, 3]) await outbox.append(entry(n));
    const compacting = outbox.compact();
    // Let the rewrite take its snapshot and go to the disk before the next lines come.
    await new Promise(setImmediate);
    const appended = [outbox.append(entry(4)), outbox.append(entry(5))];
    outbox.ack("evt-1");
    await Promise.all([compacting, ...appended]);
    // No close(): what a crash would leave.
    const reopened = await Outbox.open(dir, silentLogger);
    expect(ids(reopened)).toEqual(["evt-2", "evt-3", "evt-4", "evt-5"]);
    await reopened.close();
    await outbox.close();
  });

  it("waitUntilEmpty resolves on the last ack, or false after the timeout", async () => {
    const dir = mkdtempSync(join(tmpdir(), "outbox-"));
    const outbox = await Outbox.open(dir, silentLogger);
    expect(await outbox.waitUntilEmpty(10)).toBe(true);
    await outbox.append(entry(1));
    expect(await outbox.waitUntilEmpty(20)).toBe(false);
    const waiting = outbox.waitUntilEmpty(1000);
    outbox.ack("evt-1");
    expect(await waiting).toBe(true);
    await outbox.close();
  });
});
