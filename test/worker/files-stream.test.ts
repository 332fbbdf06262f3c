import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { toHex } from "../../src/lib/crypto";
import { STREAM_PART_BYTES, streamToR2 } from "../../src/services/file-streams";
import { fillQuota, JPEG_BYTES, PNG_BYTES, uploadForm } from "../helpers/files";
import { api } from "../helpers/http";
import { createUser } from "../helpers/users";

const sha256 = async (bytes: Uint8Array | ArrayBuffer) => toHex(await crypto.subtle.digest("SHA-256", bytes));

function pattern(size: number) {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + (i >> 11)) & 0xff;
  return bytes;
}

async function* chunksOf(bytes: Uint8Array, size: number) {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

describe("POST /api/files/upload (multipart, seed 004)", () => {
  it("streams the file into R2 and records it ready with its SHA-256", async () => {
    const user = await createUser();
    const res = await uploadForm("/api/files/upload", user.apiKey, [
      { name: "description", value: "a test image" },
      { name: "file", value: PNG_BYTES, filename: "input_image.png", type: "image/png" },
    ]);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      filename: "input_image.png",
      size: PNG_BYTES.length,
      content_type: "image/png",
      upload_url: null,
      status: "ready",
      description: "a test image",
      sha256: await sha256(PNG_BYTES),
      // Seed 003's shape at the same path.
      code: 200,
      data: { fileId: res.body.file_id, filename: "input_image.png", url: res.body.file_url },
    });
    const download = await api<string>(`/api/files/${res.body.file_id}`, { token: user.apiKey });
    expect(download.status).toBe(200);
  });

  it("stores a file larger than one part as an R2 multipart upload, byte for byte", async () => {
    const user = await createUser();
    const bytes = pattern(STREAM_PART_BYTES * 2 + 12345);
    const res = await uploadForm("/api/files/upload", user.apiKey, [
      { name: "file", value: bytes, filename: "weights.bin", type: "application/octet-stream" },
    ]);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ size: bytes.length, content_type: "application/octet-stream" });
    const object = await env.BUCKET.get(`uploads/${user.id}/${res.body.file_id}`);
    expect(await sha256(await object!.arrayBuffer())).toBe(await sha256(bytes));
    expect(res.body.sha256).toBe(await sha256(bytes));
  });

  it("takes the type from the bytes when the client sends octet-stream (as the SDK does)", async () => {
    const user = await createUser();
    const res = await uploadForm("/api/files/upload", user.apiKey, [
      { name: "file", value: JPEG_BYTES, filename: "photo", type: "application/octet-stream" },
    ]);
    expect(res.body.content_type).toBe("image/jpeg");
    const named = await uploadForm("/api/files/upload", user.apiKey, [
      { name: "file", value: "not a png", filename: "fake.png", type: "application/octet-stream" },
    ]);
    expect(named.body.content_type).toBe("application/octet-stream");
  });

  it("refuses an image whose bytes are another type, and keeps nothing", async () => {
    const user = await createUser();
    const res = await uploadForm("/api/files/upload", user.apiKey, [
      { name: "file", value: "<svg onload=alert(1)>", filename: "x.png", type: "image/png" },
    ]);
    expect(res.status).toBe(415);
    const list = await api<{ total: number }>("/api/files", { token: user.apiKey });
    expect(list.body.total).toBe(0);
  });

  it("sanitises the filename", async () => {
    const user = await createUser();
    const res = await uploadForm("/api/files/upload", user.apiKey, [
      { name: "file", value: "hi", filename: "..\\..\\evil\u0000name?.txt", type: "text/plain" },
    ]);
    expect(res.body.filename).toBe("evil name.txt");
  });

  it("needs a file field, multipart, and a token", async () => {
    const user = await createUser();
    const none = await uploadForm("/api/files/upload", user.apiKey, [{ name: "description", value: "x" }]);
    expect(none.status).toBe(400);
    expect(none.body).toMatchObject({ details: [{ field: "file", code: "REQUIRED_FIELD" }] });
    const json = await api("/api/files/upload", { method: "POST", token: user.apiKey, json: { a: 1 } });
    expect(json.status).toBe(415);
    const malformed = await api("/api/files/upload", {
      method: "POST",
      token: user.apiKey,
      body: "--xyz\r\nno headers here",
      headers: { "Content-Type": "multipart/form-data; boundary=xyz" },
    });
    expect(malformed.status).toBe(400);
    const anonymous = await uploadForm("/api/files/upload", undefined, [
      { name: "file", value: "x", filename: "a" },
    ]);
    expect(anonymous.status).toBe(401);
  });

  it("stops at the storage quota while streaming (413)", async () => {
    const user = await createUser();
    await fillQuota(user.id, 1000);
    const res = await uploadForm("/api/files/upload", user.apiKey, [
      { name: "file", value: pattern(5000), filename: "a.bin" },
    ]);
    expect(res.status).toBe(413);
    expect(res.body).toMatchObject({ details: [{ code: "STORAGE_QUOTA_EXCEEDED" }] });
  });
});

describe("POST /api/file/upload (multipart, comfydeploy SDK)", () => {
  it("answers with the SDK's fields plus ours", async () => {
    const user = await createUser();
    const res = await uploadForm("/api/file/upload", user.apiKey, [
      { name: "file", value: PNG_BYTES, filename: "blob", type: "application/octet-stream" },
    ]);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      message: expect.any(String),
      file_id: expect.any(String),
      file_name: "blob",
      file_url: expect.stringContaining("/content?expires="),
      content_type: "image/png",
    });
  });
});

describe("streamToR2", () => {
  const limits = { maxBytes: 10_000, quotaLeft: 1e12, quota: 1e12 };

  it("counts bytes and aborts past the limit without leaving an object", async () => {
    const key = `test/${crypto.randomUUID()}`;
    const run = streamToR2(env.BUCKET, key, chunksOf(pattern(20_000), 1000), limits, () => "a/b");
    await expect(run).rejects.toMatchObject({ code: "payload_too_large" });
    expect(await env.BUCKET.head(key)).toBeNull();
  });

  it("aborts a multipart upload that passes the limit after its first part", async () => {
    const key = `test/${crypto.randomUUID()}`;
    const big = { ...limits, maxBytes: STREAM_PART_BYTES + 10 };
    const run = streamToR2(
      env.BUCKET,
      key,
      chunksOf(pattern(STREAM_PART_BYTES + 100), 65536),
      big,
      () => "a/b",
    );
    await expect(run).rejects.toMatchObject({ code: "payload_too_large" });
    expect(await env.BUCKET.head(key)).toBeNull();
  });

  it("hashes what it stores", async () => {
    const key = `test/${crypto.randomUUID()}`;
    const bytes = pattern(9999);
    const result = await streamToR2(env.BUCKET, key, chunksOf(bytes, 777), limits, () => "text/plain");
    expect(result).toEqual({ size: 9999, sha256: await sha256(bytes), contentType: "text/plain" });
    expect((await env.BUCKET.head(key))?.httpMetadata?.contentType).toBe("text/plain");
  });
});
