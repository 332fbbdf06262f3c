import { describe, expect, it } from "vitest";
import { api } from "../helpers/http";

describe("health", () => {
  it("answers /api/health without auth and with a request id", async () => {
    const res = await api<{ status: string; version: string }>("/api/health");
    expect(res.status).toBe(200);
    expect(res.body.status).toBe("healthy");
    expect(res.headers.get("X-Request-Id")).toMatch(/^req_/);
  });

  it("checks D1, R2 and a Durable Object in /api/health/detailed", async () => {
    const res = await api<{
      status: string;
      services: { name: string; status: string; response_time_ms: number }[];
    }>("/api/health/detailed");
    expect(res.status).toBe(200);
    expect(res.body.services.map((s) => s.name)).toEqual(["database", "storage", "durable_objects"]);
    for (const service of res.body.services) {
      expect(service.status).toBe("healthy");
      expect(service.response_time_ms).toBeGreaterThanOrEqual(0);
    }
  });

  it("reports readiness and liveness", async () => {
    expect((await api("/api/health/readiness")).body).toEqual({ status: "ready" });
    const live = await api<{ status: string }>("/api/health/liveness");
    expect(live.body.status).toBe("alive");
  });

  it("keeps a sane incoming request id and replaces a hostile one", async () => {
    const kept = await api("/api/health", { headers: { "X-Request-Id": "trace-12345678" } });
    expect(kept.headers.get("X-Request-Id")).toBe("trace-12345678");
    const replaced = await api("/api/health", { headers: { "X-Request-Id": "<script>" } });
    expect(replaced.headers.get("X-Request-Id")).toMatch(/^req_/);
  });
});

describe("errors", () => {
  it("answers unknown routes with the 404 envelope", async () => {
    const res = await api<Record<string, unknown>>("/api/nope");
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ error: "not_found", details: [] });
    expect(res.body.request_id).toBe(res.headers.get("X-Request-Id"));
    expect(typeof res.body.timestamp).toBe("string");
  });
});

describe("openapi", () => {
  it("serves an OpenAPI 3.1 document with the security scheme and error responses", async () => {
    const res = await api<{ openapi: string; paths: Record<string, Record<string, { responses: object }>> }>(
      "/api/doc",
    );
    expect(res.status).toBe(200);
    expect(res.body.openapi).toBe("3.1.0");
    expect(Object.keys(res.body.paths["/api/keys"] ?? {})).toEqual(expect.arrayContaining(["get", "post"]));
    expect(Object.keys(res.body.paths["/api/auth/login"]?.post?.responses ?? {})).toEqual(
      expect.arrayContaining(["200", "400", "401", "500"]),
    );
  });

  it("lists every field of runs, executions and outputs, with no catch-all", async () => {
    type Schema = { properties?: Record<string, unknown>; additionalProperties?: unknown };
    const res = await api<{ components: { schemas: Record<string, Schema> } }>("/api/doc");
    const { Run, Execution, ExecutionStatus, RunOutputGroup } = res.body.components.schemas;
    for (const schema of [Run, Execution, ExecutionStatus, RunOutputGroup]) {
      expect(schema?.additionalProperties).toBeUndefined();
    }
    expect(Object.keys(Run?.properties ?? {})).toEqual(
      expect.arrayContaining(["workflow_api", "webhook", "cold_start_duration", "user_id", "outputs"]),
    );
    expect(Object.keys(Execution?.properties ?? {})).toEqual(
      expect.arrayContaining(["error_details", "retried_from", "logs"]),
    );
    expect(Object.keys(RunOutputGroup?.properties ?? {})).toEqual(
      expect.arrayContaining(["images", "node_meta"]),
    );
  });

  it("serves the interactive reference", async () => {
    const res = await api<string>("/api/reference");
    expect(res.status).toBe(200);
    expect(res.body).toContain("/api/doc");
  });
});
