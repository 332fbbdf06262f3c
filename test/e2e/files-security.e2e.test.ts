import { randomBytes } from "node:crypto";
import { AwsClient } from "aws4fetch";
import { beforeAll, describe, expect, it } from "vitest";
import { type E2EUser, sharedWorker } from "./support/worker";

const MiB = 1024 * 1024;
const PNG = Buffer.from([
  0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52,
]);

const worker = sharedWorker();
let user: E2EUser;

async function call<T = Record<string, unknown>>(
  path: string,
  init: { method?: string; json?: unknown } = {},
) {
  const res = await fetch(`${worker.url}${path}`, {
    method: init.method ?? "GET",
    headers: {
      Authorization: `Bearer ${user.apiKey}`,
      ...(init.json !== undefined ? { "Content-Type": "application/json" } : {}),
    },
    body: init.json !== undefined ? JSON.stringify(init.json) : undefined,
  });
  return { status: res.status, body: (await res.json()) as T };
}

async function download(fileId: string) {
  const res = await fetch(`${worker.url}/api/files/${fileId}`, {
    headers: { Authorization: `Bearer ${user.apiKey}` },
  });
  return { type: res.headers.get("content-type"), bytes: Buffer.from(await res.arrayBuffer()) };
}

beforeAll(async () => {
  user = await worker.createUser("immutable");
});

describe("uploads against local R2's S3 endpoint", () => {
  it("a presigned PUT cannot change a file once it is confirmed", async () => {
    const presigned = await call<{
      upload_url: string;
      upload_headers: Record<string, string>;
      file_id: string;
    }>("/api/file/upload", { method: "POST", json: { type: "image/png", file_size: PNG.length } });
    expect(presigned.status).toBe(200);
    const put = (body: Buffer) =>
      fetch(presigned.body.upload_url, { method: "PUT", headers: presigned.body.upload_headers, body });
    expect((await put(PNG)).status).toBe(200);
    const confirmed = await call(`/api/files/${presigned.body.file_id}/confirm`, { method: "POST" });
    expect(confirmed.body).toMatchObject({ status: "ready", size: PNG.length });

    const other = Buffer.from(randomBytes(PNG.length));
    await put(other); // lands in staging, which no file is served from
    const again = await call(`/api/files/${presigned.body.file_id}/confirm`, { method: "POST" });
    expect(again.body).toMatchObject({ status: "ready", size: PNG.length });
    expect(await download(presigned.body.file_id)).toEqual({ type: "image/png", bytes: PNG });
  });

  it("a multipart part URL stops working once the upload is complete, and the size is checked", async () => {
    const size = 5 * MiB + 7;
    const started = await call<{
      file_id: string;
      parts: { part_number: number; size: number; upload_url: string }[];
    }>("/api/files/multipart", {
      method: "POST",
      json: { filename: "two.bin", content_type: "application/octet-stream", file_size: size },
    });
    expect(started.status).toBe(201);
    const bytes = randomBytes(size);
    const etags = [];
    let offset = 0;
    for (const part of started.body.parts) {
      const res = await fetch(part.upload_url, {
        method: "PUT",
        body: bytes.subarray(offset, offset + part.size),
      });
      expect(res.status).toBe(200);
      etags.push({ part_number: part.part_number, etag: res.headers.get("etag") ?? "" });
      offset += part.size;
    }
    const done = await call(`/api/files/${started.body.file_id}/multipart/complete`, {
      method: "POST",
      json: { parts: etags },
    });
    expect(done.body).toMatchObject({ status: "ready", size });
    const first = started.body.parts[0]!;
    const late = await fetch(first.upload_url, { method: "PUT", body: randomBytes(first.size) });
    expect(late.status).toBeGreaterThanOrEqual(400);
    expect((await download(started.body.file_id)).bytes.equals(bytes)).toBe(true);
  });
});

describe("the local S3 endpoint", () => {
  it("does not accept the credentials once fixed in wrangler.toml, nor made-up ones", async () => {
    for (const [accessKeyId, secretAccessKey] of [
      ["comfy-edge-local", "comfy-edge-local-secret"],
      ["local-0000000000000000", "0".repeat(64)],
    ] as const) {
      const client = new AwsClient({ accessKeyId, secretAccessKey, service: "s3", region: "auto" });
      const listing = await client.fetch(`${worker.url}/cdn-cgi/local/r2/s3/comfy-edge-files?list-type=2`);
      expect([401, 403], accessKeyId).toContain(listing.status);
    }
  });
});
