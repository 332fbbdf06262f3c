import { describe, expect, it } from "vitest";
import { api } from "../helpers/http";
import { createMachine, executeRun } from "../helpers/runs";
import { TestAgent } from "../helpers/test-agent";
import { createUser } from "../helpers/users";

type Config = {
  healthCheck: { interval: number };
  leaseTtlMs: number;
  maxAttempts: number;
  defaultTimeoutMinutes: number | null;
  servers: { id: string; enabled: boolean }[];
  updatedAt: string | null;
};
type Envelope<T> = { code: number; data: T };

describe("seed 003 config", () => {
  it("reads the defaults, stores an update and reads it back as stored", async () => {
    const user = await createUser();
    const initial = await api<Envelope<Config>>("/api/config", { token: user.apiKey });
    expect(initial.body).toMatchObject({
      code: 200,
      data: { healthCheck: { interval: 10_000 }, leaseTtlMs: 30_000, maxAttempts: 3, updatedAt: null },
    });
    const update = {
      healthCheck: { interval: 5000 },
      leaseTtlMs: 20_000,
      maxAttempts: 5,
      defaultTimeoutMinutes: 15,
    };
    const put = await api<Envelope<Config>>("/api/config", {
      method: "PUT",
      token: user.apiKey,
      json: update,
    });
    expect(put.status).toBe(200);
    expect(put.body.data).toMatchObject({ ...update, updatedAt: expect.any(String) });
    const read = await api<Envelope<Config>>("/api/config", { token: user.apiKey });
    expect(read.body.data).toEqual(put.body.data);
  });

  it("applies the heartbeat interval and lease TTL to the pool's agents", async () => {
    const user = await createUser();
    const machine = await createMachine(user);
    await api("/api/config", {
      method: "PUT",
      token: user.apiKey,
      json: { healthCheck: { interval: 4000 }, leaseTtlMs: 12_000 },
    });
    const agent = await TestAgent.connect(machine.token);
    const welcome = await agent.next("welcome");
    expect(welcome).toMatchObject({ heartbeat_interval_ms: 4000, lease_ttl_ms: 12_000 });
    agent.close();
  });

  it("disables and enables whole machines through servers", async () => {
    const user = await createUser();
    const machine = await createMachine(user);
    const agent = await TestAgent.connect(machine.token);
    const put = await api<Envelope<Config>>("/api/config", {
      method: "PUT",
      token: user.apiKey,
      json: { servers: [{ id: machine.id, enabled: false }] },
    });
    expect(put.body.data.servers).toEqual([expect.objectContaining({ id: machine.id, enabled: false })]);
    const runId = await executeRun(user);
    expect(agent.all("job")).toHaveLength(0);
    await api("/api/config", {
      method: "PUT",
      token: user.apiKey,
      json: { servers: [{ id: machine.id, enabled: true }] },
    });
    expect((await agent.job(runId)).run_id).toBe(runId);
    agent.close();
  });

  it("validates, and refuses another tenant's machine", async () => {
    const alice = await createUser("alice");
    const bob = await createUser("bob");
    const aliceMachine = await createMachine(alice);
    const bad = [
      { healthCheck: { interval: 10 } },
      { leaseTtlMs: 5000 },
      { maxAttempts: 0 },
      { unknown: true },
      { servers: [{ id: "x" }] },
    ];
    for (const json of bad) {
      const res = await api("/api/config", { method: "PUT", token: bob.apiKey, json });
      expect(res.status, JSON.stringify(json)).toBe(400);
    }
    const foreign = await api("/api/config", {
      method: "PUT",
      token: bob.apiKey,
      json: { servers: [{ id: aliceMachine.id, enabled: false }] },
    });
    expect(foreign.status).toBe(404);
    const bobConfig = await api<Envelope<Config>>("/api/config", { token: bob.apiKey });
    expect(bobConfig.body.data.servers).toEqual([]);
    expect(bobConfig.body.data.updatedAt).toBeNull();
    expect((await api("/api/config")).status).toBe(401);
  });
});
