import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { planParts } from "../../src/services/large-uploads";
import { expireNow, fetchWorker, keyFromUploadUrl } from "../helpers/files";
import { api } from "../helpers/http";
import { createUser } from "../helpers/users";

const MiB = 1024 * 1024;

type Part = { part_number: number; size: number; upload_url: string };
type LargeUpload = {
  file_id: string;
  upload_id: string;
  part_size: number;
  part_count: number;
  parts: Part[];
};

async function start(token: string, size: number, extra: Record<string, unknown> = {}) {
  return api<LargeUpload>("/api/files/multipart", {
    method: "POST",
    token,
    json: { filename: "model.bin", content_type: "application/octet-stream", file_size: size, ...extra },
  });
}

/** Stands in for the client's PUT of each part to its presigned URL. */
async function uploadParts(upload: LargeUpload, fill = 7) {
  const url = new URL(upload.parts[0]!.upload_url);
  expect(url.searchParams.get("uploadId")).toBe(upload.upload_id);
  const key = keyFromUploadUrl(upload.parts[0]!.upload_url);
  const multipart = env.BUCKET.resumeMultipartUpload(key, upload.upload_id);
  const done = [];
  for (const part of upload.parts) {
    const uploaded = await multipart.uploadPart(part.part_number, new Uint8Array(part.size).fill(fill));
    done.push({ part_number: part.part_number, etag: `"${uploaded.etag}"` });
  }
  return done;
}

describe("planParts", () => {
  it("uses equal parts of at least 5 MiB and stays within 10,000 parts", () => {
    expect(planParts(200 * 1e6)).toEqual({ partSize: 16 * MiB, count: 12 });
    expect(planParts(1, 1)).toEqual({ partSize: 5 * MiB, count: 1 });
    const huge = planParts(5 * 1024 ** 4);
    expect(huge.count).toBeLessThanOrEqual(10_000);
    expect(huge.partSize % MiB).toBe(0);
  });
});

describe("POST /api/files/multipart", () => {
  it("signs one URL per part with its exact length, then completes into a ready file", async () => {
    const user = await createUser();
    const size = 12 * MiB + 5;
    const res = await start(user.apiKey, size, { part_size: 5 * MiB });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ part_size: 5 * MiB, part_count: 3 });
    expect(res.body.parts.map((p) => p.size)).toEqual([5 * MiB, 5 * MiB, 2 * MiB + 5]);
    const first = new URL(res.body.parts[0]!.upload_url);
    expect(first.searchParams.get("partNumber")).toBe("1");
    expect(first.searchParams.get("X-Amz-SignedHeaders")).toBe("content-length;host");

    const parts = await uploadParts(res.body);
    const done = await api(`/api/files/${res.body.file_id}/multipart/complete`, {
      method: "POST",
      token: user.apiKey,
      json: { parts: parts.reverse() },
    });
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ status: "ready", size, content_type: "application/octet-stream" });

    const tail = await fetchWorker(`/api/files/${res.body.file_id}`, {
      token: user.apiKey,
      headers: { Range: `bytes=${size - 3}-` },
    });
    expect(tail.status).toBe(206);
    expect([...new Uint8Array(await tail.arrayBuffer())]).toEqual([7, 7, 7]);
  });

  it("is pending until completed, and counts toward the quota meanwhile", async () => {
    const user = await createUser();
    const quota = Number(env.STORAGE_QUOTA_BYTES);
    const res = await start(user.apiKey, quota - 100);
    expect(res.status).toBe(201);
    const info = await api(`/api/files/${res.body.file_id}/info`, { token: user.apiKey });
    expect(info.body).toMatchObject({ status: "pending" });
    expect((await start(user.apiKey, 200)).status).toBe(413);
    const confirm = await api(`/api/files/${res.body.file_id}/confirm`, {
      method: "POST",
      token: user.apiKey,
    });
    expect(confirm.status).toBe(409);
  });

  it("refuses a completion with missing parts or unknown ETags", async () => {
    const user = await createUser();
    const res = await start(user.apiKey, 11 * MiB, { part_size: 5 * MiB });
    const parts = await uploadParts(res.body);
    const path = `/api/files/${res.body.file_id}/multipart/complete`;
    const missing = await api(path, {
      method: "POST",
      token: user.apiKey,
      json: { parts: parts.slice(0, 2) },
    });
    expect(missing.status).toBe(400);
    const bogus = parts.map((p) => ({ ...p, etag: "nope" }));
    expect((await api(path, { method: "POST", token: user.apiKey, json: { parts: bogus } })).status).toBe(
      400,
    );
  });

  it("checks an image's bytes after completion", async () => {
    const user = await createUser();
    const res = await api<LargeUpload>("/api/files/multipart", {
      method: "POST",
      token: user.apiKey,
      json: { filename: "huge.png", content_type: "image/png", file_size: 6 * MiB },
    });
    const parts = await uploadParts(res.body);
    const done = await api(`/api/files/${res.body.file_id}/multipart/complete`, {
      method: "POST",
      token: user.apiKey,
      json: { parts },
    });
    expect(done.status).toBe(415);
    expect(await env.BUCKET.head(keyFromUploadUrl(res.body.parts[0]!.upload_url))).toBeNull();
  });

  it("re-signs part URLs and aborts", async () => {
    const user = await createUser();
    const res = await start(user.apiKey, 40 * MiB);
    const id = res.body.file_id;
    const again = await api<LargeUpload>(`/api/files/${id}/multipart/urls`, {
      method: "POST",
      token: user.apiKey,
      json: { part_numbers: [2, 3] },
    });
    expect(again.status).toBe(200);
    expect(again.body.parts.map((p) => p.part_number)).toEqual([2, 3]);
    const bad = await api(`/api/files/${id}/multipart/urls`, {
      method: "POST",
      token: user.apiKey,
      json: { part_numbers: [99] },
    });
    expect(bad.status).toBe(400);
    const abort = await api(`/api/files/${id}/multipart`, { method: "DELETE", token: user.apiKey });
    expect(abort.body).toEqual({ id, aborted: true });
    const twice = await api(`/api/files/${id}/multipart`, { method: "DELETE", token: user.apiKey });
    expect(twice.status).toBe(410);
  });

  it("an unfinished upload expires and is aborted", async () => {
    const user = await createUser();
    const res = await start(user.apiKey, 6 * MiB);
    await expireNow(res.body.file_id);
    const info = await api(`/api/files/${res.body.file_id}/info`, { token: user.apiKey });
    expect(info.body).toMatchObject({ status: "expired" });
    const complete = await api(`/api/files/${res.body.file_id}/multipart/complete`, {
      method: "POST",
      token: user.apiKey,
      json: { parts: [{ part_number: 1, etag: "x" }] },
    });
    expect(complete.status).toBe(410);
  });

  it("validates, needs a token, and keeps other tenants out", async () => {
    const alice = await createUser("alice");
    const bob = await createUser("bob");
    expect((await start(alice.apiKey, 0)).status).toBe(400);
    expect((await start(alice.apiKey, 10, { part_size: 1024 })).status).toBe(400);
    const res = await start(alice.apiKey, 6 * MiB);
    const id = res.body.file_id;
    const json = { parts: [{ part_number: 1, etag: "x" }] };
    expect(
      (await api(`/api/files/${id}/multipart/complete`, { method: "POST", token: bob.apiKey, json })).status,
    ).toBe(404);
    expect(
      (await api(`/api/files/${id}/multipart/urls`, { method: "POST", token: bob.apiKey, json: {} })).status,
    ).toBe(404);
    expect((await api(`/api/files/${id}/multipart`, { method: "DELETE", token: bob.apiKey })).status).toBe(
      404,
    );
    expect((await api("/api/files/multipart", { method: "POST", json: {} })).status).toBe(401);
  });
});
