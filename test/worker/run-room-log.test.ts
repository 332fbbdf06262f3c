import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { RunStatus } from "../../src/db/schema/runs";
import { RunRoom } from "../../src/durable/run-room";
import type { RunEventBody } from "../../src/lib/run-events";
import { progress as progressReport } from "../helpers/test-agent";

const status = (runId: string, value: RunStatus): RunEventBody => ({
  type: "status",
  data: {
    run_id: runId,
    status: value,
    progress: null,
    outputs: null,
    error: null,
    attempt: 1,
    updated_at: new Date().toISOString(),
  },
});
const progress = (percentage: number): RunEventBody => ({
  type: "progress",
  data: progressReport(percentage).progress,
});
const log = (message: string): RunEventBody => ({ type: "log", data: { level: "info", message } });

function newRoom() {
  const runId = `run-${crypto.randomUUID()}`;
  return { runId, room: env.RUN_ROOM.getByName(runId) };
}

const writtenSeqs = (room: DurableObjectStub<RunRoom>) =>
  runInDurableObject(room, (_r: RunRoom, state) =>
    state.storage.sql
      .exec<{ seq: number }>("SELECT seq FROM events ORDER BY seq")
      .toArray()
      .map((row) => row.seq),
  );

/** The numbers of the events replayed to a subscriber resuming after `after`, once `count` have come. */
async function replayedSeqs(room: DurableObjectStub<RunRoom>, after: number, count: number) {
  const res = await room.fetch(`https://run-room/ws?after=${after}`, { headers: { Upgrade: "websocket" } });
  const ws = res.webSocket!;
  const seqs: number[] = [];
  ws.addEventListener("message", (e) => {
    const frame = JSON.parse(e.data as string) as { type: string; seq: number };
    if (frame.type !== "snapshot") seqs.push(frame.seq);
  });
  ws.accept();
  for (let i = 0; i < 300 && seqs.length < count; i++) await new Promise((r) => setTimeout(r, 10));
  ws.close();
  return seqs;
}

describe("a run's event log", () => {
  it("replays progress and log events before they are written, and writes them with the next status", async () => {
    const { runId, room } = newRoom();
    expect(await room.publish([status(runId, "running")])).toBe(1);
    expect(await room.publish([progress(10), log("step"), progress(20)])).toBe(4);
    expect(await writtenSeqs(room)).toEqual([1]);
    expect(await replayedSeqs(room, 0, 4)).toEqual([1, 2, 3, 4]);
    const { snapshot } = await runInDurableObject(room, (r: RunRoom) => r.state());
    expect(snapshot?.progress).toMatchObject({ percentage: 20 });

    expect(await room.publish([status(runId, "uploading")])).toBe(5);
    expect(await writtenSeqs(room)).toEqual([1, 2, 3, 4, 5]);
  });

  it("writes when a live run's buffered events reach its numbering bound", async () => {
    const { runId, room } = newRoom();
    await room.publish([status(runId, "running")]);
    const steps = Array.from({ length: 64 }, (_, i) => progress(i + 1));
    expect(await room.publish(steps)).toBe(65);
    expect(await writtenSeqs(room)).toEqual([1]);
    expect(await room.publish([progress(99)])).toBe(66);
    expect(await writtenSeqs(room)).toEqual(Array.from({ length: 66 }, (_, i) => i + 1));
  });

  it("writes buffered events by themselves when nothing else comes", async () => {
    const { runId, room } = newRoom();
    await room.publish([status(runId, "running"), progress(50)]);
    expect(await writtenSeqs(room)).toEqual([1]);
    for (let i = 0; i < 60 && (await writtenSeqs(room)).length < 2; i++)
      await new Promise((r) => setTimeout(r, 100));
    expect(await writtenSeqs(room)).toEqual([1, 2]);
  });

  it("never gives a number twice when a live run's room restarts with events unwritten", async () => {
    const { runId, room } = newRoom();
    await room.publish([status(runId, "running")]);
    const seen = await room.publish([progress(10), progress(20), progress(30)]);
    const next = await runInDurableObject(room, (_r: RunRoom, state) =>
      new RunRoom(state, env).publish([status(runId, "success")]),
    );
    expect(next).toBeGreaterThan(seen);
  });

  it("numbers on without a gap when the room of an ended run starts again", async () => {
    const { runId, room } = newRoom();
    const last = await room.publish([status(runId, "running"), progress(90), status(runId, "success")]);
    const restarted = await runInDurableObject(room, async (_r: RunRoom, state) => {
      const fresh = new RunRoom(state, env);
      return { before: (await fresh.state()).seq, next: await fresh.publish([log("late")]) };
    });
    expect(restarted).toEqual({ before: last, next: last + 1 });
  });
});
