/// <reference types="vite/client" />
import { describe, expect, it } from "vitest";
import comfyDeployInputs from "../../fixtures/ui-workflows/comfydeploy_inputs.ui.json";
import loadInvertSaveApi from "../../fixtures/ui-workflows/load_invert_save.api.json";
import loadInvertSave from "../../fixtures/ui-workflows/load_invert_save.ui.json";
import { createDeployment } from "../helpers/fixtures";
import { api } from "../helpers/http";
import { eventually, reportDefinitions } from "../helpers/node-definitions";
import { TestAgent } from "../helpers/test-agent";
import { createUser, type TestUser } from "../helpers/users";

type ErrorBody = { error: string; details: { field?: string; code: string; message: string }[] };
type Created = { id: string; version: number; workflow_version_id: string };
type Version = {
  workflow: unknown;
  workflow_api: Record<string, { class_type: string; inputs: Record<string, unknown> }>;
};

const saveUi = (user: TestUser, workflow: unknown, extra: Record<string, unknown> = {}) =>
  api<Created & ErrorBody>("/api/workflow", {
    method: "POST",
    token: user.apiKey,
    json: { name: `ui-${crypto.randomUUID().slice(0, 6)}`, workflow, ...extra },
  });

describe("UI-format workflows", () => {
  it("refuses a UI-only workflow while no machine has reported node definitions", async () => {
    const user = await createUser();
    const res = await saveUi(user, loadInvertSave);
    expect(res.status).toBe(400);
    expect(res.body.details[0]).toMatchObject({ code: "NO_NODE_DEFINITIONS", field: "workflow" });
    expect(res.body.details[0]?.message).toMatch(/none of your machines has reported/);
  });

  it("saves a UI-only workflow with the API form derived from the fleet's definitions; GET has both", async () => {
    const user = await createUser();
    const { agent, machine, hash, hello } = await reportDefinitions(user);
    const created = await eventually(async () => {
      const res = await saveUi(user, loadInvertSave);
      return res.status === 201 ? res : undefined;
    }, "the definitions to be stored");
    const detail = await api<{ latest_version: Version }>(`/api/workflow/${created.body.id}`, {
      token: user.apiKey,
    });
    expect(detail.body.latest_version.workflow).toEqual(loadInvertSave);
    expect(detail.body.latest_version.workflow_api).toEqual(loadInvertSaveApi);

    // A reconnect names the same hash: the definitions are not asked for again.
    agent.close();
    const again = await TestAgent.open(machine.token);
    if (!again.agent) throw new Error("no agent socket");
    hello(again.agent);
    await again.agent.next("welcome");
    expect(again.agent.all("object_info_request")).toEqual([]);
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    again.agent.close();
  });

  it("names the node and reason of a conversion that cannot be done, as a 400", async () => {
    const user = await createUser();
    const { agent } = await reportDefinitions(user);
    await eventually(
      async () => ((await saveUi(user, loadInvertSave)).status === 201 ? true : undefined),
      "definitions",
    );
    const unknownClass = structuredClone(loadInvertSave);
    unknownClass.nodes[1]!.type = "ImageInvertDeluxe";
    const res = await saveUi(user, unknownClass);
    expect(res.status).toBe(400);
    expect(res.body.details[0]).toMatchObject({ code: "UNCONVERTIBLE_NODE", field: "workflow.nodes.2" });
    expect(res.body.details[0]?.message).toMatch(
      /Node 2 \(ImageInvertDeluxe\): no machine of this pool reports/,
    );
    const tooMany = structuredClone(loadInvertSave);
    tooMany.nodes[2]!.widgets_values = ["a", "b"];
    const bad = await saveUi(user, tooMany);
    expect(bad.status).toBe(400);
    expect(bad.body.details[0]?.message).toMatch(/Node 3 \(SaveImage\): it has 2 widget values/);
    agent.close();
  });

  it("does not convert with another tenant's definitions", async () => {
    const owner = await createUser();
    const { agent } = await reportDefinitions(owner);
    await eventually(
      async () => ((await saveUi(owner, loadInvertSave)).status === 201 ? true : undefined),
      "definitions",
    );
    const other = await createUser();
    const res = await saveUi(other, loadInvertSave);
    expect(res.status).toBe(400);
    expect(res.body.details[0]?.code).toBe("NO_NODE_DEFINITIONS");
    agent.close();
  });

  it("PATCH with a UI document appends a version derived from it; deployments read its external inputs", async () => {
    const user = await createUser();
    const { agent } = await reportDefinitions(user);
    const created = await eventually(async () => {
      const res = await saveUi(user, loadInvertSave);
      return res.status === 201 ? res : undefined;
    }, "definitions");
    const patched = await api<Created>(`/api/workflow/${created.body.id}`, {
      method: "PATCH",
      token: user.apiKey,
      json: { workflow: comfyDeployInputs },
    });
    expect(patched.status).toBe(200);
    expect(patched.body.version).toBe(2);
    const version = await api<Version>(`/api/workflow/${created.body.id}/version/2`, { token: user.apiKey });
    expect(version.body.workflow).toEqual(comfyDeployInputs);
    expect(version.body.workflow_api["1"]).toMatchObject({
      class_type: "ComfyUIDeployExternalText",
      inputs: { input_id: "prompt", default_value: "a lighthouse" },
    });
    const deployment = await createDeployment(user, { workflow_id: created.body.id });
    expect(deployment.input_types.map((i) => [i.input_id, i.type])).toEqual([
      ["prompt", "string"],
      ["photo", "image"],
    ]);
    agent.close();
  });

  it("runs a UI document on the raw-graph route, converted with the pool's definitions", async () => {
    const user = await createUser();
    const { agent } = await reportDefinitions(user, "gpu");
    const run = await eventually(async () => {
      const res = await api<{ execution_id: string }>("/api/workflows/execute", {
        method: "POST",
        token: user.apiKey,
        json: { workflow: loadInvertSave, pool: "gpu" },
      });
      return res.status === 200 ? res : undefined;
    }, "definitions");
    const job = await agent.job(run.body.execution_id);
    expect(job.graph).toEqual(loadInvertSaveApi);
    const otherPool = await api<ErrorBody>("/api/workflows/execute", {
      method: "POST",
      token: user.apiKey,
      json: { workflow: loadInvertSave, pool: "default" },
    });
    expect(otherPool.status).toBe(400);
    expect(otherPool.body.details[0]?.code).toBe("NO_NODE_DEFINITIONS");
    agent.close();
  });

  it("refuses definitions that do not match their hash, and asks again when a heartbeat names a new set", async () => {
    const user = await createUser();
    const { agent } = await reportDefinitions(user);
    const fresh = "f".repeat(64);
    agent.send({ type: "object_info", instance_id: "comfy-0", hash: fresh, definitions: { Fake: {} } });
    const error = await agent.next("error");
    expect(error).toMatchObject({ code: "invalid_message", message: expect.stringMatching(/do not match/) });
    await agent.heartbeat([], {
      instances: [{ id: "comfy-0", available: true, object_info_hash: fresh }],
    });
    const request = await agent.next("object_info_request", 1);
    expect(request).toEqual({ type: "object_info_request", instance_id: "comfy-0", hash: fresh });
    agent.close();
  });
});
