import { describe, expect, it } from "vitest";
import { createDeployment } from "../helpers/fixtures";
import { api } from "../helpers/http";
import { createMachine } from "../helpers/runs";
import { TestAgent } from "../helpers/test-agent";
import { createUser } from "../helpers/users";

async function queue(token: string, deploymentId: string) {
  const res = await api<{ run_id: string }>("/api/run/deployment/queue", {
    method: "POST",
    token,
    json: { deployment_id: deploymentId, inputs: {} },
  });
  if (res.status !== 200) throw new Error(`queue failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.run_id;
}

describe("deployments pinned to a machine", () => {
  it("run only on that machine, while other machines of the pool take unpinned work", async () => {
    const user = await createUser();
    const pinned = await createMachine(user);
    const other = await createMachine(user);
    const otherAgent = await TestAgent.connect(other.token);
    const deployment = await createDeployment(user, { machine_id: pinned.id });
    expect(deployment.machine_id).toBe(pinned.id);
    const runs = [await queue(user.apiKey, deployment.id), await queue(user.apiKey, deployment.id)];
    expect(otherAgent.all("job")).toEqual([]);
    const pinnedAgent = await TestAgent.connect(pinned.token);
    for (const runId of runs) {
      const job = await pinnedAgent.job(runId);
      await pinnedAgent.report(job, { kind: "succeeded", outputs: [] });
    }
    const machines = await Promise.all(
      runs.map(
        async (id) => (await api<{ machine_id: string }>(`/api/run/${id}`, { token: user.apiKey })).body,
      ),
    );
    expect(machines.map((r) => r.machine_id)).toEqual([pinned.id, pinned.id]);
    expect(otherAgent.all("job")).toEqual([]);
    otherAgent.close();
    pinnedAgent.close();
  });

  it("takes the machine's pool and refuses another tenant's or an unknown machine", async () => {
    const alice = await createUser("alice");
    const bob = await createUser("bob");
    const gpuBox = await createMachine(alice, "gpu");
    const deployment = await createDeployment(alice, { machine_id: gpuBox.id });
    expect(deployment.pool).toBe("gpu");
    const bobMachine = await createMachine(bob);
    for (const machine_id of [bobMachine.id, "no-such-machine"]) {
      const created = await api("/api/deployment", {
        method: "POST",
        token: alice.apiKey,
        json: { workflow_id: deployment.workflow_id, environment: "production", machine_id },
      });
      expect(created.status, machine_id).toBe(404);
      const updated = await api(`/api/deployment/${deployment.id}`, {
        method: "PATCH",
        token: alice.apiKey,
        json: { machine_id },
      });
      expect(updated.status, machine_id).toBe(404);
    }
    const mismatch = await api("/api/deployment", {
      method: "POST",
      token: alice.apiKey,
      json: {
        workflow_id: deployment.workflow_id,
        environment: "production",
        machine_id: gpuBox.id,
        pool: "cpu",
      },
    });
    expect(mismatch.status).toBe(400);
  });
});
