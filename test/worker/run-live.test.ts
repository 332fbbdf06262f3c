import { runInDurableObject } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Dispatcher } from "../../src/durable/dispatcher";
import { dispatcherOf } from "../helpers/dispatcher";
import { api, BASE } from "../helpers/http";
import { createMachine, executeRun } from "../helpers/runs";
import { progress, TestAgent } from "../helpers/test-agent";
import { createUser } from "../helpers/users";

type Frame = { type: string; seq: number; data: { status?: string; percentage?: number } };

async function subscribe(token: string, runId: string, after?: number) {
  const query = after === undefined ? "" : `?after=${after}`;
  const res = await exports.default.fetch(`${BASE}/api/run/${runId}/ws${query}`, {
    headers: { Upgrade: "websocket", Authorization: `Bearer ${token}` },
  });
  const ws = res.webSocket!;
  const frames: Frame[] = [];
  let closed = false;
  ws.addEventListener("message", (e) => frames.push(JSON.parse(e.data as string)));
  ws.addEventListener("close", () => {
    closed = true;
  });
  ws.accept();
  return { ws, frames, isClosed: () => closed };
}

const until = async (check: () => boolean) => {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(check()).toBe(true);
};

/** A run whose job is on a connected agent. */
async function runOnAgent() {
  const user = await createUser();
  const agent = await TestAgent.connect((await createMachine(user)).token);
  const runId = await executeRun(user);
  return { user, agent, runId, job: await agent.job(runId) };
}

/** Each frame after the snapshot by what it says: a status by its status, anything else by its type. */
const eventNames = (frames: Frame[]) =>
  frames.slice(1).map((f) => (f.type === "status" ? f.data.status : f.type));

describe("run WebSocket", () => {
  it("sends a snapshot, then every event in order, and closes when the run ends", async () => {
    const { user, agent, runId, job } = await runOnAgent();
    const sub = await subscribe(user.apiKey, runId);
    await agent.report(job, { kind: "started" });
    for (const p of [10, 20, 30, 40, 50]) await agent.report(job, progress(p));
    await agent.report(job, { kind: "succeeded", outputs: [] });
    await until(sub.isClosed);
    expect(sub.frames[0]?.type).toBe("snapshot");
    const events = sub.frames.slice(1);
    const seqs = events.map((f) => f.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(events.filter((f) => f.type === "progress").map((f) => f.data.percentage)).toEqual([
      10, 20, 30, 40, 50,
    ]);
    expect(events.at(-1)).toMatchObject({ type: "status", data: { status: "success" } });
    agent.close();
  });

  it("keeps a run's events in order when its agent sends every report without waiting for acks", async () => {
    const { user, agent, runId, job } = await runOnAgent();
    const sub = await subscribe(user.apiKey, runId);
    const reports = [
      { kind: "accepted", prompt_id: "p-1" },
      { kind: "started" },
      ...[10, 20, 30].map((p) => progress(p)),
      { kind: "log", level: "INFO", message: "saving" },
      { kind: "uploading" },
      { kind: "succeeded", outputs: [], logs: [{ level: "INFO", message: "uploaded 0 output file(s)" }] },
    ];
    const ids = reports.map((report, i) => {
      const event_id = `burst-${i}-${crypto.randomUUID()}`;
      agent.send({ type: "report", event_id, run_id: runId, lease_token: job.lease_token, at: 0, report });
      return event_id;
    });
    const acks = await agent.until(() => {
      const found = ids.map((id) => agent.all("ack").find((a) => a.event_id === id));
      return found.every((a) => a !== undefined) ? found : undefined;
    }, "every ack");
    expect(acks.map((a) => a?.status)).toEqual(ids.map(() => "ok"));
    await until(sub.isClosed);
    expect(eventNames(sub.frames)).toEqual([
      "running",
      "progress",
      "progress",
      "progress",
      "log",
      "uploading",
      "log",
      "success",
    ]);
    const seqs = sub.frames.slice(1).map((f) => f.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    const run = await api<{ status: string; progress: number }>(`/api/run/${runId}`, { token: user.apiKey });
    expect(run.body).toMatchObject({ status: "success", progress: 1 });
    agent.close();
  });

  it("gives a subscriber of a run that has no status event yet the run's own snapshot", async () => {
    const user = await createUser();
    const runId = await executeRun(user);
    // No agent: the run waits, and its room holds only its warnings until a subscriber comes.
    const sub = await subscribe(user.apiKey, runId, 0);
    await until(() => sub.frames.length >= 1);
    expect(sub.frames[0]).toMatchObject({ type: "snapshot", data: { status: "not-started" } });
    const agent = await TestAgent.connect((await createMachine(user)).token);
    await agent.job(runId);
    await until(() => sub.frames.some((f) => f.type === "status"));
    expect(sub.frames.find((f) => f.type === "status")).toMatchObject({ data: { status: "queued" } });
    expect(sub.frames.filter((f) => f.type === "warning").length).toBeGreaterThan(0);
    sub.ws.close();
    agent.close();
  });

  it("replays what a reconnecting subscriber missed", async () => {
    const { user, agent, runId, job } = await runOnAgent();
    const first = await subscribe(user.apiKey, runId);
    await agent.report(job, { kind: "started" });
    await agent.report(job, progress(10));
    await until(() => first.frames.length >= 3);
    const lastSeen = first.frames.at(-1)!.seq;
    first.ws.close();
    await agent.report(job, progress(60));
    await agent.report(job, progress(90));
    const second = await subscribe(user.apiKey, runId, lastSeen);
    await agent.report(job, { kind: "succeeded", outputs: [] });
    await until(second.isClosed);
    const replayed = second.frames.slice(1);
    expect(replayed[0]?.seq).toBe(lastSeen + 1);
    expect(replayed.filter((f) => f.type === "progress").map((f) => f.data.percentage)).toEqual([60, 90]);
    const all = [...first.frames.slice(1), ...replayed].map((f) => f.seq);
    expect(all).toEqual(Array.from({ length: all.length }, (_, i) => all[0]! + i));
    agent.close();
  });

  it("applies a resent report once, and keeps in storage only those whose repeat would change something", async () => {
    const { user, agent, runId, job } = await runOnAgent();
    const sent = [
      ["start-1", { kind: "started" }],
      ["progress-1", progress(10)],
      ["log-1", { kind: "log", level: "INFO", message: "loading" }],
      ["progress-1", progress(10)],
      ["start-1", { kind: "started" }],
      ["log-1", { kind: "log", level: "INFO", message: "loading" }],
    ] as const;
    for (const [id, report] of sent) expect((await agent.report(job, report, id)).status).toBe("ok");
    const stored = await runInDurableObject(dispatcherOf(user.id), (_d: Dispatcher, state) =>
      state.storage.sql
        .exec<{ event_id: string }>(
          "SELECT event_id FROM seen_reports WHERE event_id IN ('start-1', 'progress-1', 'log-1')",
        )
        .toArray()
        .map((row) => row.event_id),
    );
    // A status move or progress applied again finds D1 already moved; a log line would be a second line.
    expect(stored).toEqual(["log-1"]);
    await agent.report(job, { kind: "succeeded", outputs: [] }, "done-1");
    expect((await agent.report(job, { kind: "succeeded", outputs: [] }, "done-1")).status).toBe("ok");

    const replay = await subscribe(user.apiKey, runId, 0);
    await until(replay.isClosed);
    const events = eventNames(replay.frames).filter((name) => name !== "warning");
    expect(events).toEqual(["queued", "running", "progress", "log", "success"]);
    const logs = await api<{ logs: { message: string }[] }>(`/api/workflows/${runId}/logs`, {
      token: user.apiKey,
    });
    expect(logs.body.logs.map((line) => line.message)).toEqual(["loading"]);
    agent.close();
  });

  it("accepts a token in the query for browsers, and refuses another tenant", async () => {
    const alice = await createUser("alice");
    const bob = await createUser("bob");
    const runId = await executeRun(alice);
    const ok = await exports.default.fetch(`${BASE}/api/run/${runId}/ws?token=${alice.apiKey}`, {
      headers: { Upgrade: "websocket" },
    });
    expect(ok.status).toBe(101);
    ok.webSocket!.accept();
    ok.webSocket!.close();
    const denied = await api(`/api/run/${runId}/ws?token=${bob.apiKey}`, {
      headers: { Upgrade: "websocket" },
    });
    expect(denied.status).toBe(404);
  });
});

describe("run events (SSE)", () => {
  it("replays from Last-Event-ID and ends with the run", async () => {
    const { user, agent, runId, job } = await runOnAgent();
    await agent.report(job, { kind: "started" });
    await agent.report(job, progress(25));
    await agent.report(job, { kind: "succeeded", outputs: [] });
    const res = await exports.default.fetch(`${BASE}/api/run/${runId}/events`, {
      headers: { Authorization: `Bearer ${user.apiKey}`, "Last-Event-ID": "1" },
    });
    expect(res.headers.get("Content-Type")).toBe("text/event-stream");
    const text = await res.text();
    const ids = [...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
    expect(ids[0]).toBe(2);
    expect(text).toContain('"status":"success"');
    agent.close();
  });
});
