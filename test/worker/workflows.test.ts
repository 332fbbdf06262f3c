import { describe, expect, it } from "vitest";
import { createDeployment, createWorkflow, invertGraph } from "../helpers/fixtures";
import { api } from "../helpers/http";
import { createUser } from "../helpers/users";

type Workflow = { id: string; name: string; version: number; workflow_version_id: string; user_id: string };
type Version = { id: string; version: number; workflow: unknown; workflow_api: Record<string, unknown> };
type ErrorBody = { error: string; details: { field?: string; code: string; message: string }[] };

const uiDocument = { nodes: [{ id: 1, type: "LoadImage", pos: [10, 20] }], links: [], version: 0.4 };
const blurGraph = {
  ...invertGraph,
  "2": { class_type: "ImageBlur", inputs: { image: ["1", 0], blur_radius: 3, sigma: 1 } },
};

describe("POST /api/workflow", () => {
  it("creates version 1 and keeps the UI document as sent", async () => {
    const user = await createUser();
    const res = await api<Workflow>("/api/workflow", {
      method: "POST",
      token: user.apiKey,
      json: { name: "Invert", workflow: uiDocument, workflow_api: invertGraph },
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ name: "Invert", version: 1, user_id: user.id });
    expect(res.body).toHaveProperty("created_at");
    const version = await api<Version>(`/api/workflow-version/${res.body.workflow_version_id}`, {
      token: user.access,
    });
    expect(version.status).toBe(200);
    expect(version.body).toMatchObject({ version: 1, workflow: uiDocument, workflow_api: invertGraph });
  });

  it("accepts seed 001's body (graph in `workflow`) and seed 004's typed list", async () => {
    const user = await createUser();
    const seed001 = await api<Workflow>("/api/workflow", {
      method: "POST",
      token: user.apiKey,
      json: { name: "Seed 001", workflow: invertGraph },
    });
    expect(seed001.status).toBe(201);
    const typed = {
      nodes: {
        "1": { id: "1", class_type: "EmptyImage", inputs: [{ name: "width", type: "INT", value: 64 }] },
      },
    };
    const created = await createWorkflow(user, typed);
    const version = await api<Version>(`/api/workflow/${created.id}/version/1`, { token: user.apiKey });
    expect(version.body.workflow_api).toEqual({ "1": { class_type: "EmptyImage", inputs: { width: 64 } } });
  });

  it("rejects bad JSON, missing fields and bad graphs with field details", async () => {
    const user = await createUser();
    const post = (body: unknown) =>
      api<ErrorBody>("/api/workflow", { method: "POST", token: user.apiKey, json: body });
    const malformed = await api<ErrorBody>("/api/workflow", {
      method: "POST",
      token: user.apiKey,
      body: "{not json",
      headers: { "Content-Type": "application/json" },
    });
    expect(malformed.status).toBe(400);
    expect((await post({ workflow_api: invertGraph })).body.details[0]?.field).toBe("name");
    const missing = await post({ name: "x" });
    expect(missing.status).toBe(400);
    expect(missing.body.details[0]).toMatchObject({ field: "workflow_api", code: "REQUIRED_FIELD" });
    const uiOnly = await post({ name: "x", workflow: uiDocument });
    expect(uiOnly.body.details[0]?.message).toMatch(/UI format/);
    const dangling = await post({
      name: "x",
      workflow_api: { "3": { class_type: "KSampler", inputs: { model: ["4", 0] } } },
    });
    expect(dangling.status).toBe(400);
    expect(dangling.body).toMatchObject({ error: "validation_error" });
    expect(dangling.body.details[0]).toMatchObject({
      field: "workflow_api.3.inputs.model",
      code: "INVALID_LINK",
    });
    expect((await post({ name: "x", workflow_api: [1] })).status).toBe(400);
  });

  it("returns 413 past the body limit and past the stored graph limit", async () => {
    const user = await createUser();
    const huge = JSON.stringify({
      name: "big",
      workflow_api: invertGraph,
      workflow: { blob: "x".repeat(5.5 * 2 ** 20) },
    });
    const tooLarge = await api<ErrorBody>("/api/workflow", {
      method: "POST",
      token: user.apiKey,
      body: huge,
      headers: { "Content-Type": "application/json" },
    });
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.body.error).toBe("payload_too_large");
    const bigGraph = { "1": { class_type: "Note", inputs: { text: "y".repeat(950_000) } } };
    const res = await api<ErrorBody>("/api/workflow", {
      method: "POST",
      token: user.apiKey,
      json: { name: "big", workflow_api: bigGraph },
    });
    expect(res.status).toBe(413);
    expect(res.body.details[0]?.field).toBe("workflow_api");
  });
});

describe("GET /api/workflows", () => {
  it("lists newest first, searches by name and pages", async () => {
    const user = await createUser();
    for (const name of ["Alpha upscale", "Beta invert", "Gamma Invert"])
      await createWorkflow(user, invertGraph, { name });
    const all = await api<Workflow[]>("/api/workflows", { token: user.apiKey });
    expect(all.status).toBe(200);
    expect(all.body.map((w) => w.name)).toEqual(["Gamma Invert", "Beta invert", "Alpha upscale"]);
    const found = await api<Workflow[]>("/api/workflows?search=invert", { token: user.apiKey });
    expect(found.body.map((w) => w.name)).toEqual(["Gamma Invert", "Beta invert"]);
    const page = await api<Workflow[]>("/api/workflows?limit=1&offset=1", { token: user.apiKey });
    expect(page.body.map((w) => w.name)).toEqual(["Beta invert"]);
    expect((await api("/api/workflows?limit=0", { token: user.apiKey })).status).toBe(400);
    expect((await api("/api/workflows?search=%25", { token: user.apiKey })).body).toEqual([]);
  });
});

describe("workflow versions", () => {
  it("renaming keeps the version; a new graph makes N+1; the same graph changes nothing", async () => {
    const user = await createUser();
    const wf = await createWorkflow(user);
    const patch = (json: unknown) =>
      api<Workflow>(`/api/workflow/${wf.id}`, { method: "PATCH", token: user.apiKey, json });
    const renamed = await patch({ name: "Renamed" });
    expect(renamed.status).toBe(200);
    expect(renamed.body).toMatchObject({
      name: "Renamed",
      version: 1,
      workflow_version_id: wf.workflow_version_id,
    });
    const v2 = await patch({ workflow_api: blurGraph, comment: "blur instead" });
    expect(v2.body.version).toBe(2);
    expect(v2.body.workflow_version_id).not.toBe(wf.workflow_version_id);
    expect((await patch({ workflow_api: blurGraph })).body.version).toBe(2);
    // A UI document alone is converted; with no machine reporting node definitions it cannot be.
    const uiOnly = await api<ErrorBody>(`/api/workflow/${wf.id}`, {
      method: "PATCH",
      token: user.apiKey,
      json: { workflow: uiDocument },
    });
    expect(uiOnly.status).toBe(400);
    expect(uiOnly.body.details[0]?.code).toBe("NO_NODE_DEFINITIONS");
    const v3 = await patch({ workflow: uiDocument, workflow_api: blurGraph });
    expect(v3.body.version).toBe(3);

    const list = await api<{ version: number; comment: string | null }[]>(`/api/workflow/${wf.id}/versions`, {
      token: user.apiKey,
    });
    expect(list.body.map((v) => v.version)).toEqual([3, 2, 1]);
    expect(list.body[1]?.comment).toBe("blur instead");
    expect(list.body[0]).not.toHaveProperty("workflow_api");
    const one = await api<Version>(`/api/workflow/${wf.id}/version/1`, { token: user.apiKey });
    expect(one.body.workflow_api).toEqual(invertGraph);
    const three = await api<Version>(`/api/workflow/${wf.id}/version/3`, { token: user.apiKey });
    expect(three.body).toMatchObject({ workflow: uiDocument, workflow_api: blurGraph });
    const detail = await api<{ version: number; latest_version: Version }>(`/api/workflow/${wf.id}`, {
      token: user.apiKey,
    });
    expect(detail.body.version).toBe(3);
    expect(detail.body.latest_version.workflow_api).toEqual(blurGraph);
    expect((await api(`/api/workflow/${wf.id}/version/9`, { token: user.apiKey })).status).toBe(404);
    expect((await api(`/api/workflow/${wf.id}/version/one`, { token: user.apiKey })).status).toBe(400);
  });

  it("rejects a bad graph on PATCH and keeps the version", async () => {
    const user = await createUser();
    const wf = await createWorkflow(user);
    const cyclic = {
      "1": { class_type: "A", inputs: { x: ["2", 0] } },
      "2": { class_type: "B", inputs: { x: ["1", 0] } },
    };
    const res = await api<ErrorBody>(`/api/workflow/${wf.id}`, {
      method: "PATCH",
      token: user.apiKey,
      json: { workflow_api: cyclic },
    });
    expect(res.status).toBe(400);
    expect(res.body.details[0]?.code).toBe("CYCLE");
    expect((await api<Workflow>(`/api/workflow/${wf.id}`, { token: user.apiKey })).body.version).toBe(1);
  });
});

describe("clone and delete", () => {
  it("clones the current or a given version into a new workflow", async () => {
    const user = await createUser();
    const wf = await createWorkflow(user, invertGraph, { name: "Source" });
    await api(`/api/workflow/${wf.id}`, {
      method: "PATCH",
      token: user.apiKey,
      json: { workflow_api: blurGraph },
    });
    const clone = await api<Workflow>(`/api/workflow/${wf.id}/clone`, { method: "POST", token: user.apiKey });
    expect(clone.status).toBe(201);
    expect(clone.body).toMatchObject({ name: "Source (copy)", version: 1 });
    expect(clone.body.id).not.toBe(wf.id);
    const cloned = await api<Version>(`/api/workflow-version/${clone.body.workflow_version_id}`, {
      token: user.apiKey,
    });
    expect(cloned.body.workflow_api).toEqual(blurGraph);
    const old = await api<Workflow>(`/api/workflow/${wf.id}/clone`, {
      method: "POST",
      token: user.apiKey,
      json: { name: "Old", version: 1 },
    });
    const oldVersion = await api<Version>(`/api/workflow/${old.body.id}/version/1`, { token: user.apiKey });
    expect(oldVersion.body.workflow_api).toEqual(invertGraph);
    const missing = await api(`/api/workflow/${wf.id}/clone`, {
      method: "POST",
      token: user.apiKey,
      json: { version: 7 },
    });
    expect(missing.status).toBe(404);
  });

  it("deletes softly, and refuses while a deployment uses the workflow", async () => {
    const user = await createUser();
    const wf = await createWorkflow(user);
    const deployment = await createDeployment(user, { workflow_id: wf.id });
    const refused = await api(`/api/workflow/${wf.id}`, { method: "DELETE", token: user.apiKey });
    expect(refused.status).toBe(409);
    await api(`/api/deployment/${deployment.id}`, { method: "DELETE", token: user.apiKey });
    const del = await api(`/api/workflow/${wf.id}`, { method: "DELETE", token: user.apiKey });
    expect(del.status).toBe(200);
    expect(del.body).toEqual({ id: wf.id, deleted: true });
    expect((await api(`/api/workflow/${wf.id}`, { token: user.apiKey })).status).toBe(404);
    expect(
      (await api(`/api/workflow-version/${wf.workflow_version_id}`, { token: user.apiKey })).status,
    ).toBe(404);
    expect((await api(`/api/workflow/${wf.id}`, { method: "DELETE", token: user.apiKey })).status).toBe(404);
    expect((await api<Workflow[]>("/api/workflows", { token: user.apiKey })).body).toEqual([]);
  });
});

describe("workflow security", () => {
  it("needs a token on every route", async () => {
    const routes: [string, string][] = [
      ["POST", "/api/workflow"],
      ["GET", "/api/workflows"],
      ["GET", "/api/workflow/x"],
      ["PATCH", "/api/workflow/x"],
      ["DELETE", "/api/workflow/x"],
      ["POST", "/api/workflow/x/clone"],
      ["GET", "/api/workflow/x/versions"],
      ["GET", "/api/workflow/x/version/1"],
      ["GET", "/api/workflow-version/x"],
    ];
    for (const [method, path] of routes) {
      const res = await api(path, { method, json: method === "GET" || method === "DELETE" ? undefined : {} });
      expect([method, path, res.status]).toEqual([method, path, 401]);
    }
  });

  it("gives another tenant 404 for every id and leaves the rows alone", async () => {
    const alice = await createUser("alice");
    const bob = await createUser("bob");
    const wf = await createWorkflow(alice);
    const calls: [string, string, unknown?][] = [
      ["GET", `/api/workflow/${wf.id}`],
      ["PATCH", `/api/workflow/${wf.id}`, { name: "mine now", workflow_api: blurGraph }],
      ["DELETE", `/api/workflow/${wf.id}`],
      ["POST", `/api/workflow/${wf.id}/clone`, {}],
      ["GET", `/api/workflow/${wf.id}/versions`],
      ["GET", `/api/workflow/${wf.id}/version/1`],
      ["GET", `/api/workflow-version/${wf.workflow_version_id}`],
    ];
    for (const [method, path, json] of calls) {
      const res = await api(path, { method, token: bob.apiKey, json });
      expect([method, path, res.status]).toEqual([method, path, 404]);
    }
    expect((await api<Workflow[]>("/api/workflows", { token: bob.apiKey })).body).toEqual([]);
    const still = await api<Workflow>(`/api/workflow/${wf.id}`, { token: alice.apiKey });
    expect(still.body).toMatchObject({ name: wf.name, version: 1 });
  });
});

describe("OpenAPI", () => {
  it("documents every workflow and deployment route, with errors and examples", async () => {
    type Op = { responses: Record<string, unknown>; security?: unknown };
    type Doc = {
      paths: Record<string, Record<string, Op>>;
      components: { schemas: Record<string, unknown> };
    };
    const doc = (await api<Doc>("/api/doc")).body;
    const expected = {
      "/api/workflow": ["post"],
      "/api/workflows": ["get"],
      "/api/workflow/{workflow_id}": ["get", "patch", "delete"],
      "/api/workflow/{workflow_id}/clone": ["post"],
      "/api/workflow/{workflow_id}/versions": ["get"],
      "/api/workflow/{workflow_id}/version/{version}": ["get"],
      "/api/workflow-version/{version_id}": ["get"],
      "/api/deployment": ["post"],
      "/api/deployments": ["get"],
      "/api/deployment/{deployment_id}": ["get", "patch", "delete"],
      "/api/deployment/{deployment_id}/deactivate": ["post"],
      "/api/deployment/{deployment_id}/inputs": ["get"],
      "/api/deployment/{deployment_id}/history": ["get"],
    };
    for (const [path, methods] of Object.entries(expected)) {
      for (const method of methods) {
        const op = doc.paths[path]?.[method];
        expect(op, `${method} ${path}`).toBeDefined();
        expect(Object.keys(op!.responses)).toEqual(expect.arrayContaining(["401", "500"]));
        expect(op!.security).toEqual([{ bearerAuth: [] }]);
      }
    }
    const at = (value: unknown, ...keys: string[]) =>
      keys.reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], value);
    const { schemas } = doc.components;
    expect(at(schemas, "Workflow", "properties", "name", "example")).toBe("Invert an image");
    const version = at(schemas, "WorkflowVersion", "allOf") as unknown[];
    expect(at(version[1], "properties", "workflow_api", "example", "2", "class_type")).toBe("ImageInvert");
    expect(at(schemas, "Deployment", "properties", "environment", "example")).toBe("production");
    expect(at(schemas, "CreateDeploymentRequest", "properties", "workflow_id", "example")).toBeDefined();
    expect(at(schemas, "InputBinding", "example", "input_id")).toBe("prompt");
  });
});
