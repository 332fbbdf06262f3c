import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { RunStatus } from "../../src/db/schema/runs";
import { RunRoom } from "../../src/durable/run-room";
import type { RunEventBody, RunSnapshot } from "../../src/lib/run-events";
import { progress as progressReport } from "../helpers/test-agent";

const snapshotOf = (runId: string, value: RunStatus, updatedAt = new Date()): RunSnapshot => ({
  run_id: runId,
  status: value,
  progress: null,
  outputs: null,
  error: null,
  attempt: 1,
  updated_at: updatedAt.toISOString(),
});
const status = (runId: string, value: RunStatus): RunEventBody => ({
  type: "status",
  data: snapshotOf(runId, value),
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

/** The numbers of the room's written events (none while its events table is not made). */
const written = (state: DurableObjectState) =>
  state.storage.sql.exec("SELECT 1 FROM sqlite_master WHERE name = 'events'").toArray().length
    ? state.storage.sql
        .exec<{ seq: number }>("SELECT seq FROM events ORDER BY seq")
        .toArray()
        .map((row) => row.seq)
    : [];

/**
 * Runs `steps` on the room's live instance, with its storage, in one turn of the object: nothing in it
 * waits on I/O, so the room's one-second write cannot come in between.
 */
const inRoom = <T>(
  room: DurableObjectStub<RunRoom>,
  steps: (live: RunRoom, state: DurableObjectState) => Promise<T>,
) => runInDurableObject(room, steps);

/** A restart: a new instance on the same storage, which knows only what was written. */
const restart = (state: DurableObjectState) => new RunRoom(state, env);

const warning: RunEventBody = { type: "warning", data: { code: "slow", message: "slow" } };

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
  it("replays a live run's progress, log and status events before they are written, and writes them by its end", async () => {
    const { runId, room } = newRoom();
    const before = await inRoom(room, async (live, state) => ({
      seqs: [
        await live.publish([status(runId, "running")]),
        await live.publish([progress(10), log("step"), progress(20)]),
        await live.publish([status(runId, "uploading")]),
      ],
      written: written(state),
      snapshot: (await live.state()).snapshot,
    }));
    expect(before).toMatchObject({ seqs: [1, 4, 5], written: [], snapshot: { status: "uploading" } });
    expect(await replayedSeqs(room, 0, 5)).toEqual([1, 2, 3, 4, 5]);

    expect(await room.publish([status(runId, "success")])).toBe(6);
    expect(await inRoom(room, async (_live, state) => written(state))).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it("writes a warning before anyone gets it, with the events ahead of it", async () => {
    const { runId, room } = newRoom();
    const seen = await inRoom(room, async (live, state) => {
      await live.publish([status(runId, "running"), progress(10), warning]);
      return written(state);
    });
    expect(seen).toEqual([1, 2, 3]);
  });

  it("writes when a live run's buffered events reach its numbering bound", async () => {
    const { runId, room } = newRoom();
    const steps = Array.from({ length: 63 }, (_, i) => progress(i + 1));
    const seen = await inRoom(room, async (live, state) => {
      const last = await live.publish([status(runId, "running"), ...steps]);
      const before = written(state);
      return { last, before, next: await live.publish([progress(99)]), after: written(state) };
    });
    expect(seen).toEqual({
      last: 64,
      before: [],
      next: 65,
      after: Array.from({ length: 65 }, (_, i) => i + 1),
    });
  });

  it("writes buffered events by themselves when nothing else comes", async () => {
    const { runId, room } = newRoom();
    await room.publish([status(runId, "running"), progress(50)]);
    const writtenNow = () => inRoom(room, async (_live, state) => written(state));
    for (let i = 0; i < 60 && (await writtenNow()).length < 2; i++)
      await new Promise((r) => setTimeout(r, 100));
    expect(await writtenNow()).toEqual([1, 2]);
  });

  it("never gives a number twice when a live run's room restarts with events unwritten, twice in a row", async () => {
    const { runId, room } = newRoom();
    const seqs = await inRoom(room, async (live, state) => {
      const seen = await live.publish([status(runId, "running"), progress(10), progress(20)]);
      const once = restart(state);
      const first = await once.publish([progress(30)]);
      const next = await once.publish([progress(40)]);
      return { seen, first, next, again: await restart(state).publish([progress(50)]) };
    });
    expect(seqs.first).toBeGreaterThan(seqs.seen);
    expect(seqs.again).toBeGreaterThan(seqs.next);
  });

  it("numbers a room's first event 1 when it was only subscribed to before it started again", async () => {
    const { runId, room } = newRoom();
    const first = await inRoom(room, async (live, state) => {
      await live.init(snapshotOf(runId, "not-started"));
      return restart(state).publish([status(runId, "queued")]);
    });
    expect(first).toBe(1);
  });

  it("numbers on without a gap when the room of an ended run starts again", async () => {
    const { runId, room } = newRoom();
    const last = await room.publish([status(runId, "running"), progress(90), status(runId, "success")]);
    const restarted = await inRoom(room, async (_live, state) => {
      const fresh = restart(state);
      return { before: (await fresh.state()).seq, next: await fresh.publish([log("late")]) };
    });
    expect(restarted).toEqual({ before: last, next: last + 1 });
  });

  it("numbers past a restart after its snapshot was mended and a second went by", async () => {
    const { runId, room } = newRoom();
    let restarted: RunRoom | undefined;
    await inRoom(room, async (live, state) => {
      await live.publish([status(runId, "queued"), warning]);
      restarted = restart(state);
      await restarted.init(snapshotOf(runId, "running"));
    });
    // Long enough for a write of the mended snapshot by itself, which would have moved the bound.
    await new Promise((r) => setTimeout(r, 1_100));
    const seqs = await inRoom(room, async (_live, state) => {
      const last = await restarted!.publish([progress(10), progress(20)]);
      const again = restart(state);
      const { snapshot } = await again.state();
      return { last, next: await again.publish([progress(30)]), written: snapshot?.status };
    });
    expect(seqs.next).toBeGreaterThan(seqs.last);
    // The mended snapshot went with the first event after the restart.
    expect(seqs.written).toBe("running");
  });

  it("takes a later move of the live run from a subscriber's read of its row after a restart lost it", async () => {
    const { runId, room } = newRoom();
    const seen = await inRoom(room, async (live, state) => {
      // A warning is written at once, and the running status with it; uploading is not.
      await live.publish([status(runId, "running"), warning]);
      await live.publish([status(runId, "uploading")]);
      const restarted = restart(state);
      const statusNow = async () => (await restarted.state()).snapshot?.status;
      const lost = await statusNow();
      await restarted.init(snapshotOf(runId, "queued"));
      const notRewound = await statusNow();
      await restarted.init(snapshotOf(runId, "success"));
      const endNotTakenEarly = await statusNow();
      await restarted.init(snapshotOf(runId, "uploading"));
      const mended = await statusNow();
      await restarted.init({ ...snapshotOf(runId, "not-started"), attempt: 2 });
      return { lost, notRewound, endNotTakenEarly, mended, nextAttempt: await statusNow() };
    });
    expect(seen).toEqual({
      lost: "running",
      notRewound: "running",
      endNotTakenEarly: "running",
      mended: "uploading",
      nextAttempt: "not-started",
    });
  });

  it("tells a waiter of the end when a room with no event is given an ended run's row", async () => {
    const { runId, room } = newRoom();
    const ended = await inRoom(room, async (live) => {
      const waiting = live.waitForEnd(5_000);
      await live.init(snapshotOf(runId, "success"));
      return waiting;
    });
    expect(ended?.status).toBe("success");
  });

  it("never replaces an ended run's snapshot", async () => {
    const { runId, room } = newRoom();
    await room.publish([status(runId, "running"), status(runId, "success")]);
    await room.init({ ...snapshotOf(runId, "queued"), attempt: 2 });
    const { snapshot } = await runInDurableObject(room, (r: RunRoom) => r.state());
    expect(snapshot?.status).toBe("success");
  });
});
