import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import {
  expireNow,
  fillQuota,
  keyFromUploadUrl,
  PNG_BYTES,
  type PresignedUpload,
  presignedUpload,
  putToPresigned,
} from "../helpers/files";
import { api } from "../helpers/http";
import { createUser } from "../helpers/users";

const confirm = (id: string, token?: string) =>
  api<Record<string, unknown>>(`/api/files/${id}/confirm`, { method: "POST", token });

describe("POST /api/file/upload (JSON, seed 002)", () => {
  it("signs a PUT to the local S3 endpoint with the type and size bound in", async () => {
    const user = await createUser();
    const res = await api<PresignedUpload>("/api/file/upload", {
      method: "POST",
      token: user.apiKey,
      json: { type: "image/png", file_size: 1234 },
    });
    expect(res.status).toBe(200);
    const url = new URL(res.body.upload_url);
    expect(url.pathname).toMatch(/^\/cdn-cgi\/local\/r2\/s3\/comfy-edge-files\/staging\/uploads\//);
    expect(url.searchParams.get("X-Amz-SignedHeaders")).toBe("content-length;content-type;host");
    expect(url.searchParams.get("X-Amz-Expires")).toBe("3600");
    expect(url.searchParams.get("X-Amz-Credential")).toMatch(
      new RegExp(`^${env.R2_ACCESS_KEY_ID}/\\d{8}/auto/s3/aws4_request$`),
    );
    expect(res.body.upload_headers).toEqual({ "Content-Type": "image/png" });
    expect(res.body.file_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.body.download_url).toContain(`/api/files/${res.body.file_id}/content?expires=`);
    expect(res.body.file).toMatchObject({
      status: "pending",
      size: 1234,
      filename: "upload.png",
      purpose: "upload",
    });
    expect(keyFromUploadUrl(res.body.upload_url)).toBe(`staging/uploads/${user.id}/${res.body.file_id}`);
  });

  it("keeps a given filename, sanitised", async () => {
    const user = await createUser();
    const upload = await presignedUpload(user.apiKey, "text/plain", 3, "../../etc/pass<wd>.txt");
    expect(upload.file.filename).toBe("passwd.txt");
  });

  it("validates type and size", async () => {
    const user = await createUser();
    const noType = await api("/api/file/upload", {
      method: "POST",
      token: user.apiKey,
      json: { file_size: 1 },
    });
    expect(noType.status).toBe(400);
    expect(noType.body).toMatchObject({ details: [{ field: "type", code: "REQUIRED_FIELD" }] });
    const badType = await api("/api/file/upload", {
      method: "POST",
      token: user.apiKey,
      json: { type: "png", file_size: 1 },
    });
    expect(badType.status).toBe(400);
    const heic = await api("/api/file/upload", {
      method: "POST",
      token: user.apiKey,
      json: { type: "image/heic", file_size: 1 },
    });
    expect(heic.status).toBe(415);
    const negative = await api("/api/file/upload", {
      method: "POST",
      token: user.apiKey,
      json: { type: "image/png", file_size: -1 },
    });
    expect(negative.status).toBe(400);
    const tooBig = await api("/api/file/upload", {
      method: "POST",
      token: user.apiKey,
      json: { type: "application/octet-stream", file_size: 6 * 1024 ** 3 },
    });
    expect(tooBig.status).toBe(413);
    expect(String(tooBig.body.message)).toContain("/api/files/multipart");
  });

  it("refuses other media types and needs a token", async () => {
    const user = await createUser();
    const text = await api("/api/file/upload", {
      method: "POST",
      token: user.apiKey,
      body: "x",
      headers: { "Content-Type": "text/plain" },
    });
    expect(text.status).toBe(415);
    expect(
      (await api("/api/file/upload", { method: "POST", json: { type: "a/b", file_size: 1 } })).status,
    ).toBe(401);
  });

  it("enforces the storage quota with a clear error", async () => {
    const user = await createUser();
    await fillQuota(user.id, 10);
    const res = await api<{ error: string; details: { code: string }[]; message: string }>(
      "/api/file/upload",
      {
        method: "POST",
        token: user.apiKey,
        json: { type: "text/plain", file_size: 11 },
      },
    );
    expect(res.status).toBe(413);
    expect(res.body.details[0]?.code).toBe("STORAGE_QUOTA_EXCEEDED");
    expect(res.body.message).toMatch(/Storage quota exceeded/);
    const fits = await api("/api/file/upload", {
      method: "POST",
      token: user.apiKey,
      json: { type: "text/plain", file_size: 10 },
    });
    expect(fits.status).toBe(200);
  });
});

describe("POST and GET /api/upload-url (seed 001)", () => {
  it("returns upload_url, file_url and expires_at", async () => {
    const user = await createUser();
    const res = await api<PresignedUpload>("/api/upload-url", {
      method: "POST",
      token: user.apiKey,
      json: { filename: "input_image.png", content_type: "image/png" },
    });
    expect(res.status).toBe(200);
    expect(new URL(res.body.upload_url).searchParams.get("X-Amz-SignedHeaders")).toBe("content-type;host");
    expect(res.body.file_url).toContain("/content?expires=");
    expect(Date.parse(res.body.expires_at)).toBeGreaterThan(Date.now() + 3500_000);
    expect(res.body.file).toMatchObject({ filename: "input_image.png", size: null });
  });

  it("GET takes type and file_size as query parameters", async () => {
    const user = await createUser();
    const res = await api<PresignedUpload>("/api/upload-url?type=image/jpeg&file_size=99", {
      token: user.apiKey,
    });
    expect(res.status).toBe(200);
    expect(res.body.file).toMatchObject({ content_type: "image/jpeg", size: 99, filename: "upload.jpg" });
    expect((await api("/api/upload-url?type=image/jpeg", { token: user.apiKey })).status).toBe(400);
    expect((await api("/api/upload-url?type=image/jpeg&file_size=1")).status).toBe(401);
  });

  it("validates the body", async () => {
    const user = await createUser();
    const res = await api("/api/upload-url", {
      method: "POST",
      token: user.apiKey,
      json: { filename: "a.png" },
    });
    expect(res.status).toBe(400);
  });
});

describe("POST /api/files/{id}/confirm", () => {
  it("is 409 until the bytes arrive, then ready with the actual size", async () => {
    const user = await createUser();
    const upload = await presignedUpload(user.apiKey, "image/png", PNG_BYTES.length);
    const early = await confirm(upload.file_id, user.apiKey);
    expect(early.status).toBe(409);
    await putToPresigned(upload, PNG_BYTES, "image/png");
    const res = await confirm(upload.file_id, user.apiKey);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: "ready", size: PNG_BYTES.length, expires_at: null });
    expect(res.body.confirmed_at).toEqual(expect.any(String));
    expect((await confirm(upload.file_id, user.apiKey)).status).toBe(200);
  });

  it("settles on first use without an explicit confirm", async () => {
    const user = await createUser();
    const upload = await presignedUpload(user.apiKey, "text/plain", 5);
    await putToPresigned(upload, "hello", "text/plain");
    const info = await api(`/api/files/${upload.file_id}/info`, { token: user.apiKey });
    expect(info.body).toMatchObject({ status: "ready", size: 5 });
  });

  it("an image whose bytes are not that image is refused and removed", async () => {
    const user = await createUser();
    const upload = await presignedUpload(user.apiKey, "image/png", 11);
    await putToPresigned(upload, "hello world", "image/png");
    const res = await confirm(upload.file_id, user.apiKey);
    expect(res.status).toBe(415);
    expect(await env.BUCKET.head(keyFromUploadUrl(upload.upload_url))).toBeNull();
    expect((await confirm(upload.file_id, user.apiKey)).status).toBe(410);
  });

  it("a size other than declared is refused", async () => {
    const user = await createUser();
    const upload = await presignedUpload(user.apiKey, "text/plain", 3);
    await putToPresigned(upload, "four", "text/plain");
    const res = await confirm(upload.file_id, user.apiKey);
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(/declared/);
  });

  it("an upload that never arrives expires (410) and stops counting toward the quota", async () => {
    const user = await createUser();
    const upload = await presignedUpload(user.apiKey, "text/plain", 5);
    await expireNow(upload.file_id);
    expect((await confirm(upload.file_id, user.apiKey)).status).toBe(410);
    const info = await api(`/api/files/${upload.file_id}/info`, { token: user.apiKey });
    expect(info.body).toMatchObject({ status: "expired" });
    const list = await api<{ files: { id: string }[] }>("/api/files", { token: user.apiKey });
    expect(list.body.files.map((f) => f.id)).not.toContain(upload.file_id);
  });

  it("one that arrived in time is still accepted after its URL lapsed", async () => {
    const user = await createUser();
    const upload = await presignedUpload(user.apiKey, "text/plain", 5);
    await putToPresigned(upload, "hello", "text/plain");
    await expireNow(upload.file_id);
    expect((await confirm(upload.file_id, user.apiKey)).body).toMatchObject({ status: "ready" });
  });

  it("another tenant's id is 404 and needs a token", async () => {
    const alice = await createUser("alice");
    const bob = await createUser("bob");
    const upload = await presignedUpload(alice.apiKey, "text/plain", 5);
    await putToPresigned(upload, "hello", "text/plain");
    expect((await confirm(upload.file_id, bob.apiKey)).status).toBe(404);
    expect((await confirm(upload.file_id)).status).toBe(401);
    expect((await confirm(crypto.randomUUID(), alice.apiKey)).status).toBe(404);
  });
});
