import { ComfyDeploy } from "comfydeploy";
import { describe, expect, it } from "vitest";
import { externalGraph } from "../helpers/graphs";
import { sharedWorker } from "./support/worker";

const worker = sharedWorker();

async function post<T>(path: string, token: string, body: unknown): Promise<T> {
  const res = await fetch(`${worker.url}${path}`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status !== 201) throw new Error(`POST ${path}: ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

describe("the comfydeploy SDK against the running Worker", () => {
  it("lists deployments, parsed by the SDK's own schemas", async () => {
    const user = await worker.createUser("sdk");
    const workflow = await post<{ id: string }>("/api/workflow", user.apiKey, {
      name: "SDK end-to-end",
      workflow_api: externalGraph,
    });
    const staging = await post<{ id: string }>("/api/deployment", user.apiKey, {
      workflow_id: workflow.id,
      environment: "staging",
    });
    const machine = await post<{ id: string }>("/api/machine/custom", user.apiKey, { name: "sdk-machine" });
    const production = await post<{ id: string }>("/api/deployment", user.apiKey, {
      workflow_id: workflow.id,
      environment: "production",
      machine_id: machine.id,
    });

    const sdk = new ComfyDeploy({ bearer: user.apiKey, serverURL: `${worker.url}/api` });
    const all = await sdk.deployments.list({});
    expect(all.map((d) => d.id)).toEqual([production.id, staging.id]);
    const [first] = all;
    expect(first?.createdAt).toBeInstanceOf(Date);
    expect(first?.workflow).toEqual({ id: workflow.id, name: "SDK end-to-end" });
    expect(first?.machineId).toBe(machine.id);
    expect(first?.inputTypes?.map((i) => [i.inputId, i.type, i.defaultValue])).toEqual([
      ["input_image", "image", null],
      ["prefix", "string", "invert"],
      ["seed", "integer", 42],
    ]);

    const onlyStaging = await sdk.deployments.list({ environment: "staging" });
    expect(onlyStaging.map((d) => d.id)).toEqual([staging.id]);

    const stranger = await worker.createUser("stranger");
    const theirs = new ComfyDeploy({ bearer: stranger.apiKey, serverURL: `${worker.url}/api` });
    expect(await theirs.deployments.list({})).toEqual([]);
  });
});
