import { describe, expect, it } from "vitest";
import { createWorkflow } from "../helpers/fixtures";
import { api } from "../helpers/http";
import { executeRun } from "../helpers/runs";
import { createUser } from "../helpers/users";

describe("seed 004 at the host root, trailing slash or not", () => {
  it("serves auth, health and metrics at the root and under /api, with or without the slash", async () => {
    const user = await createUser();
    for (const path of ["/auth/me", "/auth/me/", "/api/auth/me/"]) {
      const res = await api<{ email: string }>(path, { token: user.access });
      expect(res.status, path).toBe(200);
      expect(res.body.email).toBe(user.email);
    }
    for (const path of ["/health", "/health/", "/health/liveness/", "/api/health/readiness/"]) {
      expect((await api(path)).status, path).toBe(200);
    }
    const login = await api<{ access_token: string }>("/auth/login/", {
      method: "POST",
      json: { email: user.email, password: user.password },
    });
    expect(login.body.access_token).toEqual(expect.any(String));
    expect((await api("/api/keys/", { token: user.access })).status).toBe(200);
  });

  it("lists executions at /workflows and /workflows/ at the root, and by status under /api", async () => {
    const user = await createUser();
    const workflow = await createWorkflow(user);
    const runId = await executeRun(user);
    for (const path of [
      "/workflows",
      "/workflows/",
      "/workflows/?status=pending",
      "/api/workflows?status=pending",
    ]) {
      const res = await api<{ execution_id: string }[]>(path, { token: user.apiKey });
      expect(res.status, path).toBe(200);
      expect(
        res.body.map((e) => e.execution_id),
        path,
      ).toEqual([runId]);
    }
    const byStatus = await api<unknown[]>("/api/workflows?status=completed", { token: user.apiKey });
    expect(byStatus.body).toEqual([]);
    for (const path of ["/api/workflows", "/api/workflows/?search=wf-", "/workflows?search=wf-"]) {
      const res = await api<{ id: string }[]>(path, { token: user.apiKey });
      expect(res.status, path).toBe(200);
      expect(
        res.body.map((w) => w.id),
        path,
      ).toEqual([workflow.id]);
    }
    const single = await api<{ execution_id: string }>(`/workflows/${runId}/status/`, { token: user.apiKey });
    expect(single.body.execution_id).toBe(runId);
  });

  it("refuses a query parameter no dialect of the path knows instead of ignoring it", async () => {
    const user = await createUser();
    for (const path of [
      "/api/workflows?state=done",
      "/api/workflows/?search=x&status=pending",
      "/workflows?foo=1",
    ]) {
      expect((await api(path, { token: user.apiKey })).status, path).toBe(400);
    }
  });

  it("leaves other root paths alone", async () => {
    expect((await api("/runs")).status).toBe(404);
    expect((await api("/workflowsx")).status).toBe(404);
  });
});
