import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createDb } from "../../src/db/client";
import { queueGraphRun } from "../../src/services/runs";
import { createDeployment, createWorkflow, invertGraph } from "../helpers/fixtures";
import { api } from "../helpers/http";
import { demoGraph, executeRun } from "../helpers/runs";
import { createUser, type TestUser } from "../helpers/users";

type ErrorBody = { error: string; message: string; details: { code: string; field?: string }[] };

const deep = (depth: number) => `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`;
const deepValue = (depth: number): unknown => JSON.parse(deep(depth));

function post(user: TestUser, path: string, text: string | Uint8Array) {
  return api<ErrorBody>(path, {
    method: "POST",
    token: user.apiKey,
    body: text,
    headers: { "Content-Type": "application/json" },
  });
}

async function countRows(table: "runs" | "workflows", userId: string) {
  const row = await env.DB.prepare(`SELECT count(*) AS n FROM ${table} WHERE user_id = ?`)
    .bind(userId)
    .first<{ n: number }>();
  return row?.n ?? 0;
}

describe("JSON bodies are bounded before any route reads them", () => {
  it("refuses deep run metadata, deep graphs and deep UI documents with a 400 naming the field, creating nothing", async () => {
    const user = await createUser();
    const dep = await createDeployment(user);
    const cases = [
      ["/api/run", `{"deployment_id":"${dep.id}","metadata":${deep(10_000)}}`, "metadata.a.a"],
      ["/api/workflows/execute", `{"workflow":{"1":{"class_type":"X","inputs":{"v":${deep(5_000)}}}}}`, ""],
      [
        "/api/workflow",
        `{"name":"deep","workflow_api":${JSON.stringify(invertGraph)},"workflow":${deep(10_000)}}`,
        "workflow.a",
      ],
    ] as const;
    const before = [await countRows("runs", user.id), await countRows("workflows", user.id)];
    for (const [path, body, fieldPrefix] of cases) {
      const res = await post(user, path, body);
      expect(res.status, path).toBe(400);
      expect(res.body).toMatchObject({ error: "validation_error", details: [{ code: "TOO_DEEP" }] });
      expect(res.body.details[0]?.field).toContain(fieldPrefix);
    }
    expect([await countRows("runs", user.id), await countRows("workflows", user.id)]).toEqual(before);
  });

  it("accepts nesting up to the limit", async () => {
    const user = await createUser();
    const dep = await createDeployment(user);
    const res = await api("/api/run", {
      method: "POST",
      token: user.apiKey,
      json: { deployment_id: dep.id, metadata: { nested: deepValue(60) } },
    });
    expect(res.status).toBe(200);
  });

  it("refuses integers JavaScript would round, naming the field; keeps floats and safe integers", async () => {
    const user = await createUser();
    const big = await post(
      user,
      "/api/workflows/execute",
      `{"workflow":${JSON.stringify(demoGraph)},"metadata":{"seed":18446744073709551615}}`,
    );
    expect(big.status).toBe(400);
    expect(big.body.details[0]).toMatchObject({ code: "UNSAFE_INTEGER", field: "metadata.seed" });
    const negative = await post(
      user,
      "/api/workflows/execute",
      `{"workflow":${JSON.stringify(demoGraph)},"metadata":{"list":[1,-9007199254740993]}}`,
    );
    expect(negative.body.details[0]).toMatchObject({ code: "UNSAFE_INTEGER", field: "metadata.list.1" });
    const ok = await post(
      user,
      "/api/workflows/execute",
      `{"workflow":${JSON.stringify(demoGraph)},"metadata":{"max":9007199254740991,"f":1.5e300}}`,
    );
    expect(ok.status).toBe(200);
  });

  it("refuses lone surrogates and bytes that are not UTF-8 instead of storing replacement characters", async () => {
    const user = await createUser();
    const lone = await post(
      user,
      "/api/workflow",
      `{"name":"a\\ud800b","workflow_api":${JSON.stringify(invertGraph)}}`,
    );
    expect(lone.status).toBe(400);
    expect(lone.body.details[0]).toMatchObject({ code: "INVALID_STRING", field: "name" });
    const lowFirst = await post(user, "/api/workflow", `{"name":"\\udc00\\ud800","workflow_api":{}}`);
    expect(lowFirst.status).toBe(400);
    // Long plain runs are skipped in one step: a surrogate on either side of one is still found.
    const long = "x".repeat(100_000);
    for (const name of [`${long}\\ud800`, `\\ud800${long}`, `${long}\\udc00${long}`]) {
      const res = await post(user, "/api/workflow", `{"workflow_api":{},"name":"${name}"}`);
      expect(res.status).toBe(400);
      expect(res.body.details[0]).toMatchObject({ code: "INVALID_STRING", field: "name" });
    }
    const cesu = new Uint8Array([
      ...new TextEncoder().encode('{"name":"'),
      0xed,
      0xa0,
      0x80,
      ...new TextEncoder().encode('"}'),
    ]);
    const bytes = await post(user, "/api/workflow", cesu);
    expect(bytes.status).toBe(400);
    expect(bytes.body.details[0]).toMatchObject({ code: "INVALID_ENCODING" });
    const pair = await post(
      user,
      "/api/workflow",
      `{"name":"ok \\ud83d\\ude00 😀","workflow_api":${JSON.stringify(invertGraph)}}`,
    );
    expect(pair.status).toBe(201);
    expect(await countRows("workflows", user.id)).toBe(1);
  });

  it("refuses JSON bodies past the largest route limit with the 413 envelope, chunked or not", async () => {
    const user = await createUser();
    const huge = `{"name":"${"x".repeat(6 * 1024 * 1024)}"}`;
    const sized = await post(user, "/api/workflow", huge);
    expect(sized.status).toBe(413);
    expect(sized.body).toMatchObject({ error: "payload_too_large" });
    const bytes = new TextEncoder().encode(huge);
    const chunked = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < bytes.length; i += 65536) controller.enqueue(bytes.subarray(i, i + 65536));
        controller.close();
      },
    });
    const streamed = await api<ErrorBody>("/api/workflow", {
      method: "POST",
      token: user.apiKey,
      body: chunked,
      headers: { "Content-Type": "application/json" },
    });
    expect(streamed.status).toBe(413);
    expect(streamed.body).toMatchObject({ error: "payload_too_large" });
  });
});

describe("chunked bodies past a route's limit", () => {
  const chunked = (text: string) => {
    const bytes = new TextEncoder().encode(text);
    return new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < bytes.length; i += 4096) controller.enqueue(bytes.subarray(i, i + 4096));
        controller.close();
      },
    });
  };

  it("get the 413 envelope from the route's own limit, and nothing is created", async () => {
    const email = `big${crypto.randomUUID().slice(0, 8)}@example.com`;
    const body = JSON.stringify({
      email,
      username: "x".repeat(100 * 1024),
      password: "correct horse battery",
    });
    const res = await api<ErrorBody>("/api/auth/register", {
      method: "POST",
      body: chunked(body),
      headers: { "Content-Type": "application/json" },
    });
    expect(res.status).toBe(413);
    expect(res.body).toMatchObject({ error: "payload_too_large", message: expect.stringContaining("16384") });
    const user = await env.DB.prepare("SELECT id FROM users WHERE email = ?").bind(email).first();
    expect(user).toBeNull();
  });
});

describe("rows stored before the limits still read", () => {
  it("serves runs whose stored metadata is too deep to serve, with that field null", async () => {
    const user = await createUser();
    const runId = await executeRun(user);
    await env.DB.prepare("UPDATE runs SET metadata = ? WHERE id = ?").bind(deep(10_000), runId).run();
    const one = await api<Record<string, unknown>>(`/api/run/${runId}`, { token: user.apiKey });
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ id: runId });
    const list = await api<unknown>("/api/runs", { token: user.apiKey });
    expect(list.status).toBe(200);
    expect(JSON.stringify(list.body)).toContain(runId);
  });

  it("serves a workflow whose stored UI document is too deep, without the document", async () => {
    const user = await createUser();
    const wf = await createWorkflow(user, invertGraph, { workflow: { nodes: [] } });
    const { results } = await env.DB.prepare(
      "SELECT workflow_key FROM workflow_versions WHERE workflow_id = ?",
    )
      .bind(wf.id)
      .all<{ workflow_key: string }>();
    await env.BUCKET.put(results[0]!.workflow_key, deep(10_000));
    const res = await api<{ latest_version: { workflow: unknown } }>(`/api/workflow/${wf.id}`, {
      token: user.apiKey,
    });
    expect(res.status).toBe(200);
    expect(res.body.latest_version.workflow).toBeNull();
  });
});

describe("no half-created runs", () => {
  it("removes the run row when its queue entry cannot be written", async () => {
    const user = await createUser();
    const failing = {
      getByName: () => ({
        enqueue: () => Promise.reject(new Error("queue unavailable")),
      }),
    } as unknown as typeof env.DISPATCHER;
    const ctx = {
      env: { ...env, DISPATCHER: failing },
      db: createDb(env.DB),
      userId: user.id,
      origin: "http://comfy-edge.test",
    };
    await expect(queueGraphRun(ctx, demoGraph, {})).rejects.toThrow("queue unavailable");
    expect(await countRows("runs", user.id)).toBe(0);
  });
});
