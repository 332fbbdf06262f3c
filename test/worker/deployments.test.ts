import { env } from "cloudflare:workers";
import { DeploymentModel$inboundSchema } from "comfydeploy/models/components/index.js";
import { describe, expect, it } from "vitest";
import { createDb } from "../../src/db/client";
import { AppError } from "../../src/lib/errors";
import { resolveDeploymentForRun } from "../../src/services/deployments";
import {
  type CreatedDeployment,
  createDeployment,
  createWorkflow,
  externalGraph,
  invertGraph,
} from "../helpers/fixtures";
import { api } from "../helpers/http";
import { createMachine } from "../helpers/runs";
import { createUser } from "../helpers/users";

type Deployment = CreatedDeployment & {
  status: string;
  is_fluid: boolean;
  workflow: { id: string; name: string };
};
type Inputs = {
  version: number;
  inputs: { input_id: string; type: string; binding: string; node_id: string }[];
};
type Event = { kind: string; from_version_id: string | null; to_version_id: string | null; changes: unknown };
type ErrorBody = { error: string; details: { field?: string; code: string }[] };

const v2Graph = {
  ...externalGraph,
  "6": { class_type: "ComfyUIDeployExternalBoolean", inputs: { input_id: "hd", default_value: false } },
};

describe("POST /api/deployment", () => {
  it("pins the current version with defaults and the SDK's required fields", async () => {
    const user = await createUser();
    const wf = await createWorkflow(user, externalGraph, { name: "External" });
    const res = await api<Deployment>("/api/deployment", {
      method: "POST",
      token: user.apiKey,
      json: { workflow_id: wf.id },
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      name: "External",
      environment: "production",
      pool: "default",
      machine_id: "",
      is_fluid: true,
      is_active: true,
      status: "active",
      version: 1,
      workflow_id: wf.id,
      workflow_version_id: wf.workflow_version_id,
      workflow: { id: wf.id, name: "External" },
    });
    expect(res.body.input_types.map((i) => [i.input_id, i.type, i.default_value, i.required])).toEqual([
      ["input_image", "image", null, true],
      ["prefix", "string", "invert", false],
      ["seed", "integer", 42, false],
    ]);
    expect(DeploymentModel$inboundSchema.safeParse(res.body).success).toBe(true);
  });

  it("pins a version by number, by id or by seed 002's version_id, with explicit bindings", async () => {
    const user = await createUser();
    const wf = await createWorkflow(user, invertGraph);
    await api(`/api/workflow/${wf.id}`, {
      method: "PATCH",
      token: user.apiKey,
      json: { workflow_api: v2Graph },
    });
    const machine = await createMachine(user, "gpu-a100");
    const byNumber = await createDeployment(user, {
      workflow_id: wf.id,
      version: 1,
      environment: "staging",
      pool: "gpu-a100",
      machine_id: machine.id,
      inputs: [{ input_id: "image", node_id: "1", input_name: "image" }],
    });
    expect(byNumber).toMatchObject({
      version: 1,
      environment: "staging",
      pool: "gpu-a100",
      machine_id: machine.id,
    });
    expect(byNumber.input_types).toEqual([expect.objectContaining({ input_id: "image", type: "image" })]);
    const byId = await createDeployment(user, {
      workflow_id: wf.id,
      workflow_version_id: wf.workflow_version_id,
    });
    expect(byId.version).toBe(1);
    const latest = await createDeployment(user, { workflow_id: wf.id });
    const byAlias = await createDeployment(user, {
      workflow_id: wf.id,
      version_id: latest.workflow_version_id,
    });
    expect([latest.version, byAlias.version]).toEqual([2, 2]);
  });

  it("rejects bad bodies, unknown workflows and bad bindings", async () => {
    const user = await createUser();
    const wf = await createWorkflow(user, externalGraph);
    const post = (json: unknown) =>
      api<ErrorBody>("/api/deployment", { method: "POST", token: user.apiKey, json });
    const malformed = await api("/api/deployment", {
      method: "POST",
      token: user.apiKey,
      body: "{",
      headers: { "Content-Type": "application/json" },
    });
    expect(malformed.status).toBe(400);
    expect((await post({})).body.details[0]).toMatchObject({ field: "workflow_id", code: "REQUIRED_FIELD" });
    expect((await post({ workflow_id: wf.id, environment: "prod" })).body.details[0]?.field).toBe(
      "environment",
    );
    expect((await post({ workflow_id: crypto.randomUUID() })).status).toBe(404);
    expect((await post({ workflow_id: wf.id, version: 5 })).status).toBe(404);
    const other = await createWorkflow(user);
    expect((await post({ workflow_id: wf.id, workflow_version_id: other.workflow_version_id })).status).toBe(
      404,
    );
    const bad = await post({
      workflow_id: wf.id,
      inputs: [{ input_id: "x", node_id: "42", input_name: "y" }],
    });
    expect(bad.status).toBe(400);
    expect(bad.body.details[0]?.field).toBe("inputs.0.node_id");
    const big = await post({ workflow_id: wf.id, description: "x".repeat(70_000) });
    expect(big.status).toBe(413);
  });
});

describe("GET /api/deployments", () => {
  it("is a bare array the SDK parses, newest first, filtered by environment and is_fluid", async () => {
    const user = await createUser();
    const prod = await createDeployment(user, { environment: "production" });
    const machine = await createMachine(user);
    const staging = await createDeployment(user, { environment: "staging", machine_id: machine.id });
    const all = await api<Deployment[]>("/api/deployments", { token: user.apiKey });
    expect(all.status).toBe(200);
    expect(all.body.map((d) => d.id)).toEqual([staging.id, prod.id]);
    for (const d of all.body) expect(DeploymentModel$inboundSchema.safeParse(d).success).toBe(true);
    const onlyStaging = await api<Deployment[]>("/api/deployments?environment=staging", {
      token: user.apiKey,
    });
    expect(onlyStaging.body.map((d) => d.id)).toEqual([staging.id]);
    const fluid = await api<Deployment[]>("/api/deployments?is_fluid=true", { token: user.apiKey });
    expect(fluid.body.map((d) => d.id)).toEqual([prod.id]);
    expect((await api("/api/deployments?environment=nope", { token: user.apiKey })).status).toBe(400);
  });
});

describe("updating a deployment", () => {
  it("records a promotion and derives the input spec again", async () => {
    const user = await createUser();
    const wf = await createWorkflow(user, externalGraph);
    const dep = await createDeployment(user, { workflow_id: wf.id });
    const v2 = await api<{ workflow_version_id: string }>(`/api/workflow/${wf.id}`, {
      method: "PATCH",
      token: user.apiKey,
      json: { workflow_api: v2Graph },
    });
    const patch = (json: unknown) =>
      api<Deployment>(`/api/deployment/${dep.id}`, { method: "PATCH", token: user.apiKey, json });
    const promoted = await patch({ version: 2 });
    expect(promoted.status).toBe(200);
    expect(promoted.body).toMatchObject({ version: 2, workflow_version_id: v2.body.workflow_version_id });
    const inputs = await api<Inputs>(`/api/deployment/${dep.id}/inputs`, { token: user.apiKey });
    expect(inputs.body.version).toBe(2);
    expect(inputs.body.inputs.map((i) => i.input_id)).toEqual(["input_image", "prefix", "seed", "hd"]);
    expect((await patch({ name: "Renamed", pool: "big" })).body).toMatchObject({
      name: "Renamed",
      pool: "big",
    });
    await patch({ name: "Renamed" });
    const history = await api<Event[]>(`/api/deployment/${dep.id}/history`, { token: user.apiKey });
    expect(history.body.map((e) => e.kind)).toEqual(["created", "promoted", "updated"]);
    expect(history.body[1]).toMatchObject({
      from_version_id: wf.workflow_version_id,
      to_version_id: v2.body.workflow_version_id,
    });
    expect(history.body[2]?.changes).toEqual({ name: "Renamed", pool: "big" });
    expect((await patch({ version: 9 })).status).toBe(404);
    const badBinding = await api<ErrorBody>(`/api/deployment/${dep.id}`, {
      method: "PATCH",
      token: user.apiKey,
      json: { inputs: [{ input_id: "prefix", node_id: "3", input_name: "filename_prefix" }] },
    });
    expect(badBinding.body.details[0]?.field).toBe("inputs.0.input_id");
  });

  it("deactivates (idempotently), refuses runs with 409, and activates again", async () => {
    const user = await createUser();
    const dep = await createDeployment(user, { graph: externalGraph });
    const db = createDb(env.DB);
    const resolved = await resolveDeploymentForRun(db, user.id, dep.id);
    expect(resolved.deployment).toMatchObject({ id: dep.id, pool: "default", machineId: null });
    expect(resolved.graph["1"]?.class_type).toBe("ComfyUIDeployExternalImage");
    expect(resolved.inputSpec).toHaveLength(3);
    for (let i = 0; i < 2; i++) {
      const off = await api<Deployment>(`/api/deployment/${dep.id}/deactivate`, {
        method: "POST",
        token: user.apiKey,
      });
      expect(off.body).toMatchObject({ is_active: false, status: "archived" });
    }
    await expect(resolveDeploymentForRun(db, user.id, dep.id)).rejects.toMatchObject({ code: "conflict" });
    await api(`/api/deployment/${dep.id}`, {
      method: "PATCH",
      token: user.apiKey,
      json: { is_active: true },
    });
    await expect(resolveDeploymentForRun(db, user.id, dep.id)).resolves.toBeDefined();
    const history = await api<Event[]>(`/api/deployment/${dep.id}/history`, { token: user.apiKey });
    expect(history.body.map((e) => e.kind)).toEqual(["created", "deactivated", "activated"]);
  });

  it("deletes: the id is gone everywhere, runs included", async () => {
    const user = await createUser();
    const dep = await createDeployment(user);
    const del = await api(`/api/deployment/${dep.id}`, { method: "DELETE", token: user.apiKey });
    expect(del.body).toEqual({ id: dep.id, deleted: true });
    for (const path of ["", "/inputs", "/history"]) {
      expect((await api(`/api/deployment/${dep.id}${path}`, { token: user.apiKey })).status).toBe(404);
    }
    expect((await api<Deployment[]>("/api/deployments", { token: user.apiKey })).body).toEqual([]);
    const err = await resolveDeploymentForRun(createDb(env.DB), user.id, dep.id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe("not_found");
  });
});

describe("deployment security", () => {
  it("needs a token on every route", async () => {
    const routes: [string, string][] = [
      ["POST", "/api/deployment"],
      ["GET", "/api/deployments"],
      ["GET", "/api/deployment/x"],
      ["PATCH", "/api/deployment/x"],
      ["DELETE", "/api/deployment/x"],
      ["POST", "/api/deployment/x/deactivate"],
      ["GET", "/api/deployment/x/inputs"],
      ["GET", "/api/deployment/x/history"],
    ];
    for (const [method, path] of routes) {
      const res = await api(path, { method, json: method === "POST" || method === "PATCH" ? {} : undefined });
      expect([method, path, res.status]).toEqual([method, path, 401]);
    }
  });

  it("gives another tenant 404 for every id, including when deploying", async () => {
    const alice = await createUser("alice");
    const bob = await createUser("bob");
    const wf = await createWorkflow(alice);
    const dep = await createDeployment(alice, { workflow_id: wf.id });
    const calls: [string, string, unknown?][] = [
      ["GET", `/api/deployment/${dep.id}`],
      ["PATCH", `/api/deployment/${dep.id}`, { name: "mine" }],
      ["DELETE", `/api/deployment/${dep.id}`],
      ["POST", `/api/deployment/${dep.id}/deactivate`],
      ["GET", `/api/deployment/${dep.id}/inputs`],
      ["GET", `/api/deployment/${dep.id}/history`],
      ["POST", "/api/deployment", { workflow_id: wf.id }],
    ];
    for (const [method, path, json] of calls) {
      const res = await api(path, { method, token: bob.apiKey, json });
      expect([method, path, res.status]).toEqual([method, path, 404]);
    }
    const own = await createWorkflow(bob);
    const pinOther = await api("/api/deployment", {
      method: "POST",
      token: bob.apiKey,
      json: { workflow_id: own.id, workflow_version_id: wf.workflow_version_id },
    });
    expect(pinOther.status).toBe(404);
    await expect(resolveDeploymentForRun(createDb(env.DB), bob.id, dep.id)).rejects.toMatchObject({
      code: "not_found",
    });
    expect((await api<Deployment[]>("/api/deployments", { token: bob.apiKey })).body).toEqual([]);
    const still = await api<Deployment>(`/api/deployment/${dep.id}`, { token: alice.apiKey });
    expect(still.body).toMatchObject({ name: dep.name, is_active: true });
  });
});
