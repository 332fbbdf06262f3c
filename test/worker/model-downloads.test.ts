import { describe, expect, it } from "vitest";
import { type ModelFile, modelsDigestInput, type ServerMessage } from "../../src/protocol/v1";
import { fetchWorker, readyFile } from "../helpers/files";
import { FleetSocket } from "../helpers/fleet-socket";
import { api } from "../helpers/http";
import { createMachine } from "../helpers/runs";
import { TestAgent } from "../helpers/test-agent";
import { createUser, type TestUser } from "../helpers/users";

type Download = Extract<ServerMessage, { type: "model_download" }>;
type Started = { downloads: { download_id: string; machine_id: string; status: string; sent: boolean }[] };
type Progress = {
  model_name: string;
  is_downloading: boolean;
  download_progress: number | null;
  is_available: boolean;
  downloads: {
    download_id: string;
    status: string;
    progress: number | null;
    error: string | null;
    source: unknown;
  }[];
};
type ErrorBody = {
  error: string;
  message: string;
  details: { field?: string; code: string }[];
  request_id: string;
};

const SHA = "b".repeat(64);
const URL_WITH_TOKEN = "https://models.example.com/sd/model.safetensors?token=secret";

async function sha256Hex(text: string) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

const download = (user: TestUser, name: string, query: Record<string, string>) =>
  api<Started & ErrorBody>(`/models/${encodeURIComponent(name)}/download?${new URLSearchParams(query)}`, {
    method: "POST",
    token: user.apiKey,
  });

const progressOf = (user: TestUser, name: string) =>
  api<Progress & ErrorBody>(`/api/models/${encodeURIComponent(name)}/download-progress`, {
    token: user.apiKey,
  });

/** A connected machine whose agent listed these model files. */
async function machineWith(user: TestUser, models: ModelFile[] = []) {
  const machine = await createMachine(user);
  const agent = await TestAgent.connect(machine.token);
  if (models.length > 0) {
    const hash = await sha256Hex(modelsDigestInput(models));
    agent.send({ type: "models", instance_id: "comfy-0", hash, models });
    await expect
      .poll(async () => (await api(`/api/models?machine_id=${machine.id}`, { token: user.apiKey })).body)
      .toMatchObject({ models: models.map((m) => ({ name: m.name })) });
  }
  return { machine, agent };
}

describe("model downloads onto machines", () => {
  it("sends a URL download to the target machine only, and follows its progress to the end", async () => {
    const user = await createUser();
    const target = await machineWith(user);
    const bystander = await machineWith(user);
    const fleet = await FleetSocket.open(user.apiKey, "/api/ws");

    const started = await download(user, "model.safetensors", {
      model_type: "checkpoint",
      download_url: URL_WITH_TOKEN,
      sha256: SHA.toUpperCase(),
      machine_id: target.machine.id,
      description: "SD 1.5",
    });
    expect(started.status).toBe(202);
    expect(started.body).toMatchObject({
      message: "Model download started",
      model_name: "model.safetensors",
      model_type: "checkpoint",
      downloads: [{ machine_id: target.machine.id, status: "pending", sent: true }],
    });
    const id = started.body.downloads[0]?.download_id as string;
    const sent = await target.agent.next("model_download");
    expect(sent).toEqual({
      type: "model_download",
      download_id: id,
      folder: "checkpoints",
      name: "model.safetensors",
      url: URL_WITH_TOKEN,
      sha256: SHA,
    } satisfies Download);

    target.agent.send({ type: "model_download_progress", download_id: id, bytes_done: 50, bytes_total: 200 });
    await fleet.until((m) => m.type === "model_download_progress", "progress event");
    const halfway = await progressOf(user, "model.safetensors");
    expect(halfway.body).toMatchObject({
      is_downloading: true,
      download_progress: 0.25,
      is_available: false,
    });
    // The source is shown without its query: the token stays private.
    expect(halfway.body.downloads[0]?.source).toEqual({
      url: "https://models.example.com/sd/model.safetensors",
    });

    target.agent.send({
      type: "model_download_result",
      download_id: id,
      status: "completed",
      sha256: SHA,
      size_bytes: 200,
    });
    const done = await fleet.until((m) => m.type === "model_download_completed", "completed event");
    expect(done.data).toMatchObject({
      downloadId: id,
      machineId: target.machine.id,
      progress: 1,
      sha256: SHA,
    });
    const finished = await progressOf(user, "model.safetensors");
    expect(finished.body).toMatchObject({ is_downloading: false, download_progress: 1, is_available: true });
    expect(finished.body.downloads).toEqual([expect.objectContaining({ status: "completed", progress: 1 })]);
    expect(bystander.agent.count("model_download")).toBe(0);
    for (const { agent } of [target, bystander]) agent.close();
    fleet.ws.close();
  });

  it("gives a machine that was offline its download when it connects, with a fresh signed URL for a stored file", async () => {
    const user = await createUser();
    const stored = await readyFile(user.apiKey, "weights", "application/octet-stream", "lora.safetensors");
    const machine = await createMachine(user);
    const started = await download(user, "lora.safetensors", { model_type: "lora", file_id: stored.file_id });
    expect(started.status).toBe(202);
    expect(started.body.downloads).toEqual([
      expect.objectContaining({ machine_id: machine.id, sent: false }),
    ]);

    const agent = await TestAgent.connect(machine.token);
    const sent = await agent.next("model_download");
    expect(sent).toMatchObject({ folder: "loras", name: "lora.safetensors" });
    expect(sent.url).toMatch(new RegExp(`/api/files/${stored.file_id}/content\\?expires=\\d+&sig=`));
    const fetched = await fetchWorker(sent.url.replace(/^https?:\/\/[^/]+/, ""), {
      headers: { Range: "bytes=2-" },
    });
    expect(fetched.status).toBe(206);
    expect(await fetched.text()).toBe("ights");

    agent.send({
      type: "model_download_result",
      download_id: sent.download_id,
      status: "failed",
      error: "disk full",
    });
    await expect
      .poll(async () => (await progressOf(user, "lora.safetensors")).body)
      .toMatchObject({ is_downloading: false, download_progress: null, is_available: false });
    const failed = await progressOf(user, "lora.safetensors");
    expect(failed.body.downloads).toEqual([
      expect.objectContaining({ status: "failed", error: "disk full" }),
    ]);
    agent.close();
  });

  it("shows a model as downloading in the list while a copy goes to another machine", async () => {
    const user = await createUser();
    const holder = await machineWith(user, [
      { folder: "checkpoints", name: "spread.safetensors", size_bytes: 8 },
    ]);
    const target = await machineWith(user);
    const started = await download(user, "spread.safetensors", {
      model_type: "checkpoint",
      download_url: URL_WITH_TOKEN,
      machine_id: target.machine.id,
    });
    const id = started.body.downloads[0]?.download_id as string;
    target.agent.send({ type: "model_download_progress", download_id: id, bytes_done: 2, bytes_total: 8 });
    await expect
      .poll(async () => (await api<{ models: unknown[] }>("/api/models", { token: user.apiKey })).body.models)
      .toEqual([
        expect.objectContaining({
          name: "spread.safetensors",
          is_downloading: true,
          download_progress: 0.25,
        }),
      ]);
    target.agent.send({ type: "model_download_result", download_id: id, status: "failed", error: "gone" });
    await expect
      .poll(async () => (await api("/api/models/spread.safetensors", { token: user.apiKey })).body)
      .toMatchObject({ is_downloading: false, download_progress: null });
    for (const { agent } of [holder, target]) agent.close();
  });

  it("sends a pool's download to each machine of that pool and to no other", async () => {
    const user = await createUser();
    const inPool = await Promise.all([createMachine(user, "gpu-a"), createMachine(user, "gpu-a")]);
    const agents = await Promise.all(inPool.map((m) => TestAgent.connect(m.token)));
    const outside = await machineWith(user);
    const started = await download(user, "pooled.safetensors", {
      model_type: "vae",
      download_url: URL_WITH_TOKEN,
      pool: "gpu-a",
    });
    expect(started.status).toBe(202);
    expect(started.body.downloads.map((d) => [d.machine_id, d.sent]).sort()).toEqual(
      inPool.map((m) => [m.id, true]).sort(),
    );
    const sent = await Promise.all(agents.map((agent) => agent.next("model_download")));
    expect(sent.map((m) => m.folder)).toEqual(["vae", "vae"]);
    expect(new Set(sent.map((m) => m.download_id)).size).toBe(2);
    expect(outside.agent.count("model_download")).toBe(0);
    for (const agent of [...agents, outside.agent]) agent.close();
  });

  it.each([
    ["no model_type", { download_url: URL_WITH_TOKEN }, "model_type"],
    ["no source", { model_type: "checkpoint" }, "download_url"],
    ["two sources", { model_type: "checkpoint", download_url: URL_WITH_TOKEN, file_id: "f" }, "download_url"],
    ["a file URL", { model_type: "checkpoint", download_url: "file:///etc/passwd" }, "download_url"],
    [
      "credentials in the URL",
      { model_type: "checkpoint", download_url: "https://u:p@example.com/m" },
      "download_url",
    ],
    ["a bad hash", { model_type: "checkpoint", download_url: URL_WITH_TOKEN, sha256: "abc" }, "sha256"],
    ["a bad type", { model_type: "../x", download_url: URL_WITH_TOKEN }, "model_type"],
    [
      "machine and pool",
      { model_type: "checkpoint", download_url: URL_WITH_TOKEN, machine_id: "m", pool: "p" },
      "machine_id",
    ],
  ])("refuses %s with the error envelope", async (_what, query, field) => {
    const user = await createUser();
    await createMachine(user);
    const res = await download(user, "model.safetensors", query);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: "validation_error", request_id: expect.any(String) });
    expect(JSON.stringify(res.body.details)).toContain(field);
  });

  it("refuses a name that leaves the folder, an unknown pool, and a tenant without machines", async () => {
    const user = await createUser();
    const traversal = await download(user, "../../etc/passwd", {
      model_type: "checkpoint",
      download_url: URL_WITH_TOKEN,
    });
    expect(traversal.status).toBe(400);
    const none = await download(user, "m.safetensors", {
      model_type: "checkpoint",
      download_url: URL_WITH_TOKEN,
    });
    expect(none.status).toBe(404);
    await createMachine(user);
    const pool = await download(user, "m.safetensors", {
      model_type: "checkpoint",
      download_url: URL_WITH_TOKEN,
      pool: "nowhere",
    });
    expect(pool.status).toBe(404);
    expect(pool.body.message).toBe("pool not found");
    expect((await progressOf(user, "never.safetensors")).status).toBe(404);
  });

  it("keeps another tenant out: our machines are 404 to it, our downloads invisible, our files unusable", async () => {
    const user = await createUser();
    const ours = await machineWith(user, [{ folder: "vae", name: "vae.safetensors", size_bytes: 10 }]);
    const stored = await readyFile(user.apiKey, "weights", "application/octet-stream");
    await download(user, "mine.safetensors", { model_type: "checkpoint", download_url: URL_WITH_TOKEN });
    const other = await createUser();
    await createMachine(other);

    const aimed = await download(other, "x.safetensors", {
      model_type: "checkpoint",
      download_url: URL_WITH_TOKEN,
      machine_id: ours.machine.id,
    });
    expect(aimed.status).toBe(404);
    expect(aimed.body.error).toBe("not_found");
    const theirFile = await download(other, "x.safetensors", {
      model_type: "checkpoint",
      file_id: stored.file_id,
    });
    expect(theirFile.status).toBe(400);
    expect((await progressOf(other, "mine.safetensors")).status).toBe(404);
    const deletion = await api(`/api/models/vae.safetensors?machine_id=${ours.machine.id}`, {
      method: "DELETE",
      token: other.apiKey,
    });
    expect(deletion.status).toBe(404);
    const cleanup = await api(`/api/models/disk-cleanup?budget_gb=1&machine_id=${ours.machine.id}`, {
      method: "POST",
      token: other.apiKey,
    });
    expect(cleanup.status).toBe(404);
    expect(ours.agent.count("model_delete") + ours.agent.count("model_cleanup")).toBe(0);
    ours.agent.close();
  });
});

describe("model deletion from disk", () => {
  it("asks the machines that have the file to delete it, and relays what they removed", async () => {
    const user = await createUser();
    const holder = await machineWith(user, [{ folder: "loras", name: "old.safetensors", size_bytes: 10 }]);
    const without = await machineWith(user, [{ folder: "loras", name: "other.safetensors", size_bytes: 10 }]);
    const fleet = await FleetSocket.open(user.apiKey, "/api/ws");

    const res = await api<{ request_id: string; machines: string[] }>(
      "/models/old.safetensors?model_type=lora",
      {
        method: "DELETE",
        token: user.apiKey,
      },
    );
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({
      model_name: "old.safetensors",
      model_type: "lora",
      machines: [holder.machine.id],
    });
    const sent = await holder.agent.next("model_delete");
    expect(sent).toEqual({
      type: "model_delete",
      request_id: res.body.request_id,
      folder: "loras",
      name: "old.safetensors",
    });
    holder.agent.send({
      type: "models_removed",
      request_id: sent.request_id,
      removed: [{ folder: "loras", name: "old.safetensors", size_bytes: 10 }],
      kept: [],
    });
    const removed = await fleet.until((m) => m.type === "models_removed", "removal event");
    expect(removed.data).toMatchObject({ machineId: holder.machine.id, requestId: res.body.request_id });
    expect(without.agent.count("model_delete")).toBe(0);
    expect(
      (await api("/api/models/nothing.safetensors", { method: "DELETE", token: user.apiKey })).status,
    ).toBe(404);
    for (const { agent } of [holder, without]) agent.close();
    fleet.ws.close();
  });

  it("sends a disk budget to every machine of the tenant for least-recently-used cleanup", async () => {
    const user = await createUser();
    const { machine, agent } = await machineWith(user);
    const res = await api<{ budget_bytes: number; machines: string[] }>(
      "/api/models/disk-cleanup?budget_gb=1.5",
      {
        method: "POST",
        token: user.apiKey,
      },
    );
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ budget_bytes: 1.5 * 2 ** 30, machines: [machine.id] });
    expect(await agent.next("model_cleanup")).toMatchObject({ budget_bytes: 1.5 * 2 ** 30 });
    const bad = await api<ErrorBody>("/api/models/disk-cleanup?budget_gb=-1", {
      method: "POST",
      token: user.apiKey,
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe("validation_error");
    agent.close();
  });
});
