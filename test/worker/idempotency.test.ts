import { describe, expect, it } from "vitest";
import { PNG_BYTES, uploadForm } from "../helpers/files";
import { api } from "../helpers/http";
import { demoGraph } from "../helpers/runs";
import { createUser, type TestUser } from "../helpers/users";

const execute = (user: TestUser, key: string, json: unknown = { workflow: demoGraph }) =>
  api<Record<string, unknown>>("/api/workflows/execute", {
    method: "POST",
    token: user.apiKey,
    json,
    headers: { "Idempotency-Key": key },
  });

const runCount = async (user: TestUser) =>
  (await api<{ total: number }>("/api/runs", { token: user.apiKey })).body.total;

describe("Idempotency-Key", () => {
  it("replays the first response for the same key and body, and creates nothing more", async () => {
    const user = await createUser();
    const first = await execute(user, "order-1");
    expect(first.status).toBe(200);
    expect(first.headers.get("Idempotent-Replayed")).toBeNull();
    const second = await execute(user, "order-1");
    expect(second.status).toBe(200);
    expect(second.headers.get("Idempotent-Replayed")).toBe("true");
    expect(second.body).toEqual(first.body);
    expect(await runCount(user)).toBe(1);

    const workflow = { name: "same", workflow_api: demoGraph };
    const post = () =>
      api<{ id: string }>("/api/workflow", {
        method: "POST",
        token: user.apiKey,
        json: workflow,
        headers: { "Idempotency-Key": "wf-1" },
      });
    const [a, b] = [await post(), await post()];
    expect(b.body.id).toBe(a.body.id);
    expect(b.headers.get("Idempotent-Replayed")).toBe("true");
  });

  it("refuses the same key with a different body with 422 idempotency_key_reused", async () => {
    const user = await createUser();
    expect((await execute(user, "k")).status).toBe(200);
    const other = await execute(user, "k", { workflow: demoGraph, priority: "high" });
    expect(other.status).toBe(422);
    expect(other.body).toMatchObject({ error: "idempotency_key_reused", request_id: expect.any(String) });
    expect(await runCount(user)).toBe(1);
  });

  it("lets two concurrent requests with one key create one run", async () => {
    const user = await createUser();
    const responses = await Promise.all([execute(user, "race"), execute(user, "race")]);
    expect(await runCount(user)).toBe(1);
    const statuses = responses.map((r) => r.status).sort();
    // The loser either replays the finished first response or is told to retry (409, Retry-After).
    expect([
      [200, 200],
      [200, 409],
    ]).toContainEqual(statuses);
    const loser = responses.find((r) => r.status === 409);
    if (loser) {
      expect(loser.body).toMatchObject({ error: "idempotency_key_in_progress" });
      expect(loser.headers.get("Retry-After")).toBe("1");
    }
  });

  it("is scoped per tenant, replays client errors, and checks the key's shape", async () => {
    const [a, b] = [await createUser(), await createUser()];
    await execute(a, "shared");
    const forB = await execute(b, "shared");
    expect(forB.headers.get("Idempotent-Replayed")).toBeNull();
    expect(await runCount(b)).toBe(1);

    const bad = { workflow: { "1": { class_type: "" } } };
    const firstBad = await execute(a, "bad-1", bad);
    expect(firstBad.status).toBe(400);
    const againBad = await execute(a, "bad-1", bad);
    expect(againBad.status).toBe(400);
    expect(againBad.headers.get("Idempotent-Replayed")).toBe("true");

    const tooLong = await execute(a, "x".repeat(256));
    expect(tooLong.status).toBe(400);
    expect(tooLong.body).toMatchObject({ details: [{ field: "Idempotency-Key" }] });
  });

  it("replays a streamed upload without storing the file twice", async () => {
    const user = await createUser();
    const upload = () =>
      uploadForm(
        "/api/files/upload",
        user.apiKey,
        [{ name: "file", value: PNG_BYTES, filename: "cat.png", type: "image/png" }],
        { "Idempotency-Key": "upload-1" },
      );
    const first = await upload();
    expect(first.status).toBe(200);
    const second = await upload();
    expect(second.headers.get("Idempotent-Replayed")).toBe("true");
    expect(second.body.file_id).toBe(first.body.file_id);
  });
});
