import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { api, BASE } from "../helpers/http";
import { createMachine, executeRun } from "../helpers/runs";
import { progress, TestAgent } from "../helpers/test-agent";
import { createUser, type TestUser } from "../helpers/users";

type Lease = { run_id: string; lease_token: string };
type Frame = { type: string; seq?: number; data: Record<string, unknown> };

/** Bytes that start like a JPEG; the control plane relays them as they are. */
const jpeg = (marker: number) => new Uint8Array([0xff, 0xd8, 0xff, 0xe0, marker, 1, 2, 3, 0xff, 0xd9]);
const b64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));

function sendPreview(agent: TestAgent, job: Lease, bytes: Uint8Array, extra: Record<string, unknown> = {}) {
  agent.send({
    type: "preview",
    run_id: job.run_id,
    lease_token: job.lease_token,
    at: Date.now(),
    content_type: "image/jpeg",
    node_id: "3",
    data: b64(bytes),
    ...extra,
  });
}

async function fetchPreview(token: string, runId: string, viaQuery = false) {
  const url = `${BASE}/api/run/${runId}/preview${viaQuery ? `?token=${token}` : ""}`;
  const headers: Record<string, string> = viaQuery ? {} : { Authorization: `Bearer ${token}` };
  return exports.default.fetch(url, { headers });
}

/** Waits until the run's preview is the given bytes (previews are not acknowledged to the agent). */
async function previewBecomes(user: TestUser, runId: string, bytes: Uint8Array) {
  for (let i = 0; i < 500; i++) {
    const res = await fetchPreview(user.apiKey, runId);
    const body = new Uint8Array(await res.arrayBuffer());
    if (res.status === 200 && body.join() === bytes.join()) return res;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error("the preview never arrived");
}

async function subscribe(token: string, runId: string) {
  const res = await exports.default.fetch(`${BASE}/api/run/${runId}/ws`, {
    headers: { Upgrade: "websocket", Authorization: `Bearer ${token}` },
  });
  const ws = res.webSocket!;
  const frames: Frame[] = [];
  ws.addEventListener("message", (e) => {
    frames.push(JSON.parse(e.data as string));
  });
  ws.accept();
  return { ws, frames };
}

async function runningJob() {
  const user = await createUser();
  const agent = await TestAgent.connect((await createMachine(user)).token);
  const runId = await executeRun(user);
  const job = await agent.job(runId);
  await agent.report(job, { kind: "started" });
  return { user, agent, runId, job };
}

describe("live previews", () => {
  it("keeps the newest preview, serves it, and tells WebSocket subscribers", async () => {
    const { user, agent, runId, job } = await runningJob();
    const sub = await subscribe(user.apiKey, runId);
    expect((await api(`/api/run/${runId}/preview`, { token: user.apiKey })).status).toBe(404);

    sendPreview(agent, job, jpeg(1));
    await previewBecomes(user, runId, jpeg(1));
    sendPreview(agent, job, jpeg(2));
    const res = await previewBecomes(user, runId, jpeg(2));
    expect(res.headers.get("Content-Type")).toBe("image/jpeg");
    expect(res.headers.get("Cache-Control")).toBe("no-store");
    expect(res.headers.get("X-Preview-Node")).toBe("3");

    const notices = sub.frames.filter((f) => f.type === "preview");
    expect(notices.length).toBe(2);
    expect(notices[1]).toMatchObject({
      data: { run_id: runId, content_type: "image/jpeg", size: 10, url: `/api/run/${runId}/preview` },
    });
    // Not part of the numbered log: a resuming subscriber never counts them.
    expect(notices.every((f) => f.seq === undefined)).toBe(true);
    sub.ws.close();
    agent.close();
  });

  it("sends SSE subscribers a preview event without an id", async () => {
    const { user, agent, runId, job } = await runningJob();
    const res = await exports.default.fetch(`${BASE}/api/run/${runId}/events`, {
      headers: { Authorization: `Bearer ${user.apiKey}` },
    });
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    sendPreview(agent, job, jpeg(6));
    let text = "";
    while (!text.includes("event: preview")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    const block = text.slice(text.indexOf("event: preview")).split("\n\n")[0]!;
    expect(block).not.toMatch(/^id:/m);
    expect(JSON.parse(block.split("data: ")[1]!)).toMatchObject({ type: "preview", data: { run_id: runId } });
    await reader.cancel();
    agent.close();
  });

  it("works with a query token, and is a 404 for another tenant and for an unknown run", async () => {
    const { user, agent, runId, job } = await runningJob();
    sendPreview(agent, job, jpeg(7));
    await previewBecomes(user, runId, jpeg(7));
    expect((await fetchPreview(user.apiKey, runId, true)).status).toBe(200);
    const other = await createUser("other");
    const theirs = await api<{ error: string }>(`/api/run/${runId}/preview`, { token: other.apiKey });
    expect(theirs.status).toBe(404);
    expect(theirs.body.error).toBe("not_found");
    expect((await api(`/api/run/nope/preview`, { token: user.apiKey })).status).toBe(404);
    expect((await api(`/api/run/${runId}/preview`)).status).toBe(401);
    agent.close();
  });

  it("drops previews with a stale lease and after the run ended; never stores them as outputs", async () => {
    const { user, agent, runId, job } = await runningJob();
    sendPreview(agent, { run_id: runId, lease_token: "lease_not-the-one" }, jpeg(9));
    sendPreview(agent, job, jpeg(3));
    await previewBecomes(user, runId, jpeg(3));

    await agent.report(job, progress(100));
    await agent.report(job, { kind: "succeeded", outputs: [] });
    sendPreview(agent, job, jpeg(4));
    // A later, acknowledged message proves the late preview was handled (and refused) before it.
    await agent.report(job, { kind: "log", level: "INFO", message: "after the end" });
    expect(new Uint8Array(await (await fetchPreview(user.apiKey, runId)).arrayBuffer())).toEqual(jpeg(3));

    const run = await api<{ outputs: unknown[] }>(`/api/run/${runId}`, { token: user.apiKey });
    expect(run.body.outputs).toEqual([]);
    const files = await api<{ total: number }>(`/api/files?run_id=${runId}`, { token: user.apiKey });
    expect(files.body.total).toBe(0);
    agent.close();
  });

  it("refuses a malformed preview with an error message, and keeps the link", async () => {
    const { agent, job } = await runningJob();
    const errors = agent.count("error");
    sendPreview(agent, job, jpeg(5), { content_type: "text/html" });
    const error = await agent.next("error", errors);
    expect(error.code).toBe("invalid_message");
    expect(error.message).toContain("content_type");
    await agent.report(job, progress(50));
    agent.close();
  });
});
